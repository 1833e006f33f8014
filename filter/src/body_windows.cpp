#include "bulwark/filter/body_windows.h"

#include <algorithm>
#include <cstring>

namespace bulwark::filter {

void BodyWindows::reset(std::vector<char>& buf, size_t window, std::string_view tail,
                        uint64_t start) {
  overlap_ = kOverlap;
  window_ = std::max(window, 2 * overlap_);
  buf_ = &buf;
  kept_ = std::min(tail.size(), overlap_);
  tail_.assign(tail.end() - static_cast<std::ptrdiff_t>(kept_), tail.end());
  filled_ = 0; // begin() sets it to kept_
  offset_ = start;
  begun_ = false;
}

void BodyWindows::begin() {
  if (buf_->size() < window_) {
    buf_->resize(window_);
  }
  if (kept_ > 0) {
    std::memcpy(buf_->data(), tail_.data(), kept_);
  }
  filled_ = kept_;
  std::vector<char>().swap(tail_);
  begun_ = true;
}

std::span<char> BodyWindows::space() {
  if (!begun_) {
    begin();
  }
  return std::span<char>(buf_->data() + filled_, window_ - filled_);
}

void BodyWindows::commit(size_t n) { filled_ = std::min(filled_ + n, window_); }

std::string_view BodyWindows::window() const { return {buf_->data(), filled_}; }

std::string_view BodyWindows::fresh() const {
  return {buf_->data() + kept_, filled_ - kept_};
}

void BodyWindows::advance() {
  offset_ += filled_ - kept_;
  const size_t keep = std::min(filled_, overlap_);
  std::memmove(buf_->data(), buf_->data() + filled_ - keep, keep);
  kept_ = keep;
  filled_ = keep;
}

namespace {

// Length of the text character at s[i] (1-4), or 0 when the byte starts binary data.
size_t textChar(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    return (c >= 0x20 && c != 0x7f) || c == '\t' || c == '\n' || c == '\r' ? 1 : 0;
  }
  size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    return 0;
  }
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) {
      return 0;
    }
  }
  return n;
}

} // namespace

std::string_view textOfWindow(std::string_view window, std::string& out, size_t minRun) {
  size_t i = 0;
  while (i < window.size()) {
    const size_t n = textChar(window, i);
    if (n == 0) {
      break;
    }
    i += n;
  }
  if (i == window.size()) {
    return window; // all text: inspected as it is
  }
  out.clear();
  size_t runStart = 0;
  bool binaryBefore = false;
  auto flush = [&](size_t end) {
    if (end - runStart >= minRun) {
      if (binaryBefore && !out.empty()) {
        out.push_back('\n');
      }
      out.append(window.substr(runStart, end - runStart));
    }
  };
  i = 0;
  while (i < window.size()) {
    const size_t n = textChar(window, i);
    if (n == 0) {
      flush(i);
      binaryBefore = true;
      runStart = ++i;
      continue;
    }
    i += n;
  }
  flush(window.size());
  return out;
}

} // namespace bulwark::filter

#include "bulwark/filter/body_windows.h"

#include "bulwark/detect/text.h"

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

std::string_view textOfWindow(std::string_view window, std::string& out, size_t minRun) {
  return detect::textOf(window, out, minRun);
}

} // namespace bulwark::filter

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
  // The tail may live in buf itself (the prefix buffer is reused): keep it before a resize
  // moves the storage, and memmove.
  std::vector<char> saved(tail.end() - static_cast<std::ptrdiff_t>(kept_), tail.end());
  if (buf.size() < window_) {
    buf.resize(window_);
  }
  if (kept_ > 0) {
    std::memmove(buf.data(), saved.data(), kept_);
  }
  filled_ = kept_;
  offset_ = start;
}

std::span<char> BodyWindows::space() {
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

} // namespace bulwark::filter

#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bulwark::detect::lang {

// Runs a detector over a whole value even when the detector looks at a bounded prefix (the SQL
// tokenizer reads 8 KiB and 128 tokens): a value longer than that is also scanned in windows
// (the last 4 KiB, and windows that start a little before syntax characters past the first
// window), so padding cannot push an attack out of sight. At most 16 detector runs per value.
template <typename Detector> uint32_t scanWhole(std::string_view low, Detector detect) {
  constexpr size_t kFirst = 8192;
  constexpr size_t kWindow = 4096;
  constexpr size_t kLead = 64;
  constexpr size_t kMaxWindows = 14;
  if (low.size() <= kFirst) {
    return detect(low);
  }
  if (const uint32_t r = detect(low.substr(0, kFirst)); r != 0) {
    return r;
  }
  // The tail (where padding pushes an attack), then windows at syntax characters in between,
  // at most kMaxWindows in all.
  if (const uint32_t r = detect(low.substr(low.size() - kWindow)); r != 0) {
    return r;
  }
  const size_t tailStart = low.size() - kWindow;
  size_t pos = kFirst - kLead;
  for (size_t windows = 0; windows < kMaxWindows && pos < tailStart; ++windows) {
    const size_t k = low.find_first_of("'\"`;|&<>()$#=", pos);
    if (k == std::string_view::npos || k >= tailStart) {
      break;
    }
    const size_t start = k > kLead ? k - kLead : 0;
    if (const uint32_t r = detect(low.substr(start, kWindow)); r != 0) {
      return r;
    }
    pos = start + kWindow - kLead;
  }
  return 0;
}

} // namespace bulwark::detect::lang

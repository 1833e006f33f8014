#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::filter {

// The body of a request past its buffered prefix, cut into windows for streaming inspection.
// Each window starts with the last `overlap` bytes of the one before (the prefix's tail for the
// first), so a payload that crosses a boundary is whole in one window as long as it is not
// longer than the overlap. The bytes of a window that were not in the one before ("fresh") are
// forwarded only after the window was inspected. Memory: one window, reused.
class BodyWindows {
public:
  static constexpr size_t kOverlap = 4096;

  // `window`: bytes inspected at once (at least 2 * overlap is used); `tail`: the end of what
  // was inspected before (its last `overlap` bytes start the first window; copied now);
  // `start`: the body offset of the first byte after it. `buf` holds the windows and must
  // outlive this object's use; it may hold `tail` itself, and is left untouched until the first
  // space() (the prefix in it is forwarded after reset), then resized, never shrunk.
  void reset(std::vector<char>& buf, size_t window, std::string_view tail, uint64_t start);

  // Where the next body bytes go, and how many arrived there.
  std::span<char> space();
  void commit(size_t n);

  std::string_view window() const; // what to inspect: overlap + fresh bytes
  std::string_view fresh() const;  // what to forward once the window passed
  uint64_t freshOffset() const { return offset_; } // body offset of fresh()'s first byte

  // The window was inspected and its fresh bytes forwarded: its end starts the next one.
  void advance();

private:
  void begin();

  std::vector<char>* buf_ = nullptr;
  std::vector<char> tail_; // the first window's overlap until begin() puts it into buf_
  size_t window_ = 0;
  size_t overlap_ = 0;
  size_t kept_ = 0;   // overlap bytes at the start of the buffer
  size_t filled_ = 0; // bytes in the buffer (kept_ included)
  uint64_t offset_ = 0;
  bool begun_ = false;
};

// The text of a window for the engine (detect::textOf): a window of text is returned as it
// is; in a window with binary bytes, the runs of at least `minRun` text characters are joined
// with '\n'. `out` holds the result in that case.
std::string_view textOfWindow(std::string_view window, std::string& out, size_t minRun = 16);

} // namespace bulwark::filter

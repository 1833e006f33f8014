#pragma once

// Byte classes of the HTTP/1 request head and the scans that find the first byte outside them,
// eight bytes at a time (a word is looked at byte by byte only when it may hold such a byte).

#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace bulwark::filter::http1 {

// Request-target characters: visible ASCII; bytes >= 0x80 are tolerated as many servers do.
inline bool isTargetChar(unsigned char c) { return c > 0x20 && c != 0x7F; }

// Field-value characters: VCHAR, SP, HTAB, obs-text. No CR, LF, NUL or other controls.
inline bool isValueChar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7F); }

// Whether the eight bytes of `w` may hold a byte below `below` (at most 0x80) or equal to 0x7F.
// A byte below `below` sets its high bit in `low` (exact for bytes < 0x80; bytes >= 0x80 are
// masked by ~w); a byte equal to 0x7F is a zero byte of w ^ 0x7F..7F.
inline bool wordMayHoldControl(uint64_t w, uint64_t below) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t low = (w - kOnes * below) & ~w & kHigh;
  const uint64_t del = w ^ (kOnes * 0x7F);
  const uint64_t isDel = (del - kOnes) & ~del & kHigh;
  return (low | isDel) != 0;
}

// The offset of the first byte of `v` that is not a field-value character, or v.size().
// Sixteen bytes at a time where SSE2 is there, then eight; HTAB is below 0x20, so a block
// holding one is checked byte by byte.
inline size_t firstNonValueChar(std::string_view v) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i del = _mm_set1_epi8(0x7F);
  for (; i + 16 <= v.size(); i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v.data() + i));
    // max(x, 0x20) == x exactly for the (unsigned) bytes >= 0x20
    const __m128i printable = _mm_cmpeq_epi8(_mm_max_epu8(x, space), x);
    const __m128i isDel = _mm_cmpeq_epi8(x, del);
    if (_mm_movemask_epi8(_mm_andnot_si128(isDel, printable)) != 0xFFFF) {
      for (size_t j = i; j < i + 16; ++j) {
        if (!isValueChar(static_cast<unsigned char>(v[j]))) {
          return j;
        }
      }
    }
  }
#endif
  for (; i + 8 <= v.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, v.data() + i, 8);
    if (wordMayHoldControl(w, 0x20)) {
      for (size_t j = i; j < i + 8; ++j) {
        if (!isValueChar(static_cast<unsigned char>(v[j]))) {
          return j;
        }
      }
    }
  }
  for (; i < v.size(); ++i) {
    if (!isValueChar(static_cast<unsigned char>(v[i]))) {
      return i;
    }
  }
  return v.size();
}

// The offset of the first CRLF at or after `from`, or npos: what find("\r\n", from) returns,
// with memchr jumping from one CR to the next.
inline size_t findCrlf(std::string_view s, size_t from) {
  while (from < s.size()) {
    const void* cr = std::memchr(s.data() + from, '\r', s.size() - from);
    if (cr == nullptr) {
      return std::string_view::npos;
    }
    const size_t i = static_cast<size_t>(static_cast<const char*>(cr) - s.data());
    if (i + 1 < s.size() && s[i + 1] == '\n') {
      return i;
    }
    from = i + 1;
  }
  return std::string_view::npos;
}

// The offset of the first byte at or after `from` that is not a request-target character, or
// line.size().
inline size_t endOfTarget(std::string_view line, size_t from) {
  size_t i = from;
  for (; i + 8 <= line.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, line.data() + i, 8);
    if (wordMayHoldControl(w, 0x21)) {
      break; // the end is in this word
    }
  }
  while (i < line.size() && isTargetChar(static_cast<unsigned char>(line[i]))) ++i;
  return i;
}

} // namespace bulwark::filter::http1

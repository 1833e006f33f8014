#pragma once

#include <cstdint>
#include <string>

// The one UTF-8 encoder of the decoders (percent %uXXXX, entities, escapes, UTF-16).
namespace bulwark::detect::internal {

// The replacement character: what a decoder writes for a code point it must not produce.
inline constexpr uint32_t kReplacement = 0xFFFD;

// Appends the UTF-8 encoding of cp to out. A decoded NUL (an escaped "\u0000", "&#0;",
// "%u0000") becomes U+FFFD, so an escape never cuts a value short in a C string or in a
// back end that stops at NUL; a value past U+10FFFF (no such code point) also becomes U+FFFD
// rather than vanishing, so the decoded text keeps a mark where the escape was. Surrogate
// code units are written as they are (the decoders pair them first).
inline void appendUtf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF) {
    cp = kReplacement;
  }
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    const char b[2] = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    out.append(b, 2);
  } else if (cp < 0x10000) {
    const char b[3] = {static_cast<char>(0xE0 | (cp >> 12)),
                       static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                       static_cast<char>(0x80 | (cp & 0x3F))};
    out.append(b, 3);
  } else {
    const char b[4] = {static_cast<char>(0xF0 | (cp >> 18)),
                       static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
                       static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                       static_cast<char>(0x80 | (cp & 0x3F))};
    out.append(b, 4);
  }
}

} // namespace bulwark::detect::internal

#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bulwark::detect {

enum class BodyDecode { None, Decoded, Truncated, Failed, Unsupported };

// Decodes a request body by its Content-Encoding (gzip, x-gzip, deflate — zlib-wrapped or raw —,
// br;
// a list such as "gzip, identity" is applied right to left). Output stops at maxOut bytes and
// when it would exceed maxRatio times the input (compression bombs): Truncated, with what was
// decoded so far in out. Cheap check first: a body that does not start like the named encoding
// is Failed without inflating. None: no encoding or identity.
BodyDecode decodeContentEncoding(std::string_view encoding, std::string_view body, size_t maxOut,
                                 size_t maxRatio, std::string& out);

} // namespace bulwark::detect

namespace bulwark::detect {

// What a body or an uploaded part is: text (inspected with every detector), or binary data
// (a known file signature, or bytes that are not text: NULs, C0 controls, invalid UTF-8).
// kind names the signature ("png", "zip", ...), "utf16" for UTF-16 text, or "bytes" for data
// without one; it is empty for text.
struct BodyShape {
  bool binary = false;
  std::string_view kind;
};
BodyShape classifyBody(std::string_view data);

// The text inside binary data, as the `strings` tool reads it: runs of printable ASCII (tab,
// CR, LF, valid UTF-8 sequences included) of at least minRun characters, and runs of ASCII
// written as UTF-16LE/BE (decoded). Each run is passed to emit; at most maxRuns runs.
// Returns the number of runs emitted.
template <typename Emit>
size_t textRuns(std::string_view data, size_t minRun, size_t maxRuns, std::string& scratch,
                Emit&& emit);

namespace internal {
// Length of the text character (printable ASCII, \t\r\n, or a valid UTF-8 sequence) at p,
// 0 when the byte there does not start one.
size_t textCharAt(std::string_view s, size_t p);
} // namespace internal

// The 8-bit runs of textRuns only (the bytes as they are, no UTF-16): each run of at least
// minRun text characters is passed to emit; at most maxRuns. Returns the number emitted.
template <typename Emit>
size_t textRuns8(std::string_view data, size_t minRun, size_t maxRuns, Emit&& emit) {
  size_t runs = 0;
  const size_t n = data.size();
  for (size_t i = 0; i < n && runs < maxRuns;) {
    size_t j = i;
    size_t chars = 0;
    while (j < n) {
      const size_t len = internal::textCharAt(data, j);
      if (len == 0) {
        break;
      }
      j += len;
      ++chars;
    }
    if (chars >= minRun) {
      emit(data.substr(i, j - i));
      ++runs;
    }
    i = j == i ? i + 1 : j;
  }
  return runs;
}

template <typename Emit>
size_t textRuns(std::string_view data, size_t minRun, size_t maxRuns, std::string& scratch,
                Emit&& emit) {
  size_t runs = textRuns8(data, minRun, maxRuns, emit);
  const size_t n = data.size();
  // UTF-16 runs: an ASCII character then a NUL (LE) or a NUL then the character (BE), at
  // either byte alignment.
  for (size_t start = 0; start < 2; ++start) {
    for (const bool le : {true, false}) {
      scratch.clear();
      auto flush = [&] {
        if (scratch.size() >= minRun && runs < maxRuns) {
          emit(std::string_view{scratch});
          ++runs;
        }
        scratch.clear();
      };
      for (size_t i = start; i + 1 < n && runs < maxRuns; i += 2) {
        const auto a = static_cast<unsigned char>(data[i]);
        const auto b = static_cast<unsigned char>(data[i + 1]);
        const unsigned char c = le ? a : b;
        const unsigned char z = le ? b : a;
        if (z == 0 && ((c >= 0x20 && c < 0x7f) || c == '\t' || c == '\r' || c == '\n')) {
          scratch.push_back(static_cast<char>(c));
        } else {
          flush();
        }
      }
      flush();
    }
  }
  return runs;
}

} // namespace bulwark::detect

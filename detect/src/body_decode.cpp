#include "body_decode.h"

#include "bulwark/detect/text.h"

#include <brotli/decode.h>
#include <zlib.h>

#include <algorithm>

#include "detectors.h"

namespace bulwark::detect {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// windowBits: 15 + 16 gzip, 15 zlib, -15 raw deflate.
BodyDecode inflateWith(std::string_view in, int windowBits, size_t limit, std::string& out) {
  z_stream zs{};
  if (inflateInit2(&zs, windowBits) != Z_OK) {
    return BodyDecode::Failed;
  }
  out.clear();
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(std::min<size_t>(in.size(), 0x7fffffff));
  char buf[16384];
  BodyDecode result = BodyDecode::Decoded;
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t got = sizeof buf - zs.avail_out;
    const size_t room = limit - out.size();
    out.append(buf, std::min(got, room));
    if (got > room) {
      result = BodyDecode::Truncated;
      break;
    }
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members: continue with the next one.
      if (zs.avail_in > 0 && windowBits > 15 && inflateReset(&zs) == Z_OK) {
        continue;
      }
      break;
    }
    if (rc != Z_OK) {
      // A truncated stream (body prefix) still yields what was inflated.
      result = out.empty() ? BodyDecode::Failed
                           : (rc == Z_BUF_ERROR ? BodyDecode::Truncated : BodyDecode::Failed);
      break;
    }
    if (out.size() >= limit) {
      result = BodyDecode::Truncated;
      break;
    }
  }
  inflateEnd(&zs);
  return result;
}

// Brotli has no magic number: the stream is decoded until it ends, fails or passes the limit.
BodyDecode brotliWith(std::string_view in, size_t limit, std::string& out) {
  BrotliDecoderState* st = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  if (st == nullptr) {
    return BodyDecode::Failed;
  }
  out.clear();
  const auto* next = reinterpret_cast<const uint8_t*>(in.data());
  size_t avail = in.size();
  char buf[16384];
  BodyDecode result = BodyDecode::Decoded;
  for (;;) {
    auto* o = reinterpret_cast<uint8_t*>(buf);
    size_t room = sizeof buf;
    const BrotliDecoderResult rc = BrotliDecoderDecompressStream(st, &avail, &next, &room, &o, nullptr);
    const size_t got = sizeof buf - room;
    const size_t left = limit - out.size();
    out.append(buf, std::min(got, left));
    if (got > left || (out.size() >= limit && rc != BROTLI_DECODER_RESULT_SUCCESS)) {
      result = BodyDecode::Truncated;
      break;
    }
    if (rc == BROTLI_DECODER_RESULT_SUCCESS) {
      break;
    }
    if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
      continue;
    }
    // NEEDS_MORE_INPUT: a body prefix, what was decoded is kept; ERROR: not brotli.
    result = rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT && !out.empty() ? BodyDecode::Truncated
                                                                          : BodyDecode::Failed;
    break;
  }
  BrotliDecoderDestroyInstance(st);
  return result;
}

} // namespace

BodyDecode decodeContentEncoding(std::string_view encoding, std::string_view body, size_t maxOut,
                                 size_t maxRatio, std::string& out) {
  // Codings are applied in the order listed; decode the last one first. Only one non-identity
  // coding is decoded (stacked compression is not something clients send).
  std::string_view coding;
  size_t codings = 0;
  for (size_t i = 0; i <= encoding.size();) {
    size_t e = encoding.find(',', i);
    if (e == std::string_view::npos) {
      e = encoding.size();
    }
    const std::string_view c = trim(encoding.substr(i, e - i));
    if (!c.empty() && !internal::iequals(c, "identity")) {
      coding = c;
      ++codings;
    }
    i = e + 1;
  }
  if (codings == 0 || body.empty()) {
    return BodyDecode::None;
  }
  if (codings > 1) {
    return BodyDecode::Unsupported;
  }
  const size_t limit = std::min(maxOut, std::max<size_t>(body.size() * maxRatio, 4096));
  const auto b0 = static_cast<unsigned char>(body[0]);
  const auto b1 = body.size() > 1 ? static_cast<unsigned char>(body[1]) : 0;
  if (internal::iequals(coding, "gzip") || internal::iequals(coding, "x-gzip")) {
    if (b0 != 0x1f || b1 != 0x8b) {
      return BodyDecode::Failed; // not gzip: the body is inspected as sent
    }
    return inflateWith(body, 15 + 16, limit, out);
  }
  if (internal::iequals(coding, "deflate")) {
    // zlib header (CMF 0x78 with a valid check) or raw deflate.
    const bool zlibHeader = (b0 & 0x0f) == 8 && ((b0 << 8) | b1) % 31 == 0;
    return inflateWith(body, zlibHeader ? 15 : -15, limit, out);
  }
  if (internal::iequals(coding, "br")) {
    return brotliWith(body, limit, out);
  }
  return BodyDecode::Unsupported;
}

} // namespace bulwark::detect

namespace bulwark::detect {

namespace internal {

size_t textCharAt(std::string_view s, size_t p) {
  const auto c = static_cast<unsigned char>(s[p]);
  if ((c >= 0x20 && c < 0x7f) || c == '\t' || c == '\r' || c == '\n') {
    return 1;
  }
  size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    lo = c == 0xe0 ? 0xa0 : 0x80; // no overlong forms
    hi = c == 0xed ? 0x9f : 0xbf; // no surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    lo = c == 0xf0 ? 0x90 : 0x80;
    hi = c == 0xf4 ? 0x8f : 0xbf;
  } else {
    return 0;
  }
  if (p + len > s.size()) {
    return 0;
  }
  const auto c1 = static_cast<unsigned char>(s[p + 1]);
  if (c1 < lo || c1 > hi) {
    return 0;
  }
  for (size_t k = 2; k < len; ++k) {
    const auto ck = static_cast<unsigned char>(s[p + k]);
    if (ck < 0x80 || ck > 0xbf) {
      return 0;
    }
  }
  return len;
}

} // namespace internal

namespace {

struct Signature {
  std::string_view kind;
  size_t offset;
  std::string_view magic;
};

// File signatures whose first bytes are not text, or text followed by binary by format.
constexpr Signature kSignatures[] = {
    {"png", 0, "\x89PNG\r\n\x1a\n"},
    {"jpeg", 0, "\xff\xd8\xff"},
    {"gif", 0, "GIF87a"},
    {"gif", 0, "GIF89a"},
    {"webp", 8, "WEBP"},
    {"bmp", 0, "BM"},
    {"tiff", 0, std::string_view{"II*\0", 4}},
    {"tiff", 0, std::string_view{"MM\0*", 4}},
    {"ico", 0, std::string_view{"\0\0\1\0", 4}},
    {"zip", 0, "PK\x03\x04"},
    {"zip", 0, "PK\x05\x06"},
    {"gzip", 0, "\x1f\x8b"},
    {"bzip2", 0, "BZh"},
    {"xz", 0, "\xfd" "7zXZ"},
    {"zstd", 0, "\x28\xb5\x2f\xfd"},
    {"7z", 0, "7z\xbc\xaf\x27\x1c"},
    {"rar", 0, "Rar!\x1a\x07"},
    {"pdf", 0, "%PDF-"},
    {"elf", 0, "\x7f" "ELF"},
    {"wasm", 0, std::string_view{"\0asm", 4}},
    {"mp4", 4, "ftyp"},
    {"ogg", 0, "OggS"},
    {"sqlite", 0, "SQLite format 3"},
};

} // namespace

BodyShape classifyBody(std::string_view data) {
  if (data.empty()) {
    return {};
  }
  // A signature alone is weak for short prefixes ("BM", "BZh" start words): those count only
  // when the bytes after them are not text either.
  std::string_view signature;
  for (const auto& s : kSignatures) {
    if (data.size() >= s.offset + s.magic.size() &&
        data.substr(s.offset, s.magic.size()) == s.magic) {
      signature = s.kind;
      break;
    }
  }
  // Bytes that text does not hold: NUL, C0 controls other than \t \n \v \f \r and ESC, DEL,
  // and bytes that are not part of a valid UTF-8 sequence.
  size_t nonText = 0;
  size_t nul = 0;
  size_t nulEven = 0;
  const size_t n = data.size();
  for (size_t i = 0; i < n;) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (c >= 0x20 && c < 0x7f) {
      ++i;
      continue;
    }
    if (c < 0x80) {
      if (c == 0) {
        ++nul;
        nulEven += (i % 2 == 0) ? 1 : 0;
      }
      const bool space = c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' ||
                         c == 0x1b;
      nonText += space ? 0 : 1;
      ++i;
      continue;
    }
    const size_t len = internal::textCharAt(data, i);
    if (len == 0) {
      ++nonText;
      ++i;
    } else {
      i += len;
    }
  }
  // UTF-16 text: a NUL in nearly every other byte, the same parity.
  if (n >= 8 && nul * 5 >= n * 2 && (nulEven * 10 >= nul * 9 || nulEven * 10 <= nul)) {
    const size_t other = n - nul;
    if (nonText - nul <= other / 10) {
      return {true, "utf16"};
    }
  }
  const bool strongSignature = !signature.empty() && signature != "bmp" && signature != "bzip2";
  if (strongSignature && nonText > 0) {
    return {true, signature};
  }
  // Text with a stray control byte stays text; binary data has many: one in eight.
  if (nonText * 8 >= n && nonText >= 2) {
    return {true, signature.empty() ? std::string_view{"bytes"} : signature};
  }
  return {};
}

std::string_view textOf(std::string_view data, std::string& out, size_t minRun) {
  size_t i = 0;
  while (i < data.size()) {
    const size_t n = internal::textCharAt(data, i);
    if (n == 0) {
      break;
    }
    i += n;
  }
  if (i == data.size()) {
    return data; // all text: inspected as it is
  }
  out.clear();
  textRuns8(data, minRun, data.size(), [&](std::string_view run) {
    if (!out.empty()) {
      out.push_back('\n');
    }
    out.append(run);
  });
  return out;
}

} // namespace bulwark::detect

#include "body_decode.h"

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

#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace bulwark::filter::http1 {

// Bounds of the chunked framing: what one chunk-size line and the trailer section may use.
struct ChunkLimits {
  size_t maxLine = 4096;          // chunk-size line including extensions
  size_t maxTrailerBytes = 16384; // all trailer field lines together
  uint32_t maxTrailers = 32;
  uint64_t maxBody = 0; // 0 = unlimited (decoded payload bytes)
};

// Decodes one HTTP/1.1 message body (RFC 9112 section 6/7) from the bytes received so far,
// without ever holding more than a chunk-size line or the trailer section. The decoder never
// consumes bytes past the end of its message (a pipelined next request stays in the caller's
// buffer). Trailer fields are validated and kept (bounded), never merged into a head.
class BodyDecoder {
public:
  enum class Framing : uint8_t { None, Length, Chunked, UntilClose };
  enum class Error : uint8_t {
    None,
    BadChunk,         // chunk-size line or CRLF after the data malformed
    ChunkLineTooLong, // chunk-size line over ChunkLimits::maxLine
    BadTrailer,       // a trailer line that is not a valid field line
    TrailerTooLarge,  // trailer section over maxTrailerBytes / maxTrailers
    BodyTooLarge,     // payload over maxBody
  };

  static BodyDecoder none();
  static BodyDecoder length(uint64_t n);
  static BodyDecoder chunked(const ChunkLimits& limits);
  static BodyDecoder untilClose();

  struct Step {
    size_t consumed = 0; // input bytes used (drop them from the input buffer)
    size_t produced = 0; // payload bytes written to `out`
  };

  // Consumes framing and copies payload into `out` until the message ends, an error is found,
  // `out` is full (framing after the last payload byte is still consumed) or `in` is used up.
  Step decode(std::string_view in, std::span<char> out);

  // The peer closed its side: completes a close-delimited body.
  void endOfInput() {
    if (framing_ == Framing::UntilClose) {
      done_ = true;
    }
  }

  bool done() const { return done_; }
  Error error() const { return error_; }
  Framing framing() const { return framing_; }
  bool chunkedFraming() const { return framing_ == Framing::Chunked; }
  uint64_t payloadBytes() const { return total_; }
  // Trailer field lines as received, each ending in CRLF (empty when there were none).
  const std::string& trailers() const { return trailers_; }

private:
  enum class State : uint8_t { SizeLine, Data, DataCrlf, Trailer, Done };

  bool fail(Error e) {
    error_ = e;
    return false;
  }
  bool finishSizeLine();
  bool finishTrailerLine();

  Framing framing_ = Framing::None;
  State state_ = State::Done;
  Error error_ = Error::None;
  bool done_ = true;
  ChunkLimits limits_{};
  uint64_t remaining_ = 0; // Length: bytes left; Chunked: bytes left of this chunk
  uint64_t total_ = 0;
  std::string line_;     // the chunk-size or trailer line being collected
  std::string trailers_; // validated trailer lines
  uint32_t trailerCount_ = 0;
};

std::string_view bodyErrorLabel(BodyDecoder::Error e);

} // namespace bulwark::filter::http1

#include "bulwark/filter/body_decoder.h"

#include <algorithm>
#include <cstring>

#include "bulwark/filter/http_head.h"

namespace bulwark::filter::http1 {
namespace {

bool isWs(char c) { return c == ' ' || c == '\t'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool isToken(char c) { return isTchar(static_cast<unsigned char>(c)); }

// Field-value and quoted-string text: HTAB, SP, visible ASCII, obs-text.
bool isText(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7F);
}

void skipWs(std::string_view s, size_t& p) {
  while (p < s.size() && isWs(s[p])) ++p;
}

bool skipToken(std::string_view s, size_t& p) {
  const size_t start = p;
  while (p < s.size() && isToken(s[p])) ++p;
  return p > start;
}

// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE; must close on this line.
bool skipQuoted(std::string_view s, size_t& p) {
  ++p; // opening quote
  while (p < s.size()) {
    const char c = s[p];
    if (c == '"') {
      ++p;
      return true;
    }
    if (c == '\\') {
      if (p + 1 >= s.size() || !isText(s[p + 1])) {
        return false;
      }
      p += 2;
      continue;
    }
    if (!isText(c)) {
      return false;
    }
    ++p;
  }
  return false; // unterminated
}

} // namespace

std::string_view bodyErrorLabel(BodyDecoder::Error e) {
  switch (e) {
  case BodyDecoder::Error::None:
    return "none";
  case BodyDecoder::Error::BadChunk:
    return "bad_chunk";
  case BodyDecoder::Error::ChunkLineTooLong:
    return "chunk_line_too_long";
  case BodyDecoder::Error::BadTrailer:
    return "bad_trailer";
  case BodyDecoder::Error::TrailerTooLarge:
    return "trailer_too_large";
  case BodyDecoder::Error::BodyTooLarge:
    return "body_too_large";
  }
  return "unknown";
}

BodyDecoder BodyDecoder::none() { return {}; }

BodyDecoder BodyDecoder::length(uint64_t n) {
  BodyDecoder d;
  d.framing_ = Framing::Length;
  d.remaining_ = n;
  d.done_ = n == 0;
  d.state_ = n == 0 ? State::Done : State::Data;
  return d;
}

BodyDecoder BodyDecoder::chunked(const ChunkLimits& limits) {
  BodyDecoder d;
  d.framing_ = Framing::Chunked;
  d.limits_ = limits;
  d.done_ = false;
  d.state_ = State::SizeLine;
  return d;
}

BodyDecoder BodyDecoder::untilClose() {
  BodyDecoder d;
  d.framing_ = Framing::UntilClose;
  d.done_ = false;
  d.state_ = State::Data;
  return d;
}

// chunk-size [ BWS *( ";" BWS ext-name [ BWS "=" BWS ext-value ] ) ] with the CRLF removed.
bool BodyDecoder::finishSizeLine() {
  const std::string_view s = line_;
  size_t p = 0;
  uint64_t size = 0;
  while (p < s.size() && hexValue(s[p]) >= 0) {
    if (size >> 60) {
      return fail(Error::BadChunk); // more than 2^64
    }
    size = size * 16 + static_cast<uint64_t>(hexValue(s[p]));
    ++p;
  }
  if (p == 0) {
    return fail(Error::BadChunk);
  }
  skipWs(s, p);
  while (p < s.size()) {
    if (s[p] != ';') {
      return fail(Error::BadChunk);
    }
    ++p;
    skipWs(s, p);
    if (!skipToken(s, p)) {
      return fail(Error::BadChunk);
    }
    skipWs(s, p);
    if (p < s.size() && s[p] == '=') {
      ++p;
      skipWs(s, p);
      if (p < s.size() && s[p] == '"') {
        if (!skipQuoted(s, p)) {
          return fail(Error::BadChunk);
        }
      } else if (!skipToken(s, p)) {
        return fail(Error::BadChunk);
      }
      skipWs(s, p);
    }
  }
  line_.clear();
  if (size == 0) {
    state_ = State::Trailer;
    return true;
  }
  if (limits_.maxBody != 0 && (size > limits_.maxBody || total_ > limits_.maxBody - size)) {
    return fail(Error::BodyTooLarge);
  }
  remaining_ = size;
  state_ = State::Data;
  return true;
}

bool BodyDecoder::finishTrailerLine() {
  const std::string_view s = line_;
  if (s.empty()) {
    line_.clear();
    state_ = State::Done;
    done_ = true;
    return true;
  }
  size_t p = 0;
  if (!skipToken(s, p) || p >= s.size() || s[p] != ':') {
    return fail(Error::BadTrailer); // includes obs-fold (leading whitespace)
  }
  for (++p; p < s.size(); ++p) {
    if (!isText(s[p])) {
      return fail(Error::BadTrailer);
    }
  }
  if (++trailerCount_ > limits_.maxTrailers) {
    return fail(Error::TrailerTooLarge);
  }
  trailers_.append(s);
  trailers_ += "\r\n";
  line_.clear();
  return true;
}

BodyDecoder::Step BodyDecoder::decode(std::string_view in, std::span<char> out) {
  Step st;
  while (!done_ && error_ == Error::None && st.consumed < in.size()) {
    const std::string_view rest = in.substr(st.consumed);
    switch (state_) {
    case State::Data: {
      const size_t room = out.size() - st.produced;
      if (room == 0) {
        return st;
      }
      size_t n = std::min(rest.size(), room);
      if (framing_ != Framing::UntilClose) {
        n = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
        remaining_ -= n;
      }
      std::memcpy(out.data() + st.produced, rest.data(), n);
      st.produced += n;
      st.consumed += n;
      total_ += n;
      if (framing_ == Framing::Length && remaining_ == 0) {
        state_ = State::Done;
        done_ = true;
      } else if (framing_ == Framing::Chunked && remaining_ == 0) {
        state_ = State::DataCrlf;
      }
      break;
    }
    case State::DataCrlf: {
      // CRLF after the chunk data, possibly split across reads (line_ holds a seen CR).
      const char c = rest[0];
      ++st.consumed;
      if (line_.empty() && c == '\r') {
        line_.push_back('\r');
      } else if (line_ == "\r" && c == '\n') {
        line_.clear();
        state_ = State::SizeLine;
      } else {
        fail(Error::BadChunk);
      }
      break;
    }
    case State::SizeLine:
    case State::Trailer: {
      const bool trailer = state_ == State::Trailer;
      const void* nl = std::memchr(rest.data(), '\n', rest.size());
      const size_t take = nl ? static_cast<size_t>(static_cast<const char*>(nl) - rest.data()) + 1
                             : rest.size();
      const size_t cap = trailer ? limits_.maxTrailerBytes - std::min(limits_.maxTrailerBytes,
                                                                       trailers_.size())
                                 : limits_.maxLine;
      if (line_.size() + take > cap + 2) {
        fail(trailer ? Error::TrailerTooLarge : Error::ChunkLineTooLong);
        break;
      }
      line_.append(rest.data(), take);
      st.consumed += take;
      if (!nl) {
        break;
      }
      // A complete line: CRLF only, no other CR inside.
      if (line_.size() < 2 || line_[line_.size() - 2] != '\r') {
        fail(trailer ? Error::BadTrailer : Error::BadChunk);
        break;
      }
      line_.resize(line_.size() - 2);
      if (line_.find('\r') != std::string::npos) {
        fail(trailer ? Error::BadTrailer : Error::BadChunk);
        break;
      }
      if (trailer) {
        finishTrailerLine();
      } else {
        finishSizeLine();
      }
      break;
    }
    case State::Done:
      done_ = true;
      break;
    }
  }
  return st;
}

} // namespace bulwark::filter::http1

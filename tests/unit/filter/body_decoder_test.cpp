#include "bulwark/filter/body_decoder.h"

#include <string>

#include <gtest/gtest.h>

namespace bulwark::filter::http1 {
namespace {

using E = BodyDecoder::Error;

struct Result {
  std::string payload;
  size_t consumed = 0;
  bool done = false;
  E error = E::None;
};

// Feeds `wire` in pieces of `step` bytes (the whole input again from the first unconsumed byte,
// as the proxy's buffer does), with an output window of `window` bytes per call.
Result run(BodyDecoder d, std::string_view wire, size_t step = 1 << 20, size_t window = 1 << 20) {
  Result r;
  std::string buf;
  size_t fed = 0;
  std::string out(window, '\0');
  while (!d.done() && d.error() == E::None) {
    if (fed < wire.size()) {
      const size_t k = std::min(step, wire.size() - fed);
      buf.append(wire.substr(fed, k));
      fed += k;
    } else if (buf.empty()) {
      break;
    }
    for (;;) {
      const auto st = d.decode(buf, std::span(out.data(), out.size()));
      r.payload.append(out.data(), st.produced);
      buf.erase(0, st.consumed);
      r.consumed += st.consumed;
      if (st.consumed == 0 || d.done() || d.error() != E::None) {
        break;
      }
    }
    if (fed >= wire.size() && !d.done() && d.error() == E::None) {
      const auto st = d.decode(buf, std::span(out.data(), out.size()));
      if (st.consumed == 0) {
        break;
      }
      r.payload.append(out.data(), st.produced);
      buf.erase(0, st.consumed);
      r.consumed += st.consumed;
    }
  }
  r.done = d.done();
  r.error = d.error();
  return r;
}

const ChunkLimits kLim{};

TEST(BodyDecoder, ContentLengthStopsAtTheEndOfTheMessage) {
  auto r = run(BodyDecoder::length(5), "helloGET / HTTP/1.1\r\n");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.payload, "hello");
  EXPECT_EQ(r.consumed, 5u);
  EXPECT_TRUE(BodyDecoder::length(0).done());
  EXPECT_TRUE(BodyDecoder::none().done());
}

TEST(BodyDecoder, ChunkedAnySplitAnyWindow) {
  const std::string wire = "5\r\nhello\r\n6;a=b;c=\"x;y\\\"z\" \r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
  for (size_t step = 1; step <= 8; ++step) {
    for (size_t window : {1u, 3u, 64u}) {
      auto r = run(BodyDecoder::chunked(kLim), wire, step, window);
      EXPECT_TRUE(r.done) << step << " " << window;
      EXPECT_EQ(r.error, E::None);
      EXPECT_EQ(r.payload, "hello world");
      EXPECT_EQ(r.consumed, wire.size() - 4) << "must not eat the next request";
    }
  }
}

TEST(BodyDecoder, TrailersAreKeptApartAndValidated) {
  BodyDecoder d = BodyDecoder::chunked(kLim);
  std::string out(16, '\0');
  const std::string wire = "1\r\na\r\n0\r\nHost: evil\r\nX-A:  b \r\n\r\n";
  const auto st = d.decode(wire, std::span(out.data(), out.size()));
  EXPECT_TRUE(d.done());
  EXPECT_EQ(st.consumed, wire.size());
  EXPECT_EQ(d.trailers(), "Host: evil\r\nX-A:  b \r\n");

  EXPECT_EQ(run(BodyDecoder::chunked(kLim), "0\r\n folded\r\n\r\n").error, E::BadTrailer);
  EXPECT_EQ(run(BodyDecoder::chunked(kLim), "0\r\nNo colon\r\n\r\n").error, E::BadTrailer);
  EXPECT_EQ(run(BodyDecoder::chunked(kLim), "0\r\nX: a\x01\r\n\r\n").error, E::BadTrailer);
  EXPECT_EQ(run(BodyDecoder::chunked(kLim), "0\r\nX: a\nY: b\r\n\r\n").error, E::BadTrailer);
}

TEST(BodyDecoder, OversizeTrailerIsRefusedWithoutBufferingIt) {
  const std::string big = "0\r\nX-Big: " + std::string(70000, 'a') + "\r\n\r\n";
  for (size_t step : {1000u, 100000u}) {
    auto r = run(BodyDecoder::chunked(kLim), big, step);
    EXPECT_EQ(r.error, E::TrailerTooLarge);
    EXPECT_LE(r.consumed, kLim.maxTrailerBytes + 16);
  }
  ChunkLimits few = kLim;
  few.maxTrailers = 2;
  EXPECT_EQ(run(BodyDecoder::chunked(few), "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n").error,
            E::TrailerTooLarge);
}

TEST(BodyDecoder, MalformedChunkFraming) {
  const char* bad[] = {
      "x\r\n",                 // no hex digits
      "5 5\r\nhello\r\n",      // junk after the size
      "5\nhello\r\n",          // bare LF
      "5\r\nhelloXX0\r\n\r\n", // no CRLF after the data
      "5;\r\nhello\r\n",       // empty extension name
      "5;a=\"open\r\nhello\r\n0\r\n\r\n", // unterminated quoted string
      "5;a=\r\nhello\r\n",     // empty extension value
      "-5\r\n",
      "11111111111111111\r\n", // over 2^64
      "5\r\r\nhello\r\n",
  };
  for (const char* b : bad) {
    auto r = run(BodyDecoder::chunked(kLim), b);
    EXPECT_EQ(r.error, E::BadChunk) << b;
    EXPECT_FALSE(r.done) << b;
  }
  auto r = run(BodyDecoder::chunked(kLim), "5;" + std::string(5000, 'a') + "\r\n");
  EXPECT_EQ(r.error, E::ChunkLineTooLong);
  EXPECT_LE(r.consumed, kLim.maxLine + 2);
}

TEST(BodyDecoder, BodyLimitCountsChunks) {
  ChunkLimits lim = kLim;
  lim.maxBody = 8;
  EXPECT_EQ(run(BodyDecoder::chunked(lim), "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n").error,
            E::BodyTooLarge);
  EXPECT_TRUE(run(BodyDecoder::chunked(lim), "4\r\nhell\r\n4\r\nowor\r\n0\r\n\r\n").done);
}

TEST(BodyDecoder, UntilCloseEndsAtEndOfInput) {
  BodyDecoder d = BodyDecoder::untilClose();
  std::string out(8, '\0');
  auto st = d.decode("abc", std::span(out.data(), out.size()));
  EXPECT_EQ(st.produced, 3u);
  EXPECT_FALSE(d.done());
  d.endOfInput();
  EXPECT_TRUE(d.done());
}

} // namespace
} // namespace bulwark::filter::http1

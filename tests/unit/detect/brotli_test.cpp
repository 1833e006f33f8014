// Content-Encoding: br request bodies: decoded and inspected like gzip/deflate, with the same
// size and ratio caps against decompression bombs.
#include <brotli/encode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "body_decode.h"
#include "bulwark/detect/engine.h"
#include "registered_rules.h"

namespace bulwark::detect {
namespace {

std::string brotli(std::string_view in, int quality = 9) {
  size_t size = BrotliEncoderMaxCompressedSize(in.size()) + 64;
  std::string out(size, '\0');
  EXPECT_TRUE(BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC,
                                    in.size(), reinterpret_cast<const uint8_t*>(in.data()), &size,
                                    reinterpret_cast<uint8_t*>(out.data())));
  out.resize(size);
  return out;
}

bool postAttack(std::string_view ct, std::string_view body, std::string_view encoding) {
  static EnginePtr engine = [] {
    auto e = Engine::create(EngineConfig{});
    EXPECT_TRUE(e.has_value());
    return *e;
  }();
  std::vector<Header> h{Header{"Content-Type", ct}, Header{"Content-Encoding", encoding}};
  RequestView r{.method = "POST", .target = "/api/notes", .versionMinor = 1, .headers = h,
                .body = body, .bodyTruncated = false};
  return registered(engine->inspect(r)).attack();
}

TEST(BrotliBodyTest, DecodesAndInspects) {
  const std::string text = R"({"note": "hello", "owner": "1' or sleep(5)-- -"})";
  std::string out;
  const std::string br = brotli(text);
  ASSERT_EQ(decodeContentEncoding("br", br, 1 << 20, 200, out), BodyDecode::Decoded);
  EXPECT_EQ(out, text);
  EXPECT_EQ(decodeContentEncoding("BR", br, 1 << 20, 200, out), BodyDecode::Decoded);
  EXPECT_EQ(decodeContentEncoding("identity, br", br, 1 << 20, 200, out), BodyDecode::Decoded);
  EXPECT_TRUE(postAttack("application/json", br, "br"));
  EXPECT_FALSE(postAttack("application/json", brotli(R"({"note": "buy milk", "owner": "ana"})"),
                          "br"));
  const std::string form = brotli("path=..%2F..%2F..%2Fetc%2Fpasswd&x=1");
  EXPECT_TRUE(postAttack("application/x-www-form-urlencoded", form, "br"));
}

TEST(BrotliBodyTest, BombIsCapped) {
  // 64 MiB of one byte compresses to a few dozen bytes; decoding stops at the ratio cap.
  const std::string bomb = brotli(std::string(64 * 1024 * 1024, 'A'), 11);
  ASSERT_LT(bomb.size(), 1024U);
  std::string out;
  EXPECT_EQ(decodeContentEncoding("br", bomb, 128 * 1024, 200, out), BodyDecode::Truncated);
  EXPECT_LE(out.size(), std::max<size_t>(bomb.size() * 200, 4096));
  // The size cap holds when the ratio would allow more.
  EXPECT_EQ(decodeContentEncoding("br", bomb, 1000, 1000000, out), BodyDecode::Truncated);
  EXPECT_EQ(out.size(), 1000U);
}

TEST(BrotliBodyTest, TruncatedAndCorruptStreams) {
  const std::string text(5000, 'x');
  const std::string br = brotli(text + "<script>alert(1)</script>", 5);
  std::string out;
  const BodyDecode half = decodeContentEncoding("br", br.substr(0, br.size() / 2), 1 << 20, 200, out);
  EXPECT_TRUE(half == BodyDecode::Truncated || half == BodyDecode::Failed);
  EXPECT_LE(out.size(), text.size() + 25);
  EXPECT_EQ(decodeContentEncoding("br", std::string(100, '\xff'), 1 << 20, 200, out),
            BodyDecode::Failed);
  EXPECT_EQ(decodeContentEncoding("br", "", 1 << 20, 200, out), BodyDecode::None);
}

} // namespace
} // namespace bulwark::detect

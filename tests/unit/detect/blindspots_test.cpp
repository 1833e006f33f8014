// No blind spots: attacks placed past the structural limits, behind padding, in compressed or
// malformed bodies are still found; the limit is reported.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <string>
#include <vector>

#include "body_decode.h"
#include "bulwark/detect/engine.h"
#include "registered_rules.h"

namespace bulwark::detect {
namespace {

class BlindSpotsTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    auto e = Engine::create(EngineConfig{});
    ASSERT_TRUE(e.has_value());
    engine_ = *e;
  }
  static Verdict post(std::string_view ct, std::string_view body,
                      std::vector<Header> extra = {}) {
    extra.push_back(Header{"Content-Type", ct});
    RequestView r{.method = "POST", .target = "/api/orders", .versionMinor = 1, .headers = extra,
                  .body = body, .bodyTruncated = false};
    return registered(engine_->inspect(r));
  }
  static EnginePtr engine_;
};
EnginePtr BlindSpotsTest::engine_;

const std::string kSqli = "1' union select password from users-- ";

std::string gzip(std::string_view in, int windowBits) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Plain values go to the smallest plain database their bytes allow (any plain rule; the rules
// that can match a token; those that can match hex digits): upper-case, percent-encoded and
// hex-only tokens still reach the rules that match them.
TEST_F(BlindSpotsTest, PlainTokensReachTheRulesThatMatchThem) {
  const auto ruleFor = [](std::string_view target) {
    std::vector<uint32_t> ids;
    RequestView r{.method = "GET", .target = target, .versionMinor = 1, .headers = {},
                  .body = {}, .bodyTruncated = false, .paranoiaLevel = 4};
    for (const auto& f : registered(engine_->inspect(r)).findings) {
      ids.push_back(f.ruleId);
    }
    return ids;
  };
  const auto has = [](const std::vector<uint32_t>& ids, uint32_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  EXPECT_TRUE(has(ruleFor("/run?x=WhoAmI"), 4023));        // token
  EXPECT_TRUE(has(ruleFor("/run?x=%57hoami"), 4023));      // token after decoding
  EXPECT_TRUE(has(ruleFor("/obj?x=ACED0005"), 5017));      // hex only
  EXPECT_TRUE(has(ruleFor("/obj?x=%41CED0005"), 5017));    // hex only after decoding
  EXPECT_FALSE(ruleFor("/q?x=1%20union%20select%202").empty()); // words
  EXPECT_TRUE(has(ruleFor("/n?x=18446744073709551616"), 1057)); // digits
  EXPECT_TRUE(ruleFor("/obj?x=3f2a1c9e0b7d4e21").empty());
}

// Shapes that used to cost one request seconds of CPU or a gigabyte of memory still get their
// inspection: an array under a 60 KB key (its path was copied once per element), header-like
// lines holding the multipart delimiter, a UTF-7 run that fails before the one that decodes.
TEST_F(BlindSpotsTest, CostlyShapesAreStillInspected) {
  std::string body = "{\"" + std::string(60000, 'k') + "\":[";
  for (int i = 0; i < 20000; ++i) {
    body += "\"\",";
  }
  body += "\"" + kSqli + "\"]}";
  EXPECT_TRUE(post("application/json", body).attack());
  std::string multipart;
  for (int i = 0; i < 20000; ++i) {
    multipart += "x:--b\n";
  }
  multipart += "--b\r\nContent-Disposition: form-data; name=\"a\\\"b\"\r\n\r\n1\r\n--b--\r\n";
  const Verdict m = post("multipart/form-data; boundary=b", multipart);
  bool flagged = false;
  for (const auto& f : m.findings) {
    flagged |= f.ruleId == 13004;
  }
  EXPECT_TRUE(flagged) << "the bad part header after the delimiter-holding lines";
  std::string utf7 = "{\"x\":\"+ADw-+";
  for (int i = 0; i < 5000; ++i) {
    utf7 += "ABAABAA+";
  }
  utf7 += "//// +ADw-script+AD4-alert(1)+ADw-/script+AD4-\"}";
  EXPECT_TRUE(post("application/json", utf7).attack());
}

TEST_F(BlindSpotsTest, JsonPastMaxDepth) {
  std::string body;
  for (int i = 0; i < 40; ++i) {
    body += "{\"a\":";
  }
  body += "\"" + kSqli + "\"";
  body += std::string(40, '}');
  const Verdict v = post("application/json", body);
  EXPECT_TRUE(v.attack());
  EXPECT_TRUE(v.limitExceeded);
  EXPECT_FALSE(post("application/json", "{\"a\":{\"b\":\"fine\"}}").attack());
}

TEST_F(BlindSpotsTest, JsonPastMaxArgs) {
  std::string body = "{";
  for (int i = 0; i < 1100; ++i) {
    body += "\"k" + std::to_string(i) + "\":\"v\",";
  }
  body += "\"q\":\"" + kSqli + "\"}";
  const Verdict v = post("application/json", body);
  EXPECT_TRUE(v.attack());
  EXPECT_TRUE(v.limitExceeded);
}

TEST_F(BlindSpotsTest, FormPastMaxArgs) {
  std::string body;
  for (int i = 0; i < 1100; ++i) {
    body += "k" + std::to_string(i) + "=v&";
  }
  body += "q=%3Cscript%3Ealert(1)%3C/script%3E";
  EXPECT_TRUE(post("application/x-www-form-urlencoded", body).attack());
}

TEST_F(BlindSpotsTest, AttackAfterPadding) {
  const std::string padded = std::string(10000, 'a') + "' or 1=1-- ";
  const std::string target = "/search?q=" + padded;
  RequestView r{.method = "GET", .target = target, .versionMinor = 1, .headers = {}, .body = {},
                .bodyTruncated = false};
  EXPECT_TRUE(registered(engine_->inspect(r)).attack());
  const std::string words = std::string(5000, 'a') + " " + std::string(5000, 'b') + "; cat /etc/passwd";
  EXPECT_TRUE(post("text/plain", words).attack());
}

TEST_F(BlindSpotsTest, MalformedJsonInspectedAsText) {
  EXPECT_TRUE(post("application/json", "{\"q\": \"" + kSqli + "\", broken").attack());
}

TEST_F(BlindSpotsTest, CompressedBodies) {
  const std::string form = "q=" + std::string("%27%20union%20select%20password%20from%20users--");
  const std::string gz = gzip(form, 15 + 16);
  EXPECT_TRUE(post("application/x-www-form-urlencoded", gz, {Header{"Content-Encoding", "gzip"}})
                  .attack());
  const std::string zl = gzip(form, 15);
  EXPECT_TRUE(
      post("application/x-www-form-urlencoded", zl, {Header{"Content-Encoding", "deflate"}})
          .attack());
  const std::string raw = gzip(form, -15);
  EXPECT_TRUE(
      post("application/x-www-form-urlencoded", raw, {Header{"Content-Encoding", "deflate"}})
          .attack());
  const std::string benign = gzip("q=red+shoes&page=2", 15 + 16);
  EXPECT_FALSE(
      post("application/x-www-form-urlencoded", benign, {Header{"Content-Encoding", "gzip"}})
          .attack());
}

TEST(BodyDecodeTest, BombIsCapped) {
  const std::string zeros(8 * 1024 * 1024, '0');
  const std::string gz = gzip(zeros, 15 + 16);
  std::string out;
  EXPECT_EQ(decodeContentEncoding("gzip", gz, 128 * 1024, 200, out), BodyDecode::Truncated);
  EXPECT_LE(out.size(), 128U * 1024);
  EXPECT_LE(out.size(), gz.size() * 200 + 4096);
}

TEST(BodyDecodeTest, OddInputs) {
  std::string out;
  EXPECT_EQ(decodeContentEncoding("identity", "abc", 100, 10, out), BodyDecode::None);
  EXPECT_EQ(decodeContentEncoding("gzip", "not gzip at all", 100, 10, out), BodyDecode::Failed);
  EXPECT_EQ(decodeContentEncoding("zstd", "xyz", 100, 10, out), BodyDecode::Unsupported);
  EXPECT_EQ(decodeContentEncoding("br", "\xff\xff not brotli", 100, 10, out), BodyDecode::Failed);
  EXPECT_EQ(decodeContentEncoding("gzip, gzip", "xyz", 100, 10, out), BodyDecode::Unsupported);
  EXPECT_EQ(decodeContentEncoding("deflate", "\x78\x9c garbage", 100, 10, out),
            BodyDecode::Failed);
  const std::string gz = gzip("hello world", 15 + 16);
  EXPECT_EQ(decodeContentEncoding("gzip", gz.substr(0, gz.size() / 2), 100, 10, out) ==
                BodyDecode::Failed ||
                out.size() <= 11,
            true); // a truncated stream never yields more than the text
}

} // namespace
} // namespace bulwark::detect

// The decoding pipeline: each named transform on its own, the guards, the budget and the chain.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

#include "bulwark/detect/engine.h"
#include "bulwark/detect/normalize.h"
#include "transforms/transforms.h"
#include "utf8.h"
#include "registered_rules.h"

namespace bulwark::detect::transforms {
namespace {

std::string dec(bool (*f)(std::string_view, std::string&), std::string_view in,
                bool expectChange = true) {
  std::string out;
  EXPECT_EQ(f(in, out), expectChange) << in;
  return out;
}

TEST(TransformsTest, TableNamesUniqueAndGuardsCheap) {
  std::set<std::string_view> names;
  for (const auto& t : all()) {
    EXPECT_TRUE(names.insert(t.name).second) << t.name;
    EXPECT_EQ(name(t.id), t.name);
    EXPECT_FALSE(t.guard("")) << t.name; // nothing to decode in an empty value
  }
  EXPECT_EQ(all().size(), static_cast<size_t>(Id::Count));
}

TEST(TransformsTest, Url) {
  EXPECT_EQ(dec(url, "%3Cscript%3e"), "<script>");
  EXPECT_EQ(dec(url, "a+b", false), "a+b");
  EXPECT_EQ(dec(urlForm, "a+b%20c"), "a b c");
  EXPECT_EQ(dec(url, "100%", false), "100%");
  EXPECT_EQ(dec(url, "%zz%4", false), "%zz%4");
  EXPECT_EQ(dec(url, "%u003c", false), "%u003c"); // %u is its own transform
}

TEST(TransformsTest, UrlUnicode) {
  EXPECT_EQ(dec(urlUnicode, "%u003Cx%U003E"), "<x>");
  EXPECT_EQ(dec(urlUnicode, "%uD83D%uDE00"), "\xF0\x9F\x98\x80"); // surrogate pair
  EXPECT_EQ(dec(urlUnicode, "%uD83Dx"), "\xEF\xBF\xBDx");          // lone surrogate
  EXPECT_EQ(dec(urlUnicode, "%u12", false), "%u12");
}

TEST(TransformsTest, OverlongUtf8) {
  EXPECT_EQ(dec(overlong, "\xC0\xAE\xC0\xAE\xC0\xAF"), "../");
  EXPECT_EQ(dec(overlong, "\xE0\x80\xAE"), ".");
  EXPECT_EQ(dec(overlong, "\xEF\xBC\x8F"), "/"); // full-width solidus
  EXPECT_EQ(dec(overlong, "caf\xC3\xA9", false), "caf\xC3\xA9");
}

TEST(TransformsTest, XmlEntitiesNeedSemicolon) {
  EXPECT_EQ(dec(xmlEntities, "&#x3c;a&#62;&lt;&amp;&quot;&apos;"), "<a><&\"'");
  EXPECT_EQ(dec(xmlEntities, "&#60", false), "&#60");   // no ';': not XML
  EXPECT_EQ(dec(xmlEntities, "&nbsp;", false), "&nbsp;"); // not predefined in XML
  EXPECT_EQ(dec(xmlEntities, "&#0;"), "\xEF\xBF\xBD");   // NUL never ends the value
}

TEST(TransformsTest, HtmlEntitiesWithAndWithoutSemicolon) {
  EXPECT_EQ(dec(htmlEntities, "&#60;&#x3C;&#0000060"), "<<<");
  EXPECT_EQ(dec(htmlEntities, "&lt&gt;"), "<>");
  EXPECT_EQ(dec(htmlEntities, "Fish &amp; chips &unknown;"), "Fish & chips &unknown;");
  EXPECT_EQ(dec(htmlEntities, "a & b", false), "a & b");
}

TEST(TransformsTest, JsonAndHexEscapes) {
  EXPECT_EQ(dec(jsonEscapes, "\\u003cb\\u003E"), "<b>");
  EXPECT_EQ(dec(jsonEscapes, "\\u{3c}"), "<");
  EXPECT_EQ(dec(jsonEscapes, "\\ud83d\\ude00"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(dec(jsonEscapes, "\\x3c", false), "\\x3c");
  EXPECT_EQ(dec(hexEscapes, "\\x3cb\\x3E"), "<b>");
  EXPECT_EQ(dec(hexEscapes, "C:\\xyz", false), "C:\\xyz");
}

TEST(TransformsTest, Utf7) {
  EXPECT_EQ(dec(utf7, "+ADw-script+AD4-"), "<script>");
  EXPECT_EQ(dec(utf7, "C++ and +1", false), "C++ and +1");
}

TEST(TransformsTest, Utf16) {
  EXPECT_EQ(dec(utf16, std::string_view("<\0a\0>\0", 6)), "<a>");          // LE, no BOM
  EXPECT_EQ(dec(utf16, std::string_view("\xFF\xFE<\0b\0", 6)), "<b");      // LE BOM
  EXPECT_EQ(dec(utf16, std::string_view("\xFE\xFF\0<\0i", 6)), "<i");      // BE BOM
  EXPECT_EQ(dec(utf16, std::string_view("\0<\0a\0>", 6)), "<a>");          // BE, no BOM
  EXPECT_EQ(dec(utf16, "plain text", false), "");
  EXPECT_EQ(dec(utf16, std::string_view("\x01\x02\0\x04\x05\x06", 6), false), ""); // binary
}

TEST(TransformsTest, Base64Alphabets) {
  EXPECT_EQ(dec(base64, "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="), "<script>alert(1)</script>");
  EXPECT_EQ(dec(base64, "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg"), "<script>alert(1)</script>");
  std::string out;
  EXPECT_FALSE(base64("Pj8-Pz8_Pj8-Pz8", out)); // url-safe characters are not standard base64
  EXPECT_TRUE(base64url("Pj8-Pz8_Pj8-Pz8", out));
  EXPECT_FALSE(base64url("Pj8+Pz8/Pj8+Pz8", out));
  EXPECT_FALSE(base64("deadbeefdeadbeef", out)); // hex, no upper case: not worth decoding
  EXPECT_FALSE(base64("SGVsbG8", out));          // short and unpadded: "Hello" is letters only
  EXPECT_EQ(dec(base64, "KikoJg=="), "*)(&");     // short, but padded: base64 on its own
  EXPECT_EQ(dec(base64, "KikoJg"), "*)(&");       // short and unpadded, with syntax characters
  EXPECT_EQ(dec(base64, "fGlkfA"), "|id|");
  EXPECT_FALSE(base64("TG9nb3M", out));          // "Logos": a word
  EXPECT_FALSE(base64("Ab1cD", out));            // five characters: no whole bytes of text
  EXPECT_FALSE(base64("SGVsbG8", out));          // short, unpadded, a word ("Hello")
  EXPECT_EQ(dec(base64, "KikoJg"), "*)(&");       // short, unpadded: text of metacharacters
  EXPECT_EQ(dec(base64, "YGlkYA"), "`id`");
  EXPECT_FALSE(base64("iPhone", out));           // a word that decodes to bytes
  EXPECT_FALSE(base64("QWRtaW4", out));          // "Admin": text without a metacharacter
  EXPECT_FALSE(base64("Ab1=", out));             // padded, but one byte
  Id id{};
  EXPECT_TRUE(base64View("JzsgZHJvcCB0YWJsZSB1c2Vyczst", out, id));
  EXPECT_EQ(id, Id::Base64);
  EXPECT_TRUE(base64View("Pj8-Pz8_Pj8-Pz8", out, id));
  EXPECT_EQ(id, Id::Base64Url);
}

TEST(TransformsTest, PipelineNestsAndRecordsTheChain) {
  std::string out;
  Chain chain;
  // %26%2360%3B: URL-encoded HTML entity.
  decode("%26%2360%3Bsvg", out, false, Budget{}, &chain);
  EXPECT_EQ(out, "<svg");
  EXPECT_EQ(chain.str(), "xml-entity <- url");
  chain.clear();
  decode("%255Cu003c", out, false, Budget{}, &chain); // double URL, then a JSON escape
  EXPECT_EQ(out, "<");
  EXPECT_EQ(chain.str(), "json-unicode <- url <- url");
  chain.clear();
  decode("plain", out, true, Budget{}, &chain);
  EXPECT_EQ(out, "plain");
  EXPECT_TRUE(chain.empty());
  decode("a%00b", out, false, Budget{}, nullptr);
  EXPECT_EQ(out, "ab"); // NUL dropped
}

TEST(TransformsTest, BudgetBoundsTheWork) {
  // Ten layers of URL encoding of '<': the budget stops early, leaving a partly encoded value.
  std::string v = "<";
  for (int i = 0; i < 10; ++i) {
    std::string next;
    for (const char c : v) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      next += buf;
    }
    v = next;
  }
  std::string out;
  Chain chain;
  Budget b;
  b.rounds = 3;
  decode(v, out, false, b, &chain);
  EXPECT_NE(out, "<");
  EXPECT_LE(chain.size(), 3U);
  Budget wide;
  wide.rounds = 12;
  chain.clear();
  decode(v, out, false, wide, &chain);
  EXPECT_EQ(out, "<");
}

TEST(TransformsTest, FindingCarriesTheChain) {
  auto e = Engine::create(EngineConfig{});
  ASSERT_TRUE(e.has_value());
  // base64 of "' or 1=1--", URL-encoded padding.
  const std::string target = "/search?q=JyBvciAxPTEtLQ%3D%3D";
  RequestView req{.method = "GET", .target = target, .versionMinor = 1, .headers = {}, .body = {},
                  .bodyTruncated = false};
  const Verdict v = registered((*e)->inspect(req));
  ASSERT_TRUE(v.attack());
  bool chained = false;
  for (const auto& f : v.findings) {
    chained |= f.chain == "base64 <- url";
  }
  EXPECT_TRUE(chained) << v.findings.front().part << " chain=" << v.findings.front().chain;
}

TEST(TransformsTest, Utf8EncoderBoundariesAndUnsafeCodePoints) {
  const auto enc = [](uint32_t cp) {
    std::string s;
    internal::appendUtf8(s, cp);
    return s;
  };
  EXPECT_EQ(enc(0x41), "A");
  EXPECT_EQ(enc(0x7F), "\x7F");
  EXPECT_EQ(enc(0x80), "\xC2\x80");
  EXPECT_EQ(enc(0x7FF), "\xDF\xBF");
  EXPECT_EQ(enc(0x800), "\xE0\xA0\x80");
  EXPECT_EQ(enc(0xFFFF), "\xEF\xBF\xBF");
  EXPECT_EQ(enc(0x10000), "\xF0\x90\x80\x80");
  EXPECT_EQ(enc(0x10FFFF), "\xF4\x8F\xBF\xBF");
  // A decoded NUL and a value past U+10FFFF become U+FFFD: never a NUL, never nothing.
  EXPECT_EQ(enc(0), "\xEF\xBF\xBD");
  EXPECT_EQ(enc(0x110000), "\xEF\xBF\xBD");
  EXPECT_EQ(enc(0xFFFFFFFF), "\xEF\xBF\xBD");
}

TEST(TransformsTest, OnePercentDecoderForEveryForm) {
  std::string out;
  // %uXXXX surrogate pairs combine in every path that decodes %u.
  EXPECT_TRUE(percentDecode("%uD83D%uDE00+%41", out, true));
  EXPECT_EQ(out, "\xF0\x9F\x98\x80 A");
  EXPECT_EQ(dec(urlUnicode, "%uD83D%uDE00%41"), "\xF0\x9F\x98\x80%41");
  EXPECT_EQ(dec(url, "%u0041%41+"), "%u0041A+");
  EXPECT_EQ(dec(urlForm, "a+b%2B"), "a b+");
  EXPECT_FALSE(percent("100%+%zz", out, PercentForms{}));
  EXPECT_EQ(out, "100%+%zz");
}

TEST(TransformsTest, EveryDecoderWritesAnEscapedNulTheSameWay) {
  const std::string fffd = "a\xEF\xBF\xBD" "b";
  std::string out;
  EXPECT_TRUE(percentDecode("a%u0000b", out, false));
  EXPECT_EQ(out, fffd);
  EXPECT_EQ(dec(urlUnicode, "a%u0000b"), fffd);
  EXPECT_TRUE(decodeHtmlEntities("a&#0;b", out));
  EXPECT_EQ(out, fffd);
  EXPECT_EQ(dec(xmlEntities, "a&#0;b"), fffd);
  EXPECT_TRUE(decodeJsEscapes("a\\u0000b", out));
  EXPECT_EQ(out, fffd);
  EXPECT_EQ(dec(jsonEscapes, "a\\u{0}b"), fffd);
  EXPECT_EQ(dec(hexEscapes, "a\\x00b"), fffd);
  // Past U+10FFFF: U+FFFD for a complete XML reference; a JSON escape is left as written.
  EXPECT_EQ(dec(xmlEntities, "&#x110000;"), "\xEF\xBF\xBD");
  EXPECT_EQ(dec(jsonEscapes, "\\u{110000}", false), "\\u{110000}");
}

TEST(TransformsTest, DecodersCopyTheTextBetweenEscapesUnchanged) {
  // Long runs without escape characters around and between escapes.
  const std::string run(300, 'x');
  EXPECT_EQ(dec(urlForm, run + "%41+" + run + "%"), run + "A " + run + "%");
  EXPECT_EQ(dec(url, run + "+" + run, false), run + "+" + run);
  EXPECT_EQ(dec(xmlEntities, "a=1&b=2&lt;" + run), "a=1&b=2<" + run);
  EXPECT_EQ(dec(htmlEntities, "a=1&b=2&lt " + run + "&"), "a=1&b=2< " + run + "&");
  EXPECT_EQ(dec(htmlEntities, "q=1&amp&ampx"), "q=1&&ampx"); // "ampx" is no name
  EXPECT_EQ(dec(jsonEscapes, run + "\\u0041\\"), run + "A\\");
  EXPECT_EQ(dec(urlUnicode, run + "%u0041%"), run + "A%");
  EXPECT_EQ(dec(utf7, run + "+ADw-" + run + "+"), run + "<" + run + "+");
  EXPECT_EQ(dec(overlong, run + "\xC0\xAF" + run + "\xC3\xA9"), run + "/" + run + "\xC3\xA9");
  std::string out;
  decode(std::string("a\0b%00c", 7) + run, out, false, Budget{}, nullptr);
  EXPECT_EQ(out, "abc" + run);
}

} // namespace
} // namespace bulwark::detect::transforms

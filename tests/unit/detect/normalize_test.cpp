#include <gtest/gtest.h>

#include <string>

#include "bulwark/detect/normalize.h"

namespace bulwark::detect {
namespace {

std::string norm(std::string_view in, bool plus = true) {
  std::string out;
  normalizeValue(in, out, plus);
  return out;
}

TEST(NormalizeTest, PercentDecoding) {
  std::string out;
  EXPECT_TRUE(percentDecode("a%20b+c", out, true));
  EXPECT_EQ(out, "a b c");
  EXPECT_TRUE(percentDecode("%u003Cx", out, false));
  EXPECT_EQ(out, "<x");
  EXPECT_FALSE(percentDecode("100%", out, false));
  EXPECT_EQ(out, "100%");
  EXPECT_FALSE(percentDecode("%zz%4", out, false));
  EXPECT_EQ(out, "%zz%4");
}

TEST(NormalizeTest, RepeatedDecoding) {
  EXPECT_EQ(norm("%252e%252e%252f"), "../");
  EXPECT_EQ(norm("%%32%65"), ".");
  EXPECT_EQ(norm("a+b", false), "a+b");
}

TEST(NormalizeTest, OverlongAndLookalikes) {
  EXPECT_EQ(norm("%c0%ae%c0%ae%c0%af"), "../");
  EXPECT_EQ(norm("%e0%80%ae"), ".");
  EXPECT_EQ(norm("%ef%bc%8f"), "/"); // full-width solidus
  EXPECT_EQ(norm("%u2215"), "/");
  EXPECT_EQ(norm("caf%c3%a9"), "caf\xc3\xa9"); // real UTF-8 stays
}

TEST(NormalizeTest, EntitiesAndEscapes) {
  EXPECT_EQ(norm("&lt;script&gt;"), "<script>");
  EXPECT_EQ(norm("&#60;&#x3C;&#0000060"), "<<<");
  EXPECT_EQ(norm("\\u003cb\\x3e"), "<b>");
  EXPECT_EQ(norm("\\u{3c}"), "<");
  EXPECT_EQ(norm("Fish &amp; chips &unknown;"), "Fish & chips &unknown;");
}

TEST(NormalizeTest, Utf7AndEnclosedForms) {
  EXPECT_EQ(norm("+ADw-script+AD4-", false), "<script>");
  EXPECT_EQ(norm("C++ and +1", false), "C++ and +1");           // not UTF-7 of ASCII: unchanged
  EXPECT_EQ(norm("%e2%91%a0%e2%91%a1%e2%91%a6", false), "127"); // circled digits
  EXPECT_EQ(norm("%f8%80%80%80%ae%f8%80%80%80%ae%f8%80%80%80%af", false), "../");
}

TEST(NormalizeTest, NulBytesDropped) { EXPECT_EQ(norm("un%00ion"), "union"); }

TEST(NormalizeTest, Lower) {
  std::string out;
  toLowerAscii("SeLeCt \xc3\x89", out);
  EXPECT_EQ(out, "select \xc3\x89");
}

TEST(NormalizeTest, CanonicalPath) {
  std::string out;
  EXPECT_EQ(canonicalPath("/a/./b/../c//d", out), 0u);
  EXPECT_EQ(out, "/a/c/d");
  EXPECT_EQ(canonicalPath("/../../etc/passwd", out), 2u);
  EXPECT_EQ(out, "/etc/passwd");
  EXPECT_EQ(canonicalPath("\\a\\..\\..\\b", out), 1u);
  EXPECT_EQ(canonicalPath("/a/..;/..;/b", out), 1u);
  EXPECT_EQ(canonicalPath("/x/", out), 0u);
  EXPECT_EQ(out, "/x/");
}

TEST(NormalizeTest, Base64) {
  std::string out;
  EXPECT_TRUE(tryBase64Text("PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", out));
  EXPECT_EQ(out, "<script>alert(1)</script>");
  EXPECT_FALSE(tryBase64Text("deadbeefdeadbeefdeadbeef", out)); // hex, not base64 text
  EXPECT_FALSE(tryBase64Text("short", out));
  EXPECT_FALSE(tryBase64Text("rTKIRqoYsyozWBY3RRHKwQY8cEuMV5me", out)); // random bytes
}

} // namespace
} // namespace bulwark::detect

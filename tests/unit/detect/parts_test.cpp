#include <gtest/gtest.h>

#include <string>

#include "bulwark/detect/parts.h"

namespace bulwark::detect {
namespace {

std::string dump(const ArgList& l) {
  std::string s;
  for (const auto& a : l.args()) {
    s += a.kind == Arg::Kind::Name ? "N " : a.kind == Arg::Kind::File ? "F " : "V ";
    s += std::string(a.name) + "=" + std::string(a.value) + "\n";
  }
  return s;
}

TEST(PartsTest, Urlencoded) {
  ArgList l(100);
  parseUrlencoded("a=1&b=&&flag&c=x%3D", l);
  EXPECT_EQ(dump(l), "N a=a\nV a=1\nN b=b\nV b=\nV flag=flag\nN c=c\nV c=x%3D\n");
}

TEST(PartsTest, UrlencodedLimit) {
  ArgList l(3);
  parseUrlencoded("a=1&b=2&c=3", l);
  EXPECT_TRUE(l.overflow());
  // Values past the limit are still collected (the engine scans them with the prefilter).
  EXPECT_EQ(l.args().size(), 6u);
  EXPECT_EQ(l.args().back().value, "3");
}

TEST(PartsTest, Cookies) {
  ArgList l(100);
  parseCookies(" sid=abc; theme = dark ;x", l);
  EXPECT_EQ(dump(l), "N sid=sid\nV sid=abc\nN theme=theme\nV theme=dark\nV x=x\n");
}

TEST(PartsTest, JsonNestedKeysAndStrings) {
  ArgList l(100);
  EXPECT_TRUE(parseJson(R"({"user":{"name":"Zoë","tags":["a","b\"c"],"age":7,"ok":true}})", l, 8));
  EXPECT_EQ(dump(l), "N user=user\nN user.name=name\nV user.name=Zoë\nN user.tags=tags\n"
                     "V user.tags[]=a\nV user.tags[]=b\"c\nN user.age=age\nN user.ok=ok\n");
}

TEST(PartsTest, JsonDepthAndMalformed) {
  ArgList l(100);
  // Past maxDepth the document is still walked and its strings collected; the limit is reported.
  EXPECT_TRUE(parseJson(R"([[[[[["deep"]]]]]])", l, 3));
  EXPECT_TRUE(l.overflow());
  ASSERT_EQ(l.args().size(), 1u);
  EXPECT_EQ(l.args()[0].value, "deep");
  // Beyond the walker's own stack bound the document is malformed (inspected as text).
  ArgList h(100);
  EXPECT_FALSE(parseJson(std::string(600, '[') + std::string(600, ']'), h, 3));
  ArgList m(100);
  EXPECT_FALSE(parseJson(R"({"a":"x",)", m, 8));
  EXPECT_EQ(m.args().size(), 2u); // what was parsed is kept
  ArgList n(100);
  EXPECT_TRUE(parseJson("{\"a\":1}\n{\"b\":\"y\"}\n", n, 8)); // NDJSON
}

TEST(PartsTest, Multipart) {
  const std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n"
      "Content-Type: text/plain\r\n\r\nfile body\r\n--XyZ--\r\n";
  ArgList l(100);
  EXPECT_TRUE(parseMultipart(body, "XyZ", l, 4));
  EXPECT_EQ(dump(l), "N title=title\nV title=Hello\nN f=f\nV multipart.filename=a.txt\n"
                     "V multipart.content-type=text/plain\nF f=file body\n");
}

TEST(PartsTest, MultipartTruncated) {
  ArgList l(100);
  EXPECT_FALSE(
      parseMultipart("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nabc", "b", l, 4));
  EXPECT_EQ(l.args().back().value, "abc");
}

TEST(PartsTest, Xml) {
  ArgList l(100);
  EXPECT_TRUE(parseXml(
      R"(<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a k="v"><b>t &amp; u</b><![CDATA[<raw>]]></a>)",
      l, 8));
  const std::string d = dump(l);
  EXPECT_NE(d.find("V !doctype=<!DOCTYPE a [<!ENTITY e \"x\">]>"), std::string::npos) << d;
  EXPECT_NE(d.find("V k=v"), std::string::npos) << d;
  EXPECT_NE(d.find("V b=t &amp; u"), std::string::npos) << d;
  EXPECT_NE(d.find("<raw>"), std::string::npos) << d;
}

TEST(PartsTest, XmlTextContentIsJoinedAndKeepsLineBreaks) {
  ArgList l(100);
  // Text, CDATA and text around a comment are one text content, as the parser returns it.
  EXPECT_TRUE(parseXml("<a><n>&lt;scr<![CDATA[ipt]]>&gt;al<!-- x -->ert(1)</n><m>\r\nSet-Cookie: a=b</m>"
                       "<k>\n  </k></a>",
                       l, 8));
  const std::string d = dump(l);
  EXPECT_NE(d.find("V n=&lt;script&gt;alert(1)"), std::string::npos) << d;
  EXPECT_NE(d.find("V m=\r\nSet-Cookie: a=b"), std::string::npos) << d;
  EXPECT_EQ(d.find("V k="), std::string::npos) << d; // layout whitespace is not a value
}

TEST(PartsTest, UserAgentTokensHaveNameAndVersionLengths) {
  EXPECT_TRUE(wellFormedUserAgent(
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/126.0.0.0 Safari/537.36"));
  EXPECT_TRUE(wellFormedUserAgent("com.google.android.apps.searchlite/1.2.3 okhttp/4.9.3"));
  // Base64 that holds one '/': a "product" and a "version" far longer than any name.
  EXPECT_FALSE(wellFormedUserAgent("PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0iSVNPLTg4NTktMSI/"
                                   "PjwhRE9DVFlQRSBmb28gWzwhRUxFTUVOVCBmb28gQU5ZID48IUVOVElUWSB4eGU"));
  EXPECT_FALSE(wellFormedUserAgent("app/QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w"));
}

TEST(PartsTest, ContentTypeParam) {
  EXPECT_EQ(contentTypeParam("multipart/form-data; boundary=\"a b\"", "boundary"), "a b");
  EXPECT_EQ(contentTypeParam("text/html;charset=UTF-8", "charset"), "UTF-8");
  EXPECT_EQ(contentTypeParam("text/html", "charset"), "");
}

} // namespace
} // namespace bulwark::detect

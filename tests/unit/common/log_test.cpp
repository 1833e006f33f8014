#include "bulwark/common/log.h"
#include "bulwark/common/net.h"

#include <gtest/gtest.h>

namespace bulwark {
namespace {

std::string escaped(std::string_view in) {
  std::string out;
  log::appendJsonEscaped(out, in);
  return out;
}

TEST(Log, EscapesControlQuotesAndInvalidUtf8) {
  EXPECT_EQ(escaped("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(escaped("line\nforged\r\t"), "line\\nforged\\r\\t");
  EXPECT_EQ(escaped(std::string("\x01\x7f", 2)), "\\u0001\\u007f");
  EXPECT_EQ(escaped("caf\xc3\xa9"), "caf\xc3\xa9");        // valid UTF-8 kept
  EXPECT_EQ(escaped("\xc0\xaf"), "\\u00c0\\u00af");           // overlong '/' escaped
  EXPECT_EQ(escaped("\xed\xa0\x80"), "\\u00ed\\u00a0\\u0080"); // surrogate escaped
}

TEST(Log, ParsesLevels) {
  log::Level l{};
  EXPECT_TRUE(log::parseLevel("warn", l));
  EXPECT_EQ(l, log::Level::Warn);
  EXPECT_FALSE(log::parseLevel("verbose", l));
}

TEST(Net, ParsesHostPort) {
  auto v4 = net::parseHostPort("198.18.0.1:8080");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "198.18.0.1");
  EXPECT_EQ(v4->port, 8080);
  EXPECT_FALSE(v4->v6);
  auto v6 = net::parseHostPort("[fd00:b::1]:26001");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "fd00:b::1");
  EXPECT_TRUE(v6->v6);
  EXPECT_EQ(v6->str(), "[fd00:b::1]:26001");
  EXPECT_FALSE(net::parseHostPort("localhost:80"));
  EXPECT_FALSE(net::parseHostPort("1.2.3.4"));
  EXPECT_FALSE(net::parseHostPort("1.2.3.4:0"));
  EXPECT_TRUE(net::parseHostPort("1.2.3.4:0", true));
  EXPECT_FALSE(net::parseHostPort("1.2.3.4:70000"));
  EXPECT_FALSE(net::parseHostPort("fd00::1:80"));
  EXPECT_FALSE(net::parseHostPort("[fd00::1]80"));
  EXPECT_FALSE(net::parseHostPort("[1.2.3.4]:80"));
}

} // namespace
} // namespace bulwark

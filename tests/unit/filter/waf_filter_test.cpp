#include "bulwark/filter/waf_filter.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <gtest/gtest.h>

namespace bulwark::filter {
namespace {

IpBytes ip(std::string_view text) { return *parseIp(text); }

Policy policyWith(Mode mode) {
  Policy p;
  p.mode = mode;
  p.allow.add(*Cidr::parse("198.18.1.0/24"));
  p.deny.add(*Cidr::parse("198.18.2.0/24"));
  p.gray.add(*Cidr::parse("198.18.3.0/24"));
  return p;
}

detect::Verdict attack() {
  detect::Verdict v;
  v.findings.push_back({.cls = detect::AttackClass::Sqli, .ruleId = 1, .part = "query", .value = "x"});
  v.score = v.threshold; // the engine scores a confirmed finding at least at the threshold
  return v;
}

TEST(WafFilter, PlanDenyAllowOffAndMissingEngine) {
  const Policy p = policyWith(Mode::Block);
  EXPECT_TRUE(planRequest(p, true, ip("198.18.2.7"), "h", "/").deny);
  EXPECT_FALSE(planRequest(p, true, ip("198.18.2.7"), "h", "/").inspect);
  EXPECT_FALSE(planRequest(p, true, ip("198.18.1.7"), "h", "/").inspect); // allow-listed
  EXPECT_TRUE(planRequest(p, true, ip("198.18.9.7"), "h", "/").inspect);
  EXPECT_FALSE(planRequest(p, false, ip("198.18.9.7"), "h", "/").inspect);
  EXPECT_FALSE(planRequest(policyWith(Mode::Off), true, std::nullopt, "h", "/").inspect);
}

TEST(WafFilter, OverridesChooseTheMode) {
  Policy p = policyWith(Mode::Monitoring);
  p.overrides.push_back({.pathPrefix = "/admin", .host = "", .mode = Mode::Block});
  EXPECT_EQ(planRequest(p, true, std::nullopt, "h", "/admin/x").mode, Mode::Block);
  EXPECT_EQ(planRequest(p, true, std::nullopt, "h", "/public").mode, Mode::Monitoring);
}

TEST(WafFilter, DecisionByModeAndGrayList) {
  const auto v = attack();
  const detect::Verdict clean;
  for (Mode m : {Mode::Monitoring, Mode::SafeBlocking, Mode::Block}) {
    const Policy p = policyWith(m);
    const auto plan = planRequest(p, true, ip("198.18.9.1"), "h", "/");
    EXPECT_EQ(decide(plan, p, ip("198.18.9.1"), clean), WafAction::Pass);
  }
  const Policy mon = policyWith(Mode::Monitoring);
  EXPECT_EQ(decide(planRequest(mon, true, ip("198.18.3.1"), "h", "/"), mon, ip("198.18.3.1"), v),
            WafAction::Log);
  const Policy safe = policyWith(Mode::SafeBlocking);
  EXPECT_EQ(decide(planRequest(safe, true, ip("198.18.9.1"), "h", "/"), safe, ip("198.18.9.1"), v),
            WafAction::Log);
  EXPECT_EQ(decide(planRequest(safe, true, ip("198.18.3.1"), "h", "/"), safe, ip("198.18.3.1"), v),
            WafAction::Block);
  const Policy block = policyWith(Mode::Block);
  EXPECT_EQ(decide(planRequest(block, true, std::nullopt, "h", "/"), block, std::nullopt, v),
            WafAction::Block);
  EXPECT_EQ(decide(planRequest(block, true, ip("198.18.2.1"), "h", "/"), block, ip("198.18.2.1"),
                   clean),
            WafAction::Deny);
}

TEST(WafFilter, ClientFromTrustedForwardedFor) {
  namespace http = boost::beast::http;
  http::request_parser<http::empty_body> parser;
  const std::string_view text =
      "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nx-forwarded-for: 10.0.0.1, "
      "198.18.0.5 \r\n\r\n";
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(text.data(), text.size()), ec);
  ASSERT_FALSE(ec);
  const auto& req = parser.get();
  Policy p;
  EXPECT_EQ(clientOf(p, req, "127.0.0.1"), "127.0.0.1");
  p.trustForwardedFor = true;
  EXPECT_EQ(clientOf(p, req, "127.0.0.1"), "198.18.0.5");
}

} // namespace
} // namespace bulwark::filter

#include "bulwark/detect/rule_registry.h"
#include "bulwark/filter/events.h"
#include "bulwark/filter/policy.h"

#include <gtest/gtest.h>

namespace bulwark::filter {
namespace {

bool inCidr(std::string_view cidr, std::string_view ip) {
  auto c = Cidr::parse(cidr);
  EXPECT_TRUE(c) << cidr;
  auto a = parseIp(ip);
  EXPECT_TRUE(a) << ip;
  return c && a && c->contains(*a);
}

TEST(Cidr, MatchesV4AndV6) {
  EXPECT_TRUE(inCidr("198.18.0.0/15", "198.19.255.255"));
  EXPECT_FALSE(inCidr("198.18.0.0/15", "198.20.0.1"));
  EXPECT_TRUE(inCidr("10.1.2.3/8", "10.200.0.1")); // host bits ignored
  EXPECT_TRUE(inCidr("192.0.2.7", "192.0.2.7"));
  EXPECT_FALSE(inCidr("192.0.2.7", "192.0.2.8"));
  EXPECT_TRUE(inCidr("0.0.0.0/0", "203.0.113.9"));
  EXPECT_FALSE(inCidr("0.0.0.0/0", "fd00:b::1")); // v4 networks never match v6 clients
  EXPECT_TRUE(inCidr("fd00:b::/64", "fd00:b::1234"));
  EXPECT_FALSE(inCidr("fd00:b::/64", "fd00:c::1"));
  EXPECT_TRUE(inCidr("fd00:b::/65", "fd00:b::7fff:0:0:1"));
  EXPECT_FALSE(inCidr("fd00:b::/65", "fd00:b::8000:0:0:1"));
  EXPECT_TRUE(inCidr("::/0", "::1"));
}

TEST(Cidr, RejectsGarbage) {
  for (const char* bad : {"", "10.0.0.0/33", "fd00::/129", "10.0.0/8", "host.example/24",
                          "10.0.0.0/-1", "10.0.0.0/", "1.2.3.4/8/9"}) {
    EXPECT_FALSE(Cidr::parse(bad)) << bad;
  }
}

TEST(Policy, ParsesListsAndOverrides) {
  Policy p;
  auto st = applyPolicyJson(R"({"allow": ["10.0.0.0/8"], "deny": ["203.0.113.0/24", "fd00:b::66"],
      "gray": ["198.18.0.0/15"], "trust_forwarded_for": true, "inspect_body_bytes": 4096,
      "on_limit": "block", "overrides": [{"path_prefix": "/health", "mode": "off"},
      {"path_prefix": "/", "host": "Admin.Example", "mode": "block"}]})",
                            p);
  ASSERT_TRUE(st) << st.error().describe();
  EXPECT_EQ(p.allow.size(), 1u);
  EXPECT_EQ(p.deny.size(), 2u);
  EXPECT_TRUE(p.deny.contains(*parseIp("fd00:b::66")));
  EXPECT_TRUE(p.trustForwardedFor);
  EXPECT_EQ(p.inspectBodyBytes, 4096u);
  EXPECT_EQ(p.onLimit, LimitAction::Block);
  p.mode = Mode::Monitoring;
  EXPECT_EQ(p.modeFor("shop", "/healthz"), Mode::Off);
  EXPECT_EQ(p.modeFor("admin.example", "/x"), Mode::Block);
  EXPECT_EQ(p.modeFor("shop", "/x"), Mode::Monitoring);
}

TEST(Policy, ParanoiaLevelTopLevelAndPerOverride) {
  Policy p;
  EXPECT_FALSE(applyPolicyJson(R"({"paranoia": 2})", p)); // unknown key refused
  Policy q;
  auto st = applyPolicyJson(R"({"paranoia_level": 2, "overrides": [
      {"path_prefix": "/admin", "paranoia_level": 4},
      {"path_prefix": "/upload", "mode": "monitoring"},
      {"path_prefix": "/", "host": "api.example", "paranoia_level": 1, "mode": "block"}]})",
                            q);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(q.paranoiaFor("shop", "/admin/users"), 4);
  EXPECT_EQ(q.paranoiaFor("shop", "/upload/x"), 2); // that override sets only the mode
  EXPECT_EQ(q.paranoiaFor("api.example", "/v1"), 1);
  EXPECT_EQ(q.paranoiaFor("shop", "/v1"), 2);
  // An override with only a paranoia level leaves the mode to the next match.
  q.mode = Mode::Block;
  EXPECT_EQ(q.modeFor("shop", "/admin/users"), Mode::Block);
  EXPECT_EQ(q.modeFor("shop", "/upload/x"), Mode::Monitoring);
  Policy d;
  EXPECT_EQ(d.paranoiaFor("any", "/"), 1); // the default
}

TEST(Policy, ErrorsNameTheKey) {
  auto err = [](std::string_view json) {
    Policy p;
    auto st = applyPolicyJson(json, p);
    return st ? std::string() : st.error().message();
  };
  EXPECT_NE(err(R"({"deny": ["300.1.1.1"]})").find("policy.deny"), std::string::npos);
  EXPECT_NE(err(R"({"deny": "10.0.0.0/8"})").find("policy.deny"), std::string::npos);
  EXPECT_NE(err(R"({"allwo": []})").find("policy.allwo: unknown key"), std::string::npos);
  EXPECT_NE(err(R"({"on_limit": "drop"})").find("policy.on_limit"), std::string::npos);
  EXPECT_NE(err(R"({"overrides": [{"path_prefix": "/"}]})").find("needs a mode"), std::string::npos);
  EXPECT_NE(err(R"({"paranoia_level": 5})").find("policy.paranoia_level"), std::string::npos);
  EXPECT_NE(err(R"({"paranoia_level": "2"})").find("policy.paranoia_level"), std::string::npos);
  EXPECT_NE(err(R"({"overrides": [{"path_prefix": "/", "paranoia_level": 0}]})")
                .find("paranoia_level"),
            std::string::npos);
  EXPECT_NE(err(R"({"overrides": [{"path_prefix": "/", "mode": "loud"}]})").find("mode"),
            std::string::npos);
  EXPECT_NE(err(R"({"trust_forwarded_for": "yes"})").find("trust_forwarded_for"),
            std::string::npos);
}

TEST(PolicyStore, VersionChangesOnSet) {
  PolicyStore store(std::make_shared<Policy>());
  const auto v = store.version();
  auto p = std::make_shared<Policy>();
  p->mode = Mode::Block;
  store.set(p);
  EXPECT_NE(store.version(), v);
  EXPECT_EQ(store.get()->mode, Mode::Block);
}

TEST(Events, OneEscapedJsonLine) {
  detect::Verdict v;
  v.findings.push_back({detect::AttackClass::Sqli, 942100, "query:id", "1' or '1'='1\n"});
  v.findings.push_back({detect::AttackClass::Sqli, 942100, "body:q", "union select"});
  v.findings.push_back({detect::AttackClass::Xss, 941100, "query:q", "<script>"});
  const std::string line = formatAttackEvent({.requestId = "abc",
                                              .client = "198.18.0.2",
                                              .method = "GET",
                                              .host = "shop",
                                              .path = "/p?id=1'\"\r\n",
                                              .verdict = &v,
                                              .action = EventAction::Blocked,
                                              .mode = Mode::Block});
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1); // exactly one line
  EXPECT_NE(line.find(R"("classes":["sqli","xss"])"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("rule_ids":[942100,941100])"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("action":"blocked")"), std::string::npos);
  EXPECT_NE(line.find(R"("mode":"block")"), std::string::npos);
  EXPECT_NE(line.find(R"(/p?id=1'\"\r\n)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("confidence":"strong","paranoia_level":1)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("score":0,"threshold":5,"paranoia_level":1)"), std::string::npos)
      << line;
  const std::string denied = formatAttackEvent({.requestId = "x", .client = "198.18.0.3", .method = "GET",
                                                .host = "", .path = "/", .verdict = nullptr,
                                                .action = EventAction::Denied,
                                                .mode = Mode::Block});
  EXPECT_NE(denied.find(R"("classes":["denylist"])"), std::string::npos) << denied;
}

// Each finding names what its rule detects (from the rule registry) and, when the value was
// decoded, the decoding chain; ids the registry does not hold get neither field.
TEST(Events, FindingsCarryRuleDescriptionAndChain) {
  detect::Verdict v;
  detect::Finding sqli{.cls = detect::AttackClass::Sqli, .ruleId = 1001, .part = "query:id",
                       .value = "1' or 1=1--"};
  sqli.chain = "base64 <- url";
  v.findings.push_back(sqli);
  v.findings.push_back({.cls = detect::AttackClass::Protocol, .ruleId = 920003, .part = "head",
                        .value = "bad-version"});
  const std::string line = formatAttackEvent({.requestId = "d", .client = "198.18.0.4",
                                              .method = "GET", .host = "shop", .path = "/",
                                              .verdict = &v, .action = EventAction::Blocked,
                                              .mode = Mode::Block});
  const std::string want = std::string(R"("rule_id":1001,"description":")") +
                           std::string(detect::ruleDescription(1001)) + R"(","part":"query:id")";
  EXPECT_FALSE(detect::ruleDescription(1001).empty());
  EXPECT_NE(line.find(want), std::string::npos) << line;
  EXPECT_NE(line.find(R"("value":"1' or 1=1--","chain":"base64 <- url"})"), std::string::npos)
      << line;
  EXPECT_NE(line.find(R"("rule_id":920003,"part":"head")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("rule_ids":[1001,920003])"), std::string::npos) << line;
}

} // namespace
} // namespace bulwark::filter

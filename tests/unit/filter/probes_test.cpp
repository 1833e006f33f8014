#include "bulwark/filter/probes.h"

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "bulwark/filter/body_windows.h"
#include "bulwark/filter/config.h"
#include "bulwark/filter/events.h"
#include "bulwark/filter/policy.h"
#include "bulwark/filter/snapshot.h"

namespace bulwark::filter {
namespace {

TEST(ProbePaths, ParsesTheWebhookFormAndWarnsAboutBadEntries) {
  std::vector<std::string> warnings;
  const auto p = ProbePaths::parse("/healthz,/server-status?auto, /ready ,,/healthz,"
                                   "healthz,/a b,/x#frag,/caf\xc3\xa9",
                                   "BULWARK_PROBE_PATHS", warnings);
  EXPECT_EQ(p.paths(), (std::vector<std::string>{"/healthz", "/server-status?auto", "/ready"}));
  ASSERT_EQ(warnings.size(), 4u);
  for (const auto& w : warnings) {
    EXPECT_EQ(w.rfind("BULWARK_PROBE_PATHS: probe path '", 0), 0u) << w;
    EXPECT_NE(w.find("ignored"), std::string::npos) << w;
  }
  EXPECT_NE(warnings[0].find("does not start with '/'"), std::string::npos);
  EXPECT_NE(warnings[2].find("'#'"), std::string::npos);
}

TEST(ProbePaths, OnlyAnExactBodylessGetOrHeadMatches) {
  std::vector<std::string> warnings;
  const auto p = ProbePaths::parse("/healthz,/server-status?auto", "test", warnings);
  EXPECT_TRUE(p.matches("GET", "/server-status?auto", false));
  EXPECT_TRUE(p.matches("HEAD", "/healthz", false));
  EXPECT_FALSE(p.matches("GET", "/server-status?auto&x=1", false)); // query appended
  EXPECT_FALSE(p.matches("GET", "/server-status", false));          // query missing
  EXPECT_FALSE(p.matches("GET", "/healthz?", false));
  EXPECT_FALSE(p.matches("GET", "/HEALTHZ", false));
  EXPECT_FALSE(p.matches("GET", "/healthz", true)); // a body
  EXPECT_FALSE(p.matches("POST", "/healthz", false));
  EXPECT_FALSE(p.matches("get", "/healthz", false));
  EXPECT_FALSE(ProbePaths().matches("GET", "/healthz", false));
}

TEST(ProbePaths, ListIsBounded) {
  std::vector<std::string> warnings;
  std::string list;
  for (int i = 0; i < 70; ++i) {
    list += "/p" + std::to_string(i) + ",";
  }
  const auto p = ProbePaths::parse(list, "test", warnings);
  EXPECT_EQ(p.paths().size(), 64u);
  EXPECT_EQ(warnings.size(), 6u);
  EXPECT_FALSE(ProbePaths::problem(std::string(2049, 'a').replace(0, 1, "/")).empty());
}

TEST(EventLabel, FollowsTheWebhookRule) {
  EXPECT_TRUE(validEventLabel("42"));
  EXPECT_TRUE(validEventLabel("shop.payments_v2-eu"));
  EXPECT_TRUE(validEventLabel(std::string(63, 'a')));
  EXPECT_FALSE(validEventLabel(std::string(64, 'a')));
  EXPECT_FALSE(validEventLabel(""));
  EXPECT_FALSE(validEventLabel("a b"));
  EXPECT_FALSE(validEventLabel("a\"b"));
  EXPECT_FALSE(validEventLabel("a/b"));
  const auto st = checkEventLabel("bad value", "BULWARK_APPLICATION");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("BULWARK_APPLICATION"), std::string::npos);
}

Result<ProxyConfig> load(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "bulwark-proxy");
  auto args = cli::parse(static_cast<int>(argv.size()), argv.data(), proxyOptions());
  if (!args) {
    return tl::unexpected(args.error());
  }
  return loadConfig(*args);
}

TEST(ProbeConfig, EnvironmentFlagsAndFile) {
  ::setenv("BULWARK_APPLICATION", "shop", 1);
  ::setenv("BULWARK_NODE_GROUP", "eu-1", 1);
  ::setenv("BULWARK_PROBE_PATHS", "/healthz,nope", 1);
  auto cfg = load({});
  ASSERT_TRUE(cfg) << cfg.error().describe();
  EXPECT_EQ(cfg->application, "shop");
  EXPECT_EQ(cfg->nodeGroup, "eu-1");
  EXPECT_EQ(cfg->probePaths.paths(), std::vector<std::string>{"/healthz"});
  ASSERT_EQ(cfg->warnings.size(), 1u);
  EXPECT_NE(cfg->warnings[0].find("BULWARK_PROBE_PATHS"), std::string::npos);

  auto flags = load({"--application", "billing", "--probe-paths", "/ready"});
  ASSERT_TRUE(flags) << flags.error().describe();
  EXPECT_EQ(flags->application, "billing"); // flag over environment
  EXPECT_EQ(flags->probePaths.paths(), std::vector<std::string>{"/ready"});

  ::setenv("BULWARK_NODE_GROUP", "eu 1", 1);
  auto bad = load({});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("BULWARK_NODE_GROUP"), std::string::npos)
      << bad.error().message();
  ::setenv("BULWARK_NODE_GROUP", "", 1); // empty = not set
  auto empty = load({});
  ASSERT_TRUE(empty) << empty.error().describe();
  EXPECT_EQ(empty->nodeGroup, "");
  ::unsetenv("BULWARK_APPLICATION");
  ::unsetenv("BULWARK_NODE_GROUP");
  ::unsetenv("BULWARK_PROBE_PATHS");

  ProxyConfig fc;
  ASSERT_TRUE(applyConfigJson(
      R"({"application": "a1", "node_group": "g", "probe_paths": ["/h?x=1", "x"]})", fc));
  EXPECT_EQ(fc.application, "a1");
  EXPECT_EQ(fc.nodeGroup, "g");
  EXPECT_EQ(fc.probePaths.paths(), std::vector<std::string>{"/h?x=1"});
  EXPECT_EQ(fc.warnings.size(), 1u);
  EXPECT_FALSE(applyConfigJson(R"({"application": "a b"})", fc));
  EXPECT_FALSE(applyConfigJson(R"({"probe_paths": "/h"})", fc));

  auto policy = buildPolicy(fc);
  ASSERT_TRUE(policy);
  EXPECT_EQ((*policy)->application, "a1");
  EXPECT_TRUE((*policy)->probes.matches("GET", "/h?x=1", false));
}

TEST(EventLabels, OnEveryEventWhenSet) {
  detect::Verdict v;
  v.findings.push_back({.cls = detect::AttackClass::Sqli, .ruleId = 1, .part = "query:q",
                        .value = "x"});
  v.score = 5;
  AttackEvent e{.requestId = "r", .client = "198.18.0.2", .method = "GET", .host = "h",
                .path = "/", .verdict = &v, .action = EventAction::Blocked,
                .mode = Mode::Block, .application = "shop", .nodeGroup = "eu-1"};
  const std::string line = formatAttackEvent(e);
  EXPECT_NE(line.find(R"("application":"shop")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("node_group":"eu-1")"), std::string::npos) << line;
  e.application = {};
  e.nodeGroup = {};
  const std::string bare = formatAttackEvent(e);
  EXPECT_EQ(bare.find("application"), std::string::npos) << bare;
  EXPECT_EQ(bare.find("node_group"), std::string::npos) << bare;
  detect::Verdict limit;
  limit.limitExceeded = limit.blockForLimit = true;
  e.verdict = &limit;
  e.limit = "inspect_body_max_bytes";
  const std::string lim = formatAttackEvent(e);
  EXPECT_NE(lim.find(R"("classes":["inspection-limit"])"), std::string::npos) << lim;
  EXPECT_NE(lim.find(R"("limit":"inspect_body_max_bytes")"), std::string::npos) << lim;
}

// Feeds `body` through the windows in reads of `step` bytes; returns the windows inspected and
// checks that the fresh parts, concatenated, are the body exactly.
std::vector<std::string> windowsOf(const std::string& prefix, const std::string& body,
                                   size_t window, size_t step) {
  std::vector<char> buf(prefix.begin(), prefix.end());
  BodyWindows w;
  w.reset(buf, window, std::string_view(buf.data(), buf.size()), prefix.size());
  // The prefix is forwarded after reset: reset must leave it as it is.
  EXPECT_EQ(std::string(buf.begin(), buf.end()), prefix);
  std::vector<std::string> out;
  std::string forwarded;
  size_t pos = 0;
  while (pos < body.size()) {
    auto space = w.space();
    EXPECT_FALSE(space.empty());
    const size_t n = std::min({step, space.size(), body.size() - pos});
    std::copy_n(body.data() + pos, n, space.data());
    pos += n;
    w.commit(n);
    if (w.space().empty() || pos == body.size()) {
      EXPECT_EQ(w.freshOffset(), prefix.size() + forwarded.size());
      out.emplace_back(w.window());
      forwarded += w.fresh();
      w.advance();
    }
  }
  EXPECT_EQ(forwarded, body);
  return out;
}

TEST(BodyWindows, OverlapKeepsAPayloadAcrossABoundaryWhole) {
  const std::string prefix(10000, 'p');
  std::string body(100000, 'b');
  const std::string payload = "' UNION SELECT password FROM users--";
  // Every placement relative to the window boundaries: the payload is whole in some window.
  for (size_t at : {0ul, 8190ul, 16370ul, 16384ul - payload.size() / 2, 30000ul, 99960ul}) {
    std::string b = body;
    b.replace(at, payload.size(), payload);
    bool seen = false;
    for (const auto& win : windowsOf(prefix, b, 16384, 3000)) {
      seen |= win.find(payload) != std::string::npos;
      EXPECT_LE(win.size(), 16384u);
    }
    EXPECT_TRUE(seen) << "payload at " << at;
  }
  // A payload at the very start of the rest is seen with the prefix's tail before it.
  const auto first = windowsOf(prefix, "xyz", 16384, 100).front();
  EXPECT_EQ(first.size(), BodyWindows::kOverlap + 3);
  EXPECT_EQ(first.substr(0, BodyWindows::kOverlap), std::string(BodyWindows::kOverlap, 'p'));
}

TEST(BodyWindows, EmptyTailStillGetsAWindow) {
  const auto wins = windowsOf("", std::string(50000, 'c'), 16384, 4096);
  ASSERT_EQ(wins.size(), 4u);
  EXPECT_EQ(wins.front().size(), 16384u);
}

TEST(BodyWindows, ShortPrefixAndTinyWindow) {
  const auto wins = windowsOf("ab", std::string(20000, 'c'), 100, 7); // window raised to 8 KiB
  ASSERT_FALSE(wins.empty());
  EXPECT_EQ(wins.front().substr(0, 2), "ab");
  EXPECT_EQ(wins.front().size(), 2 * BodyWindows::kOverlap);
}

TEST(PolicyLimits, OnLimitDefaultsToBlockAndTheCapIsChecked) {
  Policy p;
  EXPECT_EQ(p.onLimit, LimitAction::Block);
  EXPECT_EQ(p.inspectBodyMaxBytes, 64ull << 20);
  ASSERT_TRUE(applyPolicyJson(R"({"inspect_body_max_bytes": 0, "on_limit": "pass"})", p));
  EXPECT_EQ(p.inspectBodyMaxBytes, 0u);
  EXPECT_EQ(p.onLimit, LimitAction::Pass);
  Policy q;
  const auto st = applyPolicyJson(R"({"inspect_body_bytes": 65536,
                                      "inspect_body_max_bytes": 1024})", q);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("policy.inspect_body_max_bytes"), std::string::npos);
}

TEST(PolicyLimits, InspectionTimeBudgetReachesTheEngine) {
  Policy p;
  EXPECT_EQ(p.inspectTimeBudgetMs, 100u);
  EXPECT_EQ(engineConfigFor(p).timeBudget, std::chrono::milliseconds(100));
  ASSERT_TRUE(applyPolicyJson(R"({"inspect_time_budget_ms": 0})", p));
  EXPECT_EQ(engineConfigFor(p).timeBudget.count(), 0); // unbounded
  ASSERT_TRUE(applyPolicyJson(R"({"inspect_time_budget_ms": 250})", p));
  EXPECT_EQ(engineConfigFor(p).timeBudget, std::chrono::milliseconds(250));
  for (const char* bad : {R"({"inspect_time_budget_ms": -1})", R"({"inspect_time_budget_ms": 60001})",
                          R"({"inspect_time_budget_ms": "fast"})"}) {
    Policy q;
    const auto st = applyPolicyJson(bad, q);
    ASSERT_FALSE(st) << bad;
    EXPECT_NE(st.error().message().find("policy.inspect_time_budget_ms"), std::string::npos)
        << st.error().message();
  }
}

} // namespace
} // namespace bulwark::filter

namespace bulwark::filter {
namespace {

TEST(TextOfWindow, TextIsUntouchedBinaryIsDropped) {
  std::string out;
  const std::string text = "name=caf\xc3\xa9\tline\r\n{\"a\": \"\xe2\x80\x94\"}";
  EXPECT_EQ(textOfWindow(text, out).data(), text.data()); // no copy for text
  std::string bin = std::string("\x00\x01\xff", 3) + "ab" + std::string("\xfe\x02", 2) +
                    "' UNION SELECT password FROM users--" + std::string("\x00{{\x07", 4) +
                    "7*7}}" + std::string("\xc3", 1);
  EXPECT_EQ(textOfWindow(bin, out), "' UNION SELECT password FROM users--");
  // runs of text between binary are kept apart by a line break
  const std::string two = std::string("\x01", 1) + "<script>alert(1)</script>" +
                          std::string("\x00\x00", 2) + "../../../etc/passwd";
  EXPECT_EQ(textOfWindow(two, out), "<script>alert(1)</script>\n../../../etc/passwd");
  EXPECT_EQ(textOfWindow(std::string(100, '\0'), out), "");
}

} // namespace
} // namespace bulwark::filter

// The rule databases linked into the library must be the ones built from the current rules:
// otherwise Engine::create silently falls back to compiling them (seconds at every start).
#include <gtest/gtest.h>

#include "ruledb.h"

namespace bulwark::detect::internal {
namespace {

TEST(RuleDbTest, PrebuiltDatabasesMatchTheRulesAndLoad) {
  for (const RuleSet set : {RuleSet::Full, RuleSet::Plain}) {
    const auto rules = ruleSet(set);
    ASSERT_FALSE(rules.empty());
    const Prebuilt p = prebuilt(set);
    if (p.size == 0) {
      GTEST_SKIP() << "no prebuilt database linked in (-DBULWARK_PREBUILT_RULES=OFF)";
    }
    EXPECT_EQ(p.fingerprint, fingerprint(rules)) << "prebuilt database is stale";
    std::string_view source;
    auto db = loadRuleSet(set, rules, &source);
    ASSERT_TRUE(db) << db.error().describe();
    EXPECT_EQ(source, "prebuilt");
    hs_free_database(*db);
  }
}

TEST(RuleDbTest, FingerprintChangesWithARule) {
  auto rules = ruleSet(RuleSet::Plain);
  const uint64_t all = fingerprint(rules);
  rules.pop_back();
  EXPECT_NE(all, fingerprint(rules));
}

TEST(RuleDbTest, CompilesAtRunTimeForAnotherRuleSet) {
  auto rules = ruleSet(RuleSet::Plain);
  rules.pop_back(); // no prebuilt database has this fingerprint
  std::string_view source;
  auto db = loadRuleSet(RuleSet::Plain, rules, &source);
  ASSERT_TRUE(db) << db.error().describe();
  EXPECT_EQ(source, "compiled");
  hs_free_database(*db);
}

} // namespace
} // namespace bulwark::detect::internal

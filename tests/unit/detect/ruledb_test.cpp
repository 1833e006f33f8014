// The rule databases linked into the library must be the ones built from the current rules:
// otherwise Engine::create silently falls back to compiling them (seconds at every start).
#include <gtest/gtest.h>

#include <string_view>

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

// Where a pattern has an empty alternative ("(?:|a)", "a||b", "a|)", a leading or trailing
// '|'), or npos. Such an alternative matches anywhere; a word list composed into a pattern
// (join in rules.cpp) with a '|' doubled or left over at a seam makes one.
size_t emptyAlternative(std::string_view p) {
  bool inClass = false;
  char prev = '('; // the start of the pattern opens an alternation like a group does
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      ++i;
      prev = 'x';
      continue;
    }
    if (inClass) {
      inClass = c != ']';
      prev = 'x';
      continue;
    }
    if (c == '[') {
      inClass = true;
      if (i + 1 < p.size() && p[i + 1] == '^') {
        ++i;
      }
      if (i + 1 < p.size() && p[i + 1] == ']') {
        ++i; // a ']' first in a class is a literal
      }
      continue;
    }
    if ((c == '|' && (prev == '(' || prev == '|')) || (c == ')' && prev == '|')) {
      return i;
    }
    if (c == '(' && p.substr(i + 1, 1) == "?") {
      i += (p.substr(i + 2, 1) == "<") ? 3 : 2; // (?: (?= (?! (?<= (?<!
    }
    prev = c;
  }
  return prev == '|' ? p.size() - 1 : std::string_view::npos;
}

TEST(RuleDbTest, EmptyAlternativeFinder) {
  EXPECT_EQ(emptyAlternative(R"re(\b(?:a|b)\()re"), std::string_view::npos);
  EXPECT_EQ(emptyAlternative(R"re([|(]\|\||(?:x))re"), std::string_view::npos);
  EXPECT_EQ(emptyAlternative("(?:|a)"), 3U);
  EXPECT_EQ(emptyAlternative("a||b"), 2U);
  EXPECT_EQ(emptyAlternative("(?:a|)"), 5U);
  EXPECT_EQ(emptyAlternative("|a"), 0U);
  EXPECT_EQ(emptyAlternative("a|"), 1U);
}

TEST(RuleDbTest, NoPatternHasAnEmptyAlternative) {
  for (const auto& r : patternRules()) {
    const size_t at = emptyAlternative(r.pattern);
    EXPECT_EQ(at, std::string_view::npos)
        << "rule " << r.id << ": empty alternative at " << at << " in " << r.pattern;
  }
}

TEST(RuleDbTest, ThePlainSetIsTheRowsMarkedPlain) {
  size_t marked = 0;
  for (const auto& r : patternRules()) {
    marked += r.reach == Reach::Plain ? 1 : 0;
  }
  const auto plain = ruleSet(RuleSet::Plain);
  EXPECT_EQ(plain.size(), marked);
  for (const PatternRule* r : plain) {
    EXPECT_EQ(r->reach, Reach::Plain) << r->id;
  }
  EXPECT_EQ(ruleSet(RuleSet::Full).size(), patternRules().size());
}

} // namespace
} // namespace bulwark::detect::internal

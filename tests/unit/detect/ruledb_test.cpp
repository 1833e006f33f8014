// The rule databases linked into the library must be the ones built from the current rules:
// otherwise Engine::create silently falls back to compiling them (seconds at every start).
#include <gtest/gtest.h>

#include <algorithm>
#include <bitset>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ruledb.h"

namespace bulwark::detect::internal {
namespace {

TEST(RuleDbTest, PrebuiltDatabasesMatchTheRulesAndLoad) {
  for (const auto& [set, name] : kRuleSets) {
    SCOPED_TRACE(name);
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

std::bitset<256> bytesOfForTest(std::string_view chars) {
  std::bitset<256> s;
  for (const char c : chars) {
    s.set(static_cast<unsigned char>(c));
  }
  return s;
}

TEST(RuleDbTest, CanMatchWithinReadsThePatternSyntax) {
  struct Case {
    std::string_view pattern;
    bool can; // over the plain token bytes: letters, digits, "-_,@"
  };
  const Case cases[] = {
      {R"(abc)", true},
      {R"(\s)", false},
      {R"(a\s+b)", false},
      {R"(a\s*b)", true},
      {R"(a\s?b)", true},
      {R"(a\s{0,3}b)", true},
      {R"(a\s{1,3}b)", false},
      {R"(a\s{2}b)", false},
      {R"(a\s{,2}b)", true},
      {R"(a\s{1,}?b)", false},
      {R"(a\s++b)", false},
      {"union select", false},
      {R"(union\ select)", false},
      {R"(a\x20b)", false},
      {R"(a\x41b)", true},
      {R"(a=b)", false},
      {R"(a\.b)", false},
      {R"(a\-b)", true},
      {R"(a.b)", true},
      {R"(a[\s]b)", false},
      {R"(a[ \t]b)", false},
      {R"(a[\s;]b)", false},
      {R"(a[\s;_]b)", true},
      {R"(a[^\s]b)", true},
      {R"(a[^a-z0-9_,@-]b)", true}, // upper-case letters
      {R"(a[^a-z0-9_,@A-Z-]b)", false},
      {R"(a[^a-z0-9_,@A-Z]b)", true},
      {R"(a[[:space:]]b)", false},
      {R"(a[[:alpha:]]b)", true},
      {R"(a[[:punct:]]b)", true},
      {R"(a[\t-\r]b)", false},
      {R"(a[!-+]b)", false},
      {R"(a[!-/]b)", true},
      {R"(a[]=]b)", false},
      {R"(a\db)", true},
      {R"(a\Db)", true},
      {R"(a\Wb)", true},
      {R"(a\w\S)", true},
      {R"((?:a|b)\s)", false},
      {R"((?:a\s|b=))", false},
      {R"((?:a\s|b))", true},
      {R"((?:a\s|b)+)", true},
      {R"((?:a\s|b\()+)", false},
      {R"((?:a\s|b\()*)", true},
      {R"(x|y\s)", true},
      {R"(x'|y\s)", false},
      {R"((a\s))", false},
      {R"((?=\s)a)", true},
      {R"((?!x)\s)", false},
      {R"((?<=;)a)", true},
      {R"((?i)a\s)", true},
      {R"((a)\1\s)", true},
      {R"(\bfoo\b)", true},
      {R"(^\s*$)", true},
      {R"(a{x}\s)", false},
      {R"(a{2}-)", true},
      {R"((?:unbalanced\s)", true},
      {R"(a\s))", true},
      {R"(+\s)", true},
      {R"(\p{L}\s)", true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(canMatchWithin(c.pattern, plainTokenBytes()), c.can) << c.pattern;
  }
  // Over hex digits; \v is vertical whitespace (\n..\r and NEL), not only VT.
  EXPECT_TRUE(canMatchWithin(R"(\baced000[0-9])", hexTokenBytes()));
  EXPECT_TRUE(canMatchWithin(R"(^\d+$)", hexTokenBytes()));
  EXPECT_FALSE(canMatchWithin("whoami", hexTokenBytes()));
  EXPECT_FALSE(canMatchWithin(R"(\bfoo_?bar)", hexTokenBytes()));
  EXPECT_TRUE(canMatchWithin(R"(a\vb)", bytesOfForTest("ab\n")));
  EXPECT_FALSE(canMatchWithin(R"(a\vb)", bytesOfForTest("ab\t")));
}

// Values that rules of the token sets must keep seeing: the rule matches the value in the plain
// database and is in the set the value's bytes route it to (a rule the syntax reading dropped
// by mistake would fail here even where the generated tokens below miss it).
TEST(RuleDbTest, TokenWitnessesReachTheirRules) {
  struct Witness {
    uint32_t id;
    std::string_view value;
  };
  const Witness witnesses[] = {
      {4023, "whoami"},
      {5009, "__proto__"},
      {5015, "templatesimpl"},
      {5017, "aced0005"},
      {5017, "ro0abxyz"},
      {5019, "__js_function"},
      {1019, "information_schema"},
      {1035, "openrowset"},
      {1051, "tempdb"},
      {1055, "1or1"},
      {1055, "--drop"},
      {1056, "unionselect"},
      {1057, "4294967296"},
      {5048, "a__b__icontains"},
  };
  const auto plain = ruleSet(RuleSet::Plain);
  auto db = compileRuleSet(plain, nullptr);
  ASSERT_TRUE(db) << db.error().describe();
  hs_scratch_t* scratch = nullptr;
  ASSERT_EQ(hs_alloc_scratch(*db, &scratch), HS_SUCCESS);
  std::set<uint32_t> token;
  std::set<uint32_t> hex;
  for (const PatternRule* r : ruleSet(RuleSet::PlainToken)) {
    token.insert(r->id);
  }
  for (const PatternRule* r : ruleSet(RuleSet::PlainHex)) {
    hex.insert(r->id);
  }
  for (const Witness& w : witnesses) {
    std::set<uint32_t> hits;
    ASSERT_EQ(scanBlock(
                  *db, w.value.data(), static_cast<unsigned>(w.value.size()), scratch,
                  [](unsigned id, unsigned long long, unsigned long long, unsigned, void* c) {
                    static_cast<std::set<uint32_t>*>(c)->insert(id);
                    return 0;
                  },
                  &hits),
              HS_SUCCESS);
    std::set<uint32_t> ids;
    for (const uint32_t i : hits) {
      ids.insert(plain[i]->id);
    }
    EXPECT_EQ(ids.count(w.id), 1U) << w.value << " does not match rule " << w.id;
    const bool allHex = std::all_of(w.value.begin(), w.value.end(), [](char c) {
      return hexTokenBytes().test(static_cast<unsigned char>(c));
    });
    EXPECT_EQ(token.count(w.id), 1U) << w.id << " left out of the plain token set";
    if (allHex) {
      EXPECT_EQ(hex.count(w.id), 1U) << w.id << " left out of the plain hex set";
    }
  }
  hs_free_scratch(scratch);
  hs_free_database(*db);
}

struct TokenSet {
  RuleSet set;
  const std::bitset<256>& bytes;
};
const TokenSet kTokenSets[] = {{RuleSet::PlainToken, plainTokenBytes()},
                               {RuleSet::PlainHex, hexTokenBytes()}};

TEST(RuleDbTest, TokenSetsAreThePlainRulesThatCanMatchTheirBytes) {
  const auto plain = ruleSet(RuleSet::Plain);
  for (const TokenSet& t : kTokenSets) {
    const auto subset = ruleSet(t.set);
    std::set<uint32_t> ids;
    for (const PatternRule* r : subset) {
      EXPECT_EQ(r->reach, Reach::Plain) << r->id;
      ids.insert(r->id);
    }
    size_t left = 0;
    for (const PatternRule* r : plain) {
      EXPECT_EQ(ids.count(r->id) == 1, canMatchWithin(r->pattern, t.bytes)) << r->id;
      left += ids.count(r->id) == 0 ? 1 : 0;
    }
    EXPECT_EQ(plain.size(), subset.size() + left);
    // A subset is worth a database only if it leaves rules out and keeps some.
    EXPECT_GT(left, 0U);
    EXPECT_GT(subset.size(), 0U);
  }
  // Hex digits are plain token bytes: the hex set is inside the token set.
  EXPECT_EQ((hexTokenBytes() & ~plainTokenBytes()).count(), 0U);
  std::set<uint32_t> token;
  for (const PatternRule* r : ruleSet(RuleSet::PlainToken)) {
    token.insert(r->id);
  }
  for (const PatternRule* r : ruleSet(RuleSet::PlainHex)) {
    EXPECT_EQ(token.count(r->id), 1U) << r->id;
  }
}

// Vectorscan, not the syntax reading, has the last word: tokens built from the words of every
// plain rule (alone, doubled, joined with the token separators, with digits; for the hex set,
// their hex letters and numbers) match no rule outside the set of their bytes.
TEST(RuleDbTest, TokensMatchOnlyRulesOfTheirTokenSet) {
  const auto plain = ruleSet(RuleSet::Plain);
  std::set<std::string> words;
  for (const PatternRule* r : plain) {
    std::string w;
    for (const char c : std::string(r->pattern) + " ") {
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
        w.push_back(c);
      } else {
        if (w.size() >= 2) {
          words.insert(w);
        }
        w.clear();
      }
    }
  }
  std::vector<std::string> tokens;
  for (const std::string& a : words) {
    tokens.push_back(a);
    tokens.push_back("1" + a + "1");
    tokens.push_back("--" + a);
    for (const char* sep : {"", "-", "_", ",", "@"}) {
      for (const std::string& b : {std::string("select"), std::string("1"), a}) {
        tokens.push_back(a + sep + b);
      }
    }
    std::string hex;
    for (const char c : a) {
      if (hexTokenBytes().test(static_cast<unsigned char>(c))) {
        hex.push_back(c);
      }
    }
    if (!hex.empty()) {
      tokens.push_back(hex);
      tokens.push_back(hex + "0");
      tokens.push_back("1" + hex);
    }
  }
  for (const char* n : {"0", "1", "42", "4294967296", "9223372036854775808", "18446744073709551616",
                        "aced0005", "deadbeef", "1e3", "0x1f", "ffffffffffffffff"}) {
    tokens.push_back(n);
  }
  ASSERT_GT(tokens.size(), 500U);
  auto db = compileRuleSet(plain, nullptr);
  ASSERT_TRUE(db) << db.error().describe();
  hs_scratch_t* scratch = nullptr;
  ASSERT_EQ(hs_alloc_scratch(*db, &scratch), HS_SUCCESS);
  struct Hits {
    std::set<unsigned> ids;
  };
  for (const TokenSet& t : kTokenSets) {
    std::set<uint32_t> ids;
    for (const PatternRule* r : ruleSet(t.set)) {
      ids.insert(r->id);
    }
    size_t scanned = 0;
    size_t matched = 0;
    for (const std::string& token : tokens) {
      const bool inside = std::all_of(token.begin(), token.end(), [&](char c) {
        return t.bytes.test(static_cast<unsigned char>(c));
      });
      if (!inside) {
        continue;
      }
      ++scanned;
      Hits hits;
      ASSERT_EQ(scanBlock(
                    *db, token.data(), static_cast<unsigned>(token.size()), scratch,
                    [](unsigned id, unsigned long long, unsigned long long, unsigned, void* c) {
                      static_cast<Hits*>(c)->ids.insert(id);
                      return 0;
                    },
                    &hits),
                HS_SUCCESS);
      matched += hits.ids.empty() ? 0 : 1;
      for (const unsigned i : hits.ids) {
        EXPECT_EQ(ids.count(plain[i]->id), 1U) << "rule " << plain[i]->id << " matches '" << token
                                               << "' but is not in its token set";
      }
    }
    EXPECT_GT(scanned, 20U);
    EXPECT_GT(matched, 0U) << "the tokens should exercise the set's rules";
  }
  hs_free_scratch(scratch);
  hs_free_database(*db);
}

} // namespace
} // namespace bulwark::detect::internal

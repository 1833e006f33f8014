// The rule registry: one row per id, unique; every pattern and known-exploit rule registered with
// its class; every id the sources emit (detector returns, engine checks) registered with the
// class it is emitted with; and every id the engine emits over the corpus and the repository's
// test data (at paranoia level 4, so that probes and token findings show too) registered.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bulwark/detect/engine.h"
#include "bulwark/detect/rule_registry.h"
#include "corpus.h"
#include "rules.h"
#include "rules_cve.h"

namespace bulwark::detect {
namespace {

namespace fs = std::filesystem;

std::string describeRule(uint32_t id) {
  const RuleInfo* r = findRule(id);
  if (r == nullptr) {
    return std::to_string(id) + " (not registered)";
  }
  return std::to_string(id) + " " + std::string(className(r->cls)) + "/" +
         std::string(ruleKindName(r->kind)) + " \"" + std::string(r->description) + "\"";
}

TEST(RuleRegistry, IdsUniqueSortedAndDescribed) {
  const auto rows = ruleRegistry();
  ASSERT_GT(rows.size(), 200u);
  std::set<uint32_t> seen;
  std::set<std::string_view> descriptions;
  for (size_t i = 0; i < rows.size(); ++i) {
    const RuleInfo& r = rows[i];
    EXPECT_TRUE(seen.insert(r.id).second) << "id used twice: " << r.id;
    if (i > 0) {
      EXPECT_LT(rows[i - 1].id, r.id) << "registry rows out of order at " << r.id;
    }
    EXPECT_FALSE(r.description.empty()) << r.id;
    EXPECT_LE(r.description.size(), 100u) << describeRule(r.id);
    EXPECT_EQ(r.description.find_first_of("\r\n\t"), std::string_view::npos) << r.id;
    EXPECT_TRUE(descriptions.insert(r.description).second)
        << "two rules with one description (one meaning, two ids?): " << describeRule(r.id);
    EXPECT_EQ(findRule(r.id), &r);
    EXPECT_EQ(ruleDescription(r.id), r.description);
  }
  EXPECT_EQ(findRule(0), nullptr);
  EXPECT_EQ(findRule(999), nullptr);
  EXPECT_EQ(findRule(920000), nullptr);
  EXPECT_TRUE(ruleDescription(16000).empty());
}

// The numbering: the thousands of an id name its class (1xxx sqli ... 14xxx scanner, in the
// order of BW_ATTACK_CLASSES); 15xxx are known exploits of any class.
TEST(RuleRegistry, IdBlockMatchesClass) {
  for (const RuleInfo& r : ruleRegistry()) {
    const uint32_t block = r.id / 1000;
    ASSERT_GE(block, 1u) << r.id;
    ASSERT_LE(block, 15u) << r.id;
    if (block == 15) {
      EXPECT_EQ(r.kind, RuleKind::KnownExploit) << describeRule(r.id);
      continue;
    }
    EXPECT_EQ(static_cast<uint32_t>(r.cls) + 1, block)
        << "id outside its class's block: " << describeRule(r.id);
  }
}

TEST(RuleRegistry, EveryPatternRuleRegisteredWithItsClass) {
  std::set<uint32_t> pattern;
  for (const auto& p : internal::patternRules()) {
    EXPECT_TRUE(pattern.insert(p.id).second) << "pattern id used twice: " << p.id;
    const RuleInfo* r = findRule(p.id);
    ASSERT_NE(r, nullptr) << "pattern rule " << p.id << " is not in rule_registry.cpp";
    EXPECT_EQ(r->cls, p.cls) << describeRule(p.id) << " vs pattern class " << className(p.cls);
    EXPECT_EQ(r->kind, RuleKind::Pattern) << describeRule(p.id);
  }
  for (const RuleInfo& r : ruleRegistry()) {
    if (r.kind == RuleKind::Pattern) {
      EXPECT_TRUE(pattern.contains(r.id)) << "registered as a pattern, no such pattern: "
                                          << describeRule(r.id);
    }
  }
}

TEST(RuleRegistry, EveryKnownExploitRuleRegisteredWithItsClass) {
  std::set<uint32_t> cve;
  for (const auto& c : internal::cveRules()) {
    EXPECT_TRUE(cve.insert(c.id).second) << "known-exploit id used twice: " << c.id;
    const RuleInfo* r = findRule(c.id);
    ASSERT_NE(r, nullptr) << "known-exploit rule " << c.id << " is not in rule_registry.cpp";
    EXPECT_EQ(r->cls, c.cls) << describeRule(c.id) << " vs " << className(c.cls);
    EXPECT_EQ(r->kind, RuleKind::KnownExploit) << describeRule(c.id);
    if (!c.cve.empty()) {
      EXPECT_TRUE(r->description.starts_with(c.cve)) << describeRule(c.id) << " names " << c.cve;
    }
  }
  for (const RuleInfo& r : ruleRegistry()) {
    if (r.kind == RuleKind::KnownExploit) {
      EXPECT_TRUE(cve.contains(r.id)) << "registered as known exploit, no such rule: "
                                      << describeRule(r.id);
    }
  }
}

// Where a code detector's ids come from: the files whose literal returns are rule ids, and the
// class the engine reports them with.
struct DetectorFile {
  const char* path;
  AttackClass cls;
};
constexpr DetectorFile kDetectorFiles[] = {
    {"detect/src/sqli.cpp", AttackClass::Sqli},     {"detect/src/xss.cpp", AttackClass::Xss},
    {"detect/src/shell.cpp", AttackClass::Rce},     {"detect/src/log4j.cpp", AttackClass::Log4shell},
    {"detect/src/lang/ldap.cpp", AttackClass::Ldapi},
};

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::map<std::string, AttackClass> classesByEnumerator() {
  return {
#define BW_X(name, label) {#name, AttackClass::name},
      BW_ATTACK_CLASSES(BW_X)
#undef BW_X
  };
}

// A source check: the literal ids the detectors return and the engine adds are registered, as
// code rules, with the class they are emitted with; and every code row names an id that some
// source emits (no stale rows).
TEST(RuleRegistry, EveryIdInTheSourcesRegistered) {
  const fs::path root = BULWARK_SOURCE_DIR;
  ASSERT_TRUE(fs::exists(root / "detect/src/engine.cpp")) << root;
  std::map<uint32_t, std::string> emitted; // id -> where
  const auto check = [&](uint32_t id, AttackClass cls, const std::string& where) {
    emitted.emplace(id, where);
    const RuleInfo* r = findRule(id);
    ASSERT_NE(r, nullptr) << where << ": rule id " << id << " is not in rule_registry.cpp";
    EXPECT_EQ(r->cls, cls) << where << ": " << describeRule(id) << " emitted as "
                           << className(cls);
    EXPECT_EQ(r->kind, RuleKind::Code) << where << ": " << describeRule(id);
  };
  const std::regex ret(R"((?:return|\?)\s+(\d{4,5})\s*[;:])");
  for (const auto& f : kDetectorFiles) {
    const std::string src = readFile(root / f.path);
    ASSERT_FALSE(src.empty()) << f.path;
    for (auto it = std::sregex_iterator(src.begin(), src.end(), ret); it != std::sregex_iterator();
         ++it) {
      const uint32_t id = static_cast<uint32_t>(std::stoul((*it)[1].str()));
      if (id >= 1000 && id < 15000) {
        check(id, f.cls, f.path);
      }
    }
  }
  // add(AttackClass::X, 13002, ...) anywhere in the engine's sources.
  const std::regex add(R"(add\(\s*AttackClass::(\w+)\s*,\s*(\d+)\s*,)");
  const auto classes = classesByEnumerator();
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(root / "detect/src")) {
    if (!e.is_regular_file() || (e.path().extension() != ".cpp" && e.path().extension() != ".h")) {
      continue;
    }
    ++files;
    const std::string src = readFile(e.path());
    for (auto it = std::sregex_iterator(src.begin(), src.end(), add); it != std::sregex_iterator();
         ++it) {
      const auto cls = classes.find((*it)[1].str());
      ASSERT_NE(cls, classes.end()) << e.path() << ": " << (*it)[0].str();
      check(static_cast<uint32_t>(std::stoul((*it)[2].str())), cls->second,
            e.path().filename().string());
    }
  }
  // Whole-request rules beside the known-exploit table (the same row shape without a CVE:
  // session fixation): {13020, "", "what", C::Protocol, check}.
  const std::string cve = readFile(root / "detect/src/rules_cve.cpp");
  const std::regex requestRule(R"re(\{\s*(\d{4,5}),\s*"",\s*"[^"]*",\s*C::(\w+),)re");
  for (auto it = std::sregex_iterator(cve.begin(), cve.end(), requestRule);
       it != std::sregex_iterator(); ++it) {
    const auto cls = classes.find((*it)[2].str());
    ASSERT_NE(cls, classes.end()) << "rules_cve.cpp: " << (*it)[0].str();
    check(static_cast<uint32_t>(std::stoul((*it)[1].str())), cls->second, "rules_cve.cpp");
  }
  EXPECT_GT(files, 10u);
  EXPECT_GT(emitted.size(), 40u);
  // A code row whose id the sources do not emit in one of the shapes above must at least be
  // named in them (an id table, a constant): otherwise the row is stale.
  std::string all;
  for (const auto& e : fs::recursive_directory_iterator(root / "detect/src")) {
    if (e.is_regular_file() && e.path().filename() != "rule_registry.cpp" &&
        (e.path().extension() == ".cpp" || e.path().extension() == ".h")) {
      all += readFile(e.path());
    }
  }
  for (const RuleInfo& r : ruleRegistry()) {
    if (r.kind == RuleKind::Code && !emitted.contains(r.id)) {
      const std::regex named("[^0-9.]" + std::to_string(r.id) + "[^0-9]");
      EXPECT_TRUE(std::regex_search(all, named))
          << "registered as a code rule, named nowhere in detect/src: " << describeRule(r.id);
    }
  }
}

// Every id the engine emits on real requests (the corpus, the repository's test data) is
// registered with the class the finding carries.
TEST(RuleRegistry, EveryEmittedIdRegistered) {
  std::vector<std::string> paths;
  const std::string dir = corpus::defaultDir();
  if (dir.empty()) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL() << "corpus not found (../shared/corpus or BULWARK_CORPUS_DIR) under CI=true";
    }
  } else {
    paths = corpus::files(dir);
    for (const char* g : {"/generalisation/benign-real.jsonl.gz",
                          "/generalisation/attacks-placed.jsonl.gz"}) {
      if (fs::exists(dir + g)) {
        paths.push_back(dir + g);
      }
    }
  }
  const std::vector<std::string> data = corpus::files(std::string(BULWARK_SOURCE_DIR) + "/tests/data");
  ASSERT_FALSE(data.empty());
  paths.insert(paths.end(), data.begin(), data.end());

  auto engine = Engine::create(EngineConfig{});
  ASSERT_TRUE(engine) << engine.error().describe();
  std::map<uint32_t, size_t> hits;
  size_t requests = 0;
  for (const auto& path : paths) {
    auto records = corpus::load(path);
    ASSERT_TRUE(records) << records.error().describe();
    for (const auto& rec : *records) {
      RequestView view = rec.view();
      view.paranoiaLevel = 4;
      const Verdict v = (*engine)->inspect(view);
      ++requests;
      for (const auto& f : v.findings) {
        ++hits[f.ruleId];
        const RuleInfo* r = findRule(f.ruleId);
        ASSERT_NE(r, nullptr) << rec.id << " (" << path << "): rule id " << f.ruleId
                              << " emitted but not registered";
        EXPECT_EQ(r->cls, f.cls) << rec.id << ": " << describeRule(f.ruleId) << " emitted as "
                                 << className(f.cls);
      }
    }
  }
  std::printf("%zu requests from %zu files, %zu distinct rule ids emitted of %zu registered\n",
              requests, paths.size(), hits.size(), ruleRegistry().size());
  EXPECT_GT(hits.size(), 100u);
}

} // namespace
} // namespace bulwark::detect

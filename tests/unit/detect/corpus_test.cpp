// Runs every corpus file (and generalisation/) through the detection engine at paranoia levels 1
// and 2 and checks the quality targets: TPR >= 97 % on attacks (class "other" excluded,
// reported separately) and TNR >= 99.5 % on benign requests, per file; real benign traffic and
// placed attacks against floors at the achieved figures (a regression fails).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "corpus.h"

namespace bulwark::detect {
namespace {

constexpr double kMinTpr = 97.0;
constexpr double kMinTnr = 99.5;

// The crs file holds the regression tests of CRS paranoia-level-2 rules as well as PL1 ones:
// at PL1 the probes among them do not count (by design), so its TPR target applies at PL2 and
// PL1 has a regression floor.
constexpr double kCrsPl1FloorTpr = 83.8;

// generalisation/: real benign traffic must pass at PL1 (target 0.1 % blocked; the floor is
// what the engine achieves, so a regression fails); attacks in 13 placements x 11 encodings.
constexpr double kRealBenignPl1MinTnr = 99.85;
constexpr double kRealBenignPl2MinTnr = 99.8;
// The targets are 95 % at PL1 and 97 % at PL2; the floors sit just below what is achieved.
constexpr double kPlacedPl1MinTpr = 97.3;
constexpr double kPlacedPl2MinTpr = 98.5;

class CorpusTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = corpus::defaultDir();
    if (dir_.empty()) {
      return;
    }
    auto engine = Engine::create(EngineConfig{});
    ASSERT_TRUE(engine) << engine.error().describe();
    std::vector<std::string> files = corpus::files(dir_);
    for (const char* g : {"/generalisation/benign-real.jsonl.gz",
                          "/generalisation/attacks-placed.jsonl.gz"}) {
      files.push_back(dir_ + g);
    }
    for (const uint8_t pl : {1, 2}) {
      report_[pl - 1] = new corpus::Report(corpus::evaluate(**engine, files, 3, {}, pl));
      std::printf("== paranoia level %u\n%s", pl, corpus::format(*report_[pl - 1]).c_str());
      for (const auto& [src, c] : report_[pl - 1]->perSource) {
        std::printf("  PL%u %-34s TPR %6.2f TNR %6.2f\n", pl, src.c_str(), c.tpr(), c.tnr());
      }
    }
  }
  static void TearDownTestSuite() {
    for (auto*& r : report_) {
      delete r;
      r = nullptr;
    }
  }

  void SetUp() override {
    if (dir_.empty()) {
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") {
        FAIL() << "corpus not found (../shared/corpus or BULWARK_CORPUS_DIR) under CI=true";
      }
      GTEST_SKIP() << "corpus not found (../shared/corpus or BULWARK_CORPUS_DIR)";
    }
    ASSERT_NE(report_[0], nullptr);
    ASSERT_NE(report_[1], nullptr);
  }

  static void expectFile(int pl, const std::string& name, double minTpr, double minTnr) {
    const corpus::Report& rep = *report_[pl - 1];
    const auto it = rep.perFile.find(name);
    ASSERT_NE(it, rep.perFile.end()) << "no corpus file " << name;
    const corpus::Counts& c = it->second;
    if (c.attacks > 0) {
      EXPECT_GE(c.tpr(), minTpr) << name << " PL" << pl << ": " << c.detected << "/" << c.attacks
                                 << " attacks detected";
      std::printf("%s PL%d: TPR %.2f %% (target %.2f %%)\n", name.c_str(), pl, c.tpr(), minTpr);
    }
    if (c.benign > 0) {
      EXPECT_GE(c.tnr(), minTnr) << name << " PL" << pl << ": " << c.passed << "/" << c.benign
                                 << " benign requests passed";
      std::printf("%s PL%d: TNR %.2f %% (target %.2f %%)\n", name.c_str(), pl, c.tnr(), minTnr);
    }
  }

  static inline std::string dir_;
  static inline corpus::Report* report_[2] = {nullptr, nullptr};
};

// One test case (the corpus is evaluated once per process and paranoia level); each file is
// checked separately and a failure names the file and the level.
TEST_F(CorpusTest, QualityTargets) {
  for (const char* file : {"mgm", "csic", "handmade-benign"}) {
    SCOPED_TRACE(file);
    expectFile(1, file, kMinTpr, kMinTnr);
    expectFile(2, file, kMinTpr, kMinTnr);
  }
  expectFile(1, "crs", kCrsPl1FloorTpr, kMinTnr);
  expectFile(2, "crs", kMinTpr, kMinTnr);
  expectFile(1, "benign-real", 0, kRealBenignPl1MinTnr);
  expectFile(2, "benign-real", 0, kRealBenignPl2MinTnr);
  expectFile(1, "attacks-placed", kPlacedPl1MinTpr, 0);
  expectFile(2, "attacks-placed", kPlacedPl2MinTpr, 0);
  // A new corpus file must be added above, or it would go unchecked.
  for (const auto& [name, counts] : report_[0]->perFile) {
    EXPECT_TRUE(name == "crs" || name == "mgm" || name == "csic" || name == "handmade-benign" ||
                name == "benign-real" || name == "attacks-placed")
        << "unchecked corpus file " << name;
    (void)counts;
  }
}

// Two sets written by hand for this project (tests/data, no third-party data): attacks the
// rules were not tuned on, and hard benign traffic (developer content, code in comments, query
// builders, odd names). The attack set must stay at the corpus target. The benign set holds
// what a signature WAF cannot pass by itself (shell snippets in a Q&A body, SQL in an issue):
// its TNR is a regression floor, printed; such paths are for policy.overrides (docs/proxy.md).
// Both at paranoia level 1 (the default).
constexpr double kHardBenignFloorTnr = 97.5;

TEST(HandWrittenSetsTest, UnseenAttacksAndHardBenign) {
  auto engine = Engine::create(EngineConfig{});
  ASSERT_TRUE(engine) << engine.error().describe();
  const std::string dir = std::string(BULWARK_SOURCE_DIR) + "/tests/data/";
  const corpus::Report r = corpus::evaluate(
      **engine, {dir + "attacks-unseen.jsonl", dir + "benign-hard.jsonl"}, 50);
  std::printf("%s", corpus::format(r).c_str());
  const auto attacks = r.perFile.find("attacks-unseen");
  const auto benign = r.perFile.find("benign-hard");
  ASSERT_NE(attacks, r.perFile.end());
  ASSERT_NE(benign, r.perFile.end());
  EXPECT_GE(attacks->second.attacks, 250u);
  EXPECT_GE(attacks->second.tpr(), kMinTpr);
  EXPECT_GE(benign->second.benign, 250u);
  EXPECT_GE(benign->second.tnr(), kHardBenignFloorTnr);
  std::printf("attacks-unseen: TPR %.2f %%; benign-hard: TNR %.2f %% (floor %.1f %%)\n",
              attacks->second.tpr(), benign->second.tnr(), kHardBenignFloorTnr);
}

} // namespace
} // namespace bulwark::detect

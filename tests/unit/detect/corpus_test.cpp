// Runs every corpus file through the detection engine and checks the quality targets of the
// detection issue: TPR >= 97 % on attacks (class "other" excluded, reported separately) and
// TNR >= 99.5 % on benign requests, per file and overall. Every file must meet both targets.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "corpus.h"

namespace bulwark::detect {
namespace {

constexpr double kMinTpr = 97.0;
constexpr double kMinTnr = 99.5;

class CorpusTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = corpus::defaultDir();
    if (dir_.empty()) {
      return;
    }
    auto engine = Engine::create(EngineConfig{});
    ASSERT_TRUE(engine) << engine.error().describe();
    report_ = new corpus::Report(corpus::evaluate(**engine, corpus::files(dir_), 3));
    std::printf("%s", corpus::format(*report_).c_str());
  }
  static void TearDownTestSuite() {
    delete report_;
    report_ = nullptr;
  }

  void SetUp() override {
    if (dir_.empty()) {
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") {
        FAIL() << "corpus not found (../shared/corpus or BULWARK_CORPUS_DIR) under CI=true";
      }
      GTEST_SKIP() << "corpus not found (../shared/corpus or BULWARK_CORPUS_DIR)";
    }
    ASSERT_NE(report_, nullptr);
  }

  static void expectFile(const std::string& name) {
    const auto it = report_->perFile.find(name);
    ASSERT_NE(it, report_->perFile.end()) << "no corpus file " << name;
    const corpus::Counts& c = it->second;
    if (c.attacks > 0) {
      EXPECT_GE(c.tpr(), kMinTpr) << name << ": " << c.detected << "/" << c.attacks
                                  << " attacks detected";
      std::printf("%s: TPR %.2f %% (target %.1f %%)\n", name.c_str(), c.tpr(), kMinTpr);
    }
    if (c.benign > 0) {
      EXPECT_GE(c.tnr(), kMinTnr) << name << ": " << c.passed << "/" << c.benign
                                  << " benign requests passed";
    }
  }

  static inline std::string dir_;
  static inline corpus::Report* report_ = nullptr;
};

// One test case (the corpus is evaluated once per process); each file is checked separately and
// a failure names the file.
TEST_F(CorpusTest, QualityTargets) {
  for (const char* file : {"crs", "mgm", "csic", "handmade-benign"}) {
    SCOPED_TRACE(file);
    expectFile(file);
  }
  EXPECT_GE(report_->overall.tpr(), kMinTpr) << "overall";
  EXPECT_GE(report_->overall.tnr(), kMinTnr) << "overall";
  // A new corpus file must be added above, or it would go unchecked.
  for (const auto& [name, counts] : report_->perFile) {
    EXPECT_TRUE(name == "crs" || name == "mgm" || name == "csic" || name == "handmade-benign")
        << "unchecked corpus file " << name;
    (void)counts;
  }
}


// Two sets written by hand for this project (tests/data, no third-party data): attacks the
// rules were not tuned on, and hard benign traffic (developer content, code in comments, query
// builders, odd names). The attack set must stay at the corpus target. The benign set holds
// what a signature WAF cannot pass by itself (shell snippets in a Q&A body, SQL in an issue):
// its TNR is a regression floor, printed; such paths are for policy.overrides (docs/proxy.md).
constexpr double kHardBenignFloorTnr = 86.0;

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

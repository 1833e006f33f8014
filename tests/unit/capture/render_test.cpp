#include <gtest/gtest.h>

#include "bulwark/capture/render.h"
#include "cases.h"
#include "golden.h"

namespace bulwark::capture {
namespace {

class RenderGoldenTest : public ::testing::TestWithParam<testcases::Case> {};

TEST_P(RenderGoldenTest, Nftables) {
  auto p = buildPlan(GetParam().input);
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_GOLDEN("capture/nft/" + GetParam().name + ".nft", renderNft(buildNftTable(*p)));
}

TEST_P(RenderGoldenTest, Iptables) {
  auto p = buildPlan(GetParam().input);
  ASSERT_TRUE(p) << p.error().describe();
  for (auto f : {Family::V4, Family::V6}) {
    if (!p->hasFamily(f)) {
      continue;
    }
    EXPECT_GOLDEN("capture/iptables/" + GetParam().name + "." + std::string(familyName(f)) +
                      ".rules",
                  renderIptablesRestore(renderIptables(*p, f)));
  }
}

TEST_P(RenderGoldenTest, Deterministic) {
  auto p = buildPlan(GetParam().input);
  ASSERT_TRUE(p);
  EXPECT_EQ(renderNft(buildNftTable(*p)), renderNft(buildNftTable(*p)));
  EXPECT_EQ(renderIptablesRestore(renderIptables(*p, Family::V4)),
            renderIptablesRestore(renderIptables(*p, Family::V4)));
}

INSTANTIATE_TEST_SUITE_P(Cases, RenderGoldenTest, ::testing::ValuesIn(testcases::all()),
                         [](const auto& param) {
                           std::string n = param.param.name;
                           for (auto& c : n) {
                             c = c == '-' ? '_' : c;
                           }
                           return n;
                         });

TEST(RenderTest, EveryRuleIsCommentedAndLoopbackComesFirst) {
  auto p = buildPlan(testcases::all()[0].input);
  ASSERT_TRUE(p);
  const auto t = buildNftTable(*p);
  for (const auto& c : t.chains) {
    for (const auto& r : c.rules) {
      EXPECT_EQ(r.comment.rfind("bulwark:", 0), 0u) << renderNftRule(r);
    }
  }
  const auto& pre = t.chains[1];
  ASSERT_EQ(pre.name, "prerouting");
  EXPECT_EQ(pre.rules.front().iifname, "lo");
  const auto ipt = renderIptables(*p, Family::V4);
  for (const auto& r : ipt.rules) {
    EXPECT_NE(r.find("--comment \"bulwark:"), std::string::npos) << r;
  }
  EXPECT_NE(ipt.rules.front().find("-i lo"), std::string::npos);
}

} // namespace
} // namespace bulwark::capture

#include <gtest/gtest.h>

#include "bulwark/capture/plan.h"

namespace bulwark::capture {
namespace {

TEST(CidrTest, ParsesAndNormalizes) {
  auto c = Cidr::parse("198.18.7.9/15");
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->str(), "198.18.0.0/15");
  EXPECT_FALSE(c->isHost());
  auto h = Cidr::parse("fd00:b::2");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->family, Family::V6);
  EXPECT_EQ(h->str(), "fd00:b::2/128");
  EXPECT_TRUE(h->isHost());
  EXPECT_EQ(Cidr::parse("fd00:b::ff/64")->str(), "fd00:b::/64");
}

TEST(CidrTest, RejectsGarbage) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4/33", "::1/129", "1.2.3.4/", "1.2.3.4/x",
                          "example.com"}) {
    EXPECT_FALSE(Cidr::parse(bad)) << bad;
  }
}

TEST(PlanTest, DefaultsFromNames) {
  auto p = buildPlan({});
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_EQ(p->appPorts, std::vector<uint16_t>{80});
  EXPECT_EQ(p->proxyPort, 26001);
  EXPECT_EQ(p->skipUid, 101u);
  ASSERT_EQ(p->skipSources.size(), 1u);
  EXPECT_EQ(p->skipSources[0].str(), "127.0.0.6/32");
}

TEST(PlanTest, SortsAndDeduplicates) {
  PlanInput in;
  in.appPorts = {8443, 80, 8443};
  in.podAddresses = {"fd00:b::2", "198.18.0.2", "198.18.0.2"};
  auto p = buildPlan(in);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->appPorts, (std::vector<uint16_t>{80, 8443}));
  ASSERT_EQ(p->podAddresses.size(), 2u);
  EXPECT_EQ(p->podAddresses[0].family, Family::V4);
}

TEST(PlanTest, AllPortsNeverCaptureProxyOrStatusPort) {
  PlanInput in;
  in.allPorts = true;
  in.excludePorts = {22};
  auto p = buildPlan(in);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->portMode, PortMode::AllExcept);
  EXPECT_EQ(p->excludePorts, (std::vector<uint16_t>{22, 10246, 26001}));
}

TEST(PlanTest, RejectsLoopsAndBadInput) {
  PlanInput loop;
  loop.appPorts = {26001};
  auto p = buildPlan(loop);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("loop"), std::string::npos);

  PlanInput none;
  none.appPorts = {};
  EXPECT_FALSE(buildPlan(none));

  PlanInput net;
  net.podAddresses = {"198.18.0.0/15"};
  EXPECT_FALSE(buildPlan(net)) << "a pod address must be one address";

  PlanInput fam;
  fam.ipv4 = false;
  fam.ipv6 = false;
  EXPECT_FALSE(buildPlan(fam));
}

} // namespace
} // namespace bulwark::capture

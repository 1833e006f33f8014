#include <gtest/gtest.h>

#include "bulwark/capture/probe.h"

namespace bulwark::capture {
namespace {

ProbeResult probeWith(bool netAdmin, bool nft, bool ipt) {
  ProbeResult p;
  p.netAdmin = netAdmin;
  if (!nft) {
    p.nftables = tl::unexpected(Error(errnoCode(EPROTONOSUPPORT), "nftables: no nf_tables"));
  }
  if (ipt) {
    p.iptables = BackendChoice{IptablesBackend::Legacy, "test"};
  } else {
    p.iptables = tl::unexpected(Error(errnoCode(ENOENT), "no iptables tools"));
  }
  return p;
}

TEST(ChooseModeTest, AutoPrefersNftablesThenIptables) {
  auto a = chooseMode(Mode::Auto, probeWith(true, true, true));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->mode, Mode::Nftables);
  auto b = chooseMode(Mode::Auto, probeWith(true, false, true));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->mode, Mode::Iptables);
  EXPECT_EQ(b->backend, IptablesBackend::Legacy);
  EXPECT_NE(b->why.find("no nf_tables"), std::string::npos) << b->why;
  auto c = chooseMode(Mode::Auto, probeWith(true, false, false));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("--mode none"), std::string::npos);
}

TEST(ChooseModeTest, MissingCapabilityNamesItAndTheAlternative) {
  for (auto m : {Mode::Auto, Mode::Nftables, Mode::Iptables}) {
    auto r = chooseMode(m, probeWith(false, true, true));
    ASSERT_FALSE(r);
    const auto& msg = r.error().message();
    EXPECT_NE(msg.find("CAP_NET_ADMIN"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--mode none"), std::string::npos) << msg;
    EXPECT_NE(msg.find("26001"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'proxy'"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line";
  }
}

TEST(ChooseModeTest, NoneNeedsNothingAndNfqueueIsNotInThisBuild) {
  auto n = chooseMode(Mode::None, probeWith(false, false, false));
  ASSERT_TRUE(n);
  EXPECT_EQ(n->mode, Mode::None);
  auto r = chooseMode(Mode::Nfqueue, probeWith(true, true, true));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not available in this build"), std::string::npos);
}

TEST(ParseModeTest, RoundTrips) {
  for (auto m : {Mode::Auto, Mode::Ebpf, Mode::Nftables, Mode::Iptables, Mode::Nfqueue,
                 Mode::None}) {
    EXPECT_EQ(parseMode(modeName(m)).value(), m);
  }
  EXPECT_FALSE(parseMode("ipchains"));
}

TEST(DetectBackendTest, TheBackendHoldingRulesWins) {
  RecordingCommandRunner run;
  run.script("iptables-legacy-save", {0, "*filter\n-A INPUT -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n",
                                      ""});
  run.script("iptables-nft-save", {0, "*nat\n-A PREROUTING -j RETURN\nCOMMIT\n", ""});
  auto b = detectIptablesBackend(run);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->backend, IptablesBackend::Legacy);
  EXPECT_NE(b->why.find("legacy 2 rules, nft 1 rules"), std::string::npos) << b->why;
}

TEST(DetectBackendTest, TieGoesToWhatIptablesIs) {
  RecordingCommandRunner run;
  run.script("iptables", {0, "iptables v1.8.9 (legacy)\n", ""});
  auto b = detectIptablesBackend(run);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->backend, IptablesBackend::Legacy);
  run.script("iptables", {0, "iptables v1.8.9 (nf_tables)\n", ""});
  EXPECT_EQ(detectIptablesBackend(run)->backend, IptablesBackend::Nft);
}

TEST(DetectBackendTest, OnlyInstalledToolsCount) {
  RecordingCommandRunner run;
  run.hide("iptables-nft-save");
  EXPECT_EQ(detectIptablesBackend(run)->backend, IptablesBackend::Legacy);
  run.hide("iptables-legacy-save");
  EXPECT_FALSE(detectIptablesBackend(run));
}

} // namespace
} // namespace bulwark::capture

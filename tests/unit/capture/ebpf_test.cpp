// eBPF capture, kernel-free: plan -> program configuration, its golden text, the holder
// protocol's JSON, the reason labels, mode choice, and the applier against fakes of the holder
// and the kernel.

#include <set>

#include <gtest/gtest.h>

#include "bulwark/capture/ebpf.h"
#include "bulwark/capture/probe.h"
#include "cases.h"
#include "golden.h"

namespace bulwark::capture {
namespace {

class EbpfGoldenTest : public ::testing::TestWithParam<testcases::Case> {};

TEST_P(EbpfGoldenTest, RendersDeterministically) {
  auto p = buildPlan(GetParam().input);
  ASSERT_TRUE(p) << p.error().describe();
  const auto text = renderEbpf(ebpfConfig(*p, true));
  EXPECT_GOLDEN("capture/ebpf/" + GetParam().name + ".txt", text);
  EXPECT_EQ(text, renderEbpf(ebpfConfig(*p, true)));
}

INSTANTIATE_TEST_SUITE_P(Cases, EbpfGoldenTest, ::testing::ValuesIn(testcases::all()),
                         [](const auto& param) {
                           std::string n = param.param.name;
                           for (auto& ch : n) {
                             if (ch == '-') {
                               ch = '_';
                             }
                           }
                           return n;
                         });

Plan podPlan() { return *buildPlan(testcases::all()[0].input); }

TEST(EbpfConfigTest, FromPlan) {
  PlanInput in;
  in.allPorts = true;
  in.excludePorts = {22};
  in.excludeCidrs = {"10.0.0.0/8", "fd00:dead::/32"};
  in.ipv6 = false;
  auto p = buildPlan(in);
  ASSERT_TRUE(p) << p.error().describe();
  const auto c = ebpfConfig(*p, false);
  EXPECT_FALSE(c.failClosed);
  EXPECT_TRUE(c.allPorts);
  EXPECT_TRUE(c.anyAddress);
  EXPECT_TRUE(c.ipv4);
  EXPECT_FALSE(c.ipv6);
  // The excluded ports keep the proxy and status ports (buildPlan adds them).
  EXPECT_EQ(c.ports, (std::vector<uint16_t>{22, 10246, 26001}));
  std::vector<std::string> skip;
  for (const auto& s : c.skipSources) {
    skip.push_back(s.str());
  }
  EXPECT_EQ(skip, (std::vector<std::string>{"10.0.0.0/8", "127.0.0.6/32", "fd00:dead::/32"}));
  EXPECT_NE(renderEbpf(c).find("fail-open (SK_PASS"), std::string::npos);
}

TEST(EbpfConfigTest, JsonRoundTripAndBadInput) {
  const auto c = ebpfConfig(podPlan(), true);
  auto back = ebpfConfigFromJson(ebpfConfigToJson(c));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(*back, c);
  EXPECT_FALSE(ebpfConfigFromJson("not json"));
  EXPECT_FALSE(ebpfConfigFromJson("[]"));
  EXPECT_FALSE(ebpfConfigFromJson(R"({"fail_closed":true})"));
  auto j = ebpfConfigToJson(c);
  j.replace(j.find("198.18.0.2"), 10, "198.18.0.x");
  EXPECT_FALSE(ebpfConfigFromJson(j));
}

TEST(EbpfConfigTest, ReasonLabelsAreUniqueAndStable) {
  const auto& l = ebpfReasonLabels();
  ASSERT_GE(l.size(), 10u);
  EXPECT_EQ(l[0], "steered");
  EXPECT_EQ(std::set<std::string_view>(l.begin(), l.end()).size(), l.size());
  for (auto s : l) {
    EXPECT_EQ(s.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string_view::npos) << s;
  }
}

TEST(EbpfConfigTest, StatusRoundTripAndMetrics) {
  HolderStatus s;
  s.attached = true;
  s.info = {7, "0123456789abcdef", 9, 1, 2, 3};
  s.config = ebpfConfig(podPlan(), true);
  s.listenerV4 = true;
  s.handoffs = 2;
  s.counters = {{"steered", 5}, {"not_tcp", 1}};
  auto back = statusFromJson(statusToJson(s));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(back->info.progTag, "0123456789abcdef");
  EXPECT_EQ(back->info.linkId, 9u);
  EXPECT_EQ(back->config, s.config);
  EXPECT_TRUE(back->listenerV4);
  EXPECT_FALSE(back->listenerV6);
  const auto m = renderEbpfMetrics(*back);
  EXPECT_NE(m.find("bulwark_ebpf_lookups_total{reason=\"steered\"} 5\n"), std::string::npos) << m;
  EXPECT_NE(m.find("bulwark_ebpf_listener{family=\"ipv6\"} 0\n"), std::string::npos) << m;
  auto err = statusFromJson(R"({"ok":false,"error":"boom"})");
  ASSERT_FALSE(err);
  EXPECT_NE(err.error().message().find("boom"), std::string::npos);
  EXPECT_FALSE(statusFromJson("{"));
}

// ---- mode choice --------------------------------------------------------------------------

ProbeResult allThere() {
  ProbeResult p;
  p.netAdmin = true;
  p.iptables = BackendChoice{IptablesBackend::Nft, "test"};
  p.ebpf.built = true;
  p.ebpfHolder = true;
  return p;
}

TEST(EbpfChooseModeTest, AutoPicksEbpfOnlyWhenEveryProbePassesAndAHolderAnswers) {
  auto a = chooseMode(Mode::Auto, allThere());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->mode, Mode::Ebpf);

  auto noHolder = allThere();
  noHolder.ebpfHolder = false;
  noHolder.ebpfHolderWhy = "nothing answers at /run/bulwark/control.sock";
  auto b = chooseMode(Mode::Auto, noHolder);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->mode, Mode::Nftables);
  EXPECT_NE(b->why.find("no eBPF holder"), std::string::npos) << b->why;

  auto noHelper = allThere();
  noHelper.ebpf.skAssign = tl::unexpected(Error(errnoCode(EINVAL), "bpf_sk_assign missing"));
  auto c = chooseMode(Mode::Auto, noHelper);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->mode, Mode::Nftables);
  EXPECT_NE(c->why.find("bpf_sk_assign missing"), std::string::npos) << c->why;

  auto noNft = noHelper;
  noNft.nftables = tl::unexpected(Error(errnoCode(EPROTONOSUPPORT), "no nf_tables"));
  auto d = chooseMode(Mode::Auto, noNft);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->mode, Mode::Iptables);
}

TEST(EbpfChooseModeTest, ExplicitEbpfNamesWhatIsMissingInOneLine) {
  auto p = allThere();
  p.ebpf.capBpf = tl::unexpected(Error(errnoCode(EPERM), "CAP_BPF missing"));
  auto r = chooseMode(Mode::Ebpf, p);
  ASSERT_FALSE(r);
  const auto& msg = r.error().message();
  EXPECT_NE(msg.find("CAP_BPF missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--mode nftables|iptables"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
  EXPECT_EQ(r.error().code().value(), EPERM);

  ProbeResult unbuilt;
  auto u = chooseMode(Mode::Ebpf, unbuilt);
  ASSERT_FALSE(u);
  EXPECT_NE(u.error().message().find("built without"), std::string::npos);
}

// ---- applier against fakes ----------------------------------------------------------------

class FakeHolder : public HolderClient {
public:
  bool running = true;
  HolderStatus state;
  int applies = 0;
  int cleanups = 0;

  Result<std::optional<HolderStatus>> status() override {
    if (!running) {
      return std::optional<HolderStatus>();
    }
    return std::optional<HolderStatus>(state);
  }
  Result<ApplyReport> apply(const EbpfConfig& cfg) override {
    ++applies;
    state.attached = true;
    state.info.progId = 42;
    state.info.progTag = "feedfacefeedface";
    state.config = cfg;
    return ApplyReport{true, {"written"}};
  }
  Result<ApplyReport> cleanup() override {
    ++cleanups;
    const bool was = state.attached;
    state = HolderStatus{};
    return ApplyReport{was, {}};
  }
};

class FakeKernel : public EbpfKernel {
public:
  std::vector<uint32_t> attached = {42};
  std::string tag = "feedfacefeedface";
  Result<std::vector<uint32_t>> attachedPrograms() override { return attached; }
  Result<std::string> expectedTag() override { return tag; }
};

TEST(EbpfApplierTest, ApplyIsIdempotentAndVerifyChecksLinkTagAndMaps) {
  FakeHolder h;
  FakeKernel k;
  auto a = makeEbpfApplier(h, k, true);
  EXPECT_EQ(a->mode(), "ebpf");
  const Plan p = podPlan();
  auto r1 = a->apply(p);
  ASSERT_TRUE(r1) << r1.error().describe();
  EXPECT_TRUE(r1->changed);
  auto r2 = a->apply(p);
  ASSERT_TRUE(r2);
  EXPECT_FALSE(r2->changed);
  EXPECT_EQ(h.applies, 1);
  auto v = a->verify(p);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok) << v->diff;

  // Drift in the maps.
  h.state.config->ports = {9090};
  v = a->verify(p);
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->ok);
  EXPECT_NE(v->diff.find("-   ports: 8080"), std::string::npos) << v->diff;
  EXPECT_NE(v->diff.find("+   ports: 9090"), std::string::npos) << v->diff;
  ASSERT_TRUE(a->apply(p));
  EXPECT_EQ(h.applies, 2);

  // Someone else's program in our place, or another build's program.
  k.attached = {7};
  v = a->verify(p);
  EXPECT_FALSE(v->ok);
  EXPECT_NE(v->diff.find("sk_lookup program 42"), std::string::npos) << v->diff;
  k.attached = {42};
  k.tag = "0000000000000000";
  v = a->verify(p);
  EXPECT_FALSE(v->ok);
  EXPECT_NE(v->diff.find("+ program tag feedfacefeedface"), std::string::npos) << v->diff;
}

TEST(EbpfApplierTest, FailPolicyIsPartOfThePlan) {
  FakeHolder h;
  FakeKernel k;
  ASSERT_TRUE(makeEbpfApplier(h, k, true)->apply(podPlan()));
  auto open = makeEbpfApplier(h, k, false);
  auto v = open->verify(podPlan());
  EXPECT_FALSE(v->ok);
  auto r = open->apply(podPlan());
  EXPECT_TRUE(r->changed);
  EXPECT_FALSE(h.state.config->failClosed);
}

TEST(EbpfApplierTest, NoHolder) {
  FakeHolder h;
  h.running = false;
  FakeKernel k;
  auto a = makeEbpfApplier(h, k, true);
  auto r = a->apply(podPlan());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("bulwark-init hold"), std::string::npos);
  auto v = a->verify(podPlan());
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->ok);
  auto c = a->cleanup();
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->changed);
}

TEST(EbpfApplierTest, CleanupDetachesOnceThenVerifyFails) {
  FakeHolder h;
  FakeKernel k;
  auto a = makeEbpfApplier(h, k, true);
  ASSERT_TRUE(a->apply(podPlan()));
  auto c1 = a->cleanup();
  ASSERT_TRUE(c1);
  EXPECT_TRUE(c1->changed);
  auto c2 = a->cleanup();
  ASSERT_TRUE(c2);
  EXPECT_FALSE(c2->changed);
  EXPECT_FALSE(a->verify(podPlan())->ok);
}

} // namespace
} // namespace bulwark::capture

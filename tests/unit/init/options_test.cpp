#include <cstdlib>

#include <gtest/gtest.h>

#include "bulwark/init/run.h"

namespace bulwark::init {
namespace {

// Sets BULWARK_* variables for one test and removes them afterwards.
class EnvGuard {
public:
  EnvGuard(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const auto& [k, v] : vars) {
      ::setenv(k, v, 1);
      names_.push_back(k);
    }
  }
  ~EnvGuard() {
    for (const auto* k : names_) {
      ::unsetenv(k);
    }
  }

private:
  std::vector<const char*> names_;
};

Result<Options> load(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "bulwark-init");
  auto args = cli::parse(static_cast<int>(argv.size()), argv.data(), initOptions(), 1);
  if (!args) {
    return tl::unexpected(args.error());
  }
  return loadOptions(*args);
}

TEST(InitOptionsTest, Defaults) {
  auto o = load({"apply"});
  ASSERT_TRUE(o) << o.error().describe();
  EXPECT_EQ(o->command, Command::Apply);
  EXPECT_EQ(o->mode, capture::Mode::Auto);
  EXPECT_EQ(o->plan.appPorts, std::vector<uint16_t>{80});
  EXPECT_EQ(o->plan.proxyPort, 26001);
  EXPECT_FALSE(o->failOpen);
  EXPECT_FALSE(o->backend);
}

TEST(InitOptionsTest, EnvironmentThenFlags) {
  EnvGuard env({{"BULWARK_APP_PORT", "8080, 8443"},
                {"BULWARK_MODE", "iptables"},
                {"BULWARK_FAIL_OPEN", "true"},
                {"BULWARK_POD_IP", "198.18.0.2,fd00:b::2"},
                {"BULWARK_IPTABLES_BACKEND", "legacy"}});
  auto o = load({"plan"});
  ASSERT_TRUE(o) << o.error().describe();
  EXPECT_EQ(o->plan.appPorts, (std::vector<uint16_t>{8080, 8443}));
  EXPECT_EQ(o->mode, capture::Mode::Iptables);
  EXPECT_TRUE(o->failOpen);
  EXPECT_EQ(o->plan.podAddresses.size(), 2u);
  EXPECT_EQ(o->backend, capture::IptablesBackend::Legacy);

  auto f = load({"plan", "--app-port", "9000", "--mode", "nftables", "--fail-closed"});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->plan.appPorts, std::vector<uint16_t>{9000});
  EXPECT_EQ(f->mode, capture::Mode::Nftables);
  EXPECT_FALSE(f->failOpen);
}

TEST(InitOptionsTest, AllPortsWithExcludes) {
  auto o = load({"plan", "--app-port", "all", "--exclude-port", "22"});
  ASSERT_TRUE(o) << o.error().describe();
  EXPECT_TRUE(o->plan.allPorts);
  EXPECT_EQ(o->plan.excludePorts, std::vector<uint16_t>{22});
  EXPECT_FALSE(load({"plan", "--app-port", "all", "--app-port", "80"}));
  EXPECT_FALSE(load({"plan", "--exclude-port", "22"}));
}

TEST(InitOptionsTest, ErrorsNameTheirSource) {
  EnvGuard env({{"BULWARK_PROXY_PORT", "0"}});
  auto o = load({"apply"});
  ASSERT_FALSE(o);
  EXPECT_NE(o.error().message().find("BULWARK_PROXY_PORT"), std::string::npos);
  auto m = load({"apply", "--mode", "ipchains"});
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message().find("--mode"), std::string::npos);
  EXPECT_FALSE(load({}));
  EXPECT_FALSE(load({"apply", "--fail-open", "--fail-closed"}));
}

TEST(InitOptionsTest, HoldAndEbpfOptions) {
  auto h = load({"hold", "--app-port", "8080", "--fail-open"});
  ASSERT_TRUE(h) << h.error().describe();
  EXPECT_EQ(h->command, Command::Hold);
  EXPECT_TRUE(h->failOpen);
  EXPECT_EQ(h->runDir, "/run/bulwark");
  EXPECT_FALSE(h->holderWaitS);
  // The webhook sets BULWARK_MODE=ebpf for the holder too; a netfilter mode makes no sense.
  EXPECT_TRUE(load({"hold", "--mode", "ebpf"}));
  auto bad = load({"hold", "--mode", "nftables"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("--mode must be ebpf"), std::string::npos);
  {
    EnvGuard env({{"BULWARK_RUN_DIR", "/tmp/x"}, {"BULWARK_HOLDER_WAIT", "3"}});
    auto e = load({"apply", "--mode", "ebpf"});
    ASSERT_TRUE(e) << e.error().describe();
    EXPECT_EQ(e->runDir, "/tmp/x");
    EXPECT_EQ(e->holderWaitS, 3u);
  }
  auto rel = load({"apply", "--run-dir", "run/bulwark"});
  ASSERT_FALSE(rel);
  EXPECT_NE(rel.error().message().find("--run-dir"), std::string::npos);
  EXPECT_FALSE(load({"apply", "--holder-wait", "forever"}));
  EXPECT_FALSE(load({"apply", "--holder-wait", "601"}));
}

} // namespace
} // namespace bulwark::init

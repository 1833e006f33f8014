#include "bulwark/filter/config.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

namespace bulwark::filter {
namespace {

Result<ProxyConfig> load(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "bulwark-proxy");
  auto args = cli::parse(static_cast<int>(argv.size()), argv.data(), proxyOptions());
  if (!args) {
    return tl::unexpected(args.error());
  }
  return loadConfig(*args);
}

std::string errorOf(std::string_view json) {
  ProxyConfig cfg;
  auto st = applyConfigJson(json, cfg);
  return st ? std::string() : st.error().message();
}

TEST(Config, DefaultsFollowDesign) {
  auto cfg = load({});
  ASSERT_TRUE(cfg) << cfg.error().describe();
  ASSERT_EQ(cfg->listen.size(), 2u);
  EXPECT_EQ(cfg->listen[0].str(), "0.0.0.0:26001");
  EXPECT_EQ(cfg->listen[1].str(), "[::]:26001");
  EXPECT_EQ(cfg->statusListen.str(), "0.0.0.0:10246");
  EXPECT_EQ(cfg->mode, Mode::Monitoring);
  EXPECT_FALSE(cfg->upstream);
  EXPECT_EQ(cfg->sourceAddress, "127.0.0.6");
}

TEST(Config, FileThenEnvThenFlags) {
  const std::string path = ::testing::TempDir() + "/bulwark-config-test.json";
  {
    std::ofstream f(path);
    f << R"({"app_port": 7000, "mode": "block", "threads": 3,
             "timeouts": {"header_ms": 1500}, "limits": {"max_headers": 20}})";
  }
  ::setenv("BULWARK_MODE", "safe_blocking", 1);
  auto cfg = load({"--config", path.c_str(), "--threads", "1", "--listen", "127.0.0.1:9"});
  ::unsetenv("BULWARK_MODE");
  ASSERT_TRUE(cfg) << cfg.error().describe();
  EXPECT_EQ(cfg->appPort, 7000);               // file
  EXPECT_EQ(cfg->mode, Mode::SafeBlocking);    // env over file
  EXPECT_EQ(cfg->threads, 1u);                 // flag over file
  EXPECT_EQ(cfg->timeouts.header.count(), 1500);
  EXPECT_EQ(cfg->limits.maxHeaders, 20u);
  ASSERT_EQ(cfg->listen.size(), 1u);
  EXPECT_FALSE(cfg->listenIsDefault);
  std::remove(path.c_str());
}

// The policy file (the cluster's policy ConfigMap) may replace the pod's own mode as
// mode-allow-override says: on (default) always, off never, strict only with a stricter mode.
TEST(Config, PolicyFileModeFollowsModeAllowOverride) {
  const std::string path = ::testing::TempDir() + "/bulwark-policy-mode-test.json";
  auto withPolicy = [&](const char* policyMode, std::vector<const char*> argv) {
    {
      std::ofstream f(path);
      f << R"({"mode": ")" << policyMode << R"("})";
    }
    argv.insert(argv.begin(), {"--policy-file", path.c_str()});
    return load(argv);
  };
  auto on = withPolicy("block", {"--mode", "monitoring"});
  ASSERT_TRUE(on) << on.error().describe();
  EXPECT_EQ(on->mode, Mode::Block);
  EXPECT_EQ(on->modeSource, "policy");

  auto off = withPolicy("block", {"--mode", "monitoring", "--mode-allow-override", "off"});
  ASSERT_TRUE(off) << off.error().describe();
  EXPECT_EQ(off->mode, Mode::Monitoring);
  EXPECT_EQ(off->modeSource, "flag");

  auto stricter = withPolicy("block", {"--mode", "monitoring", "--mode-allow-override", "strict"});
  ASSERT_TRUE(stricter) << stricter.error().describe();
  EXPECT_EQ(stricter->mode, Mode::Block);

  ::setenv("BULWARK_MODE_ALLOW_OVERRIDE", "strict", 1);
  auto laxer = withPolicy("off", {"--mode", "block"});
  ::unsetenv("BULWARK_MODE_ALLOW_OVERRIDE");
  ASSERT_TRUE(laxer) << laxer.error().describe();
  EXPECT_EQ(laxer->mode, Mode::Block);

  // A policy file without a mode leaves the pod's mode alone.
  {
    std::ofstream f(path);
    f << R"({"policy": {"deny": ["198.18.0.0/15"]}})";
  }
  auto none = load({"--policy-file", path.c_str(), "--mode", "safe_blocking"});
  ASSERT_TRUE(none) << none.error().describe();
  EXPECT_EQ(none->mode, Mode::SafeBlocking);

  // The policy file cannot grant itself the override.
  {
    std::ofstream f(path);
    f << R"({"mode": "off", "mode_allow_override": "on"})";
  }
  auto granted = load({"--policy-file", path.c_str(), "--mode", "block", "--mode-allow-override",
                       "off"});
  ASSERT_TRUE(granted) << granted.error().describe();
  EXPECT_EQ(granted->mode, Mode::Block);
  EXPECT_EQ(granted->modeAllowOverride, ModeAllowOverride::Off);

  auto bad = load({"--mode-allow-override", "maybe"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("--mode-allow-override"), std::string::npos);
  std::remove(path.c_str());
}

TEST(Config, EnvListenIsCommaSeparated) {
  ::setenv("BULWARK_LISTEN", "127.0.0.1:1, [::1]:2", 1);
  auto cfg = load({});
  ::unsetenv("BULWARK_LISTEN");
  ASSERT_TRUE(cfg);
  ASSERT_EQ(cfg->listen.size(), 2u);
  EXPECT_EQ(cfg->listen[1].str(), "[::1]:2");
}

TEST(Config, ErrorsNameTheKey) {
  EXPECT_NE(errorOf(R"({"lisen": []})").find("lisen: unknown key"), std::string::npos);
  EXPECT_NE(errorOf(R"({"limits": {"max_hedaers": 1}})").find("limits.max_hedaers"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"app_port": "80"})").find("app_port"), std::string::npos);
  EXPECT_NE(errorOf(R"({"app_port": 70000})").find("out of range"), std::string::npos);
  EXPECT_NE(errorOf(R"({"mode": "blocking"})").find("mode"), std::string::npos);
  EXPECT_NE(errorOf(R"({"listen": ["localhost:80"]})").find("listen"), std::string::npos);
  EXPECT_NE(errorOf(R"({"timeouts": {"idle_ms": -5}})").find("timeouts.idle_ms"), std::string::npos);
  EXPECT_NE(errorOf(R"({"timeouts": []})").find("timeouts"), std::string::npos);
  EXPECT_NE(errorOf(R"([1,2])").find("object"), std::string::npos);
  EXPECT_NE(errorOf("{not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(errorOf(R"({"source_address": "::1"})").find("source_address"), std::string::npos);
  EXPECT_EQ(errorOf(R"({"non_http": "close", "source_address": ""})"), "");
  // Parser context and echoed keys never break the one-line error (fuzz finding).
  EXPECT_EQ(errorOf("{\"mode\": \"block\",\n \"limits\": {\"max_headers\": 5\n").find('\n'),
            std::string::npos);
  EXPECT_EQ(errorOf("{\"bad\\nkey\": 1}").find('\n'), std::string::npos);
  EXPECT_EQ(errorOf(R"({"x": 1e99999})").find("not valid JSON"), 0u); // out-of-range number
}

TEST(Config, FlagErrorsNameTheFlag) {
  auto bad = load({"--app-port", "0"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("--app-port"), std::string::npos);
  bad = load({"--mode", "loud"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("--mode"), std::string::npos);
  bad = load({"--config", "/nonexistent/bulwark.json"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("cannot read"), std::string::npos);
  ::setenv("BULWARK_THREADS", "many", 1);
  bad = load({});
  ::unsetenv("BULWARK_THREADS");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("BULWARK_THREADS"), std::string::npos);
}

} // namespace
} // namespace bulwark::filter

#include <gtest/gtest.h>

#include "bulwark/webhook/config.h"

namespace bulwark::webhook {
namespace {

TEST(WebhookConfig, Defaults) {
  WebhookConfig cfg;
  EXPECT_EQ(cfg.listen.str(), "0.0.0.0:8443");
  EXPECT_TRUE(cfg.inject.iptablesEnable);
  EXPECT_EQ(cfg.inject.schema, Schema::Single);
  EXPECT_EQ(cfg.inject.captureMode, CaptureMode::Auto);
  EXPECT_EQ(cfg.inject.policyConfigMap, "bulwark-policy");
}

TEST(WebhookConfig, FullDocument) {
  WebhookConfig cfg;
  auto st = applyConfigJson(R"({
    "listen": "[::]:9443", "tls_cert": "/c", "tls_key": "/k", "threads": 4,
    "max_body_bytes": 1048576, "cert_check_interval_ms": 500, "log_level": "warn",
    "injection": {
      "images": {"proxy": "r/p:1", "init": "r/i:1", "helper": "r/h:1"},
      "image_pull_policy": "Always", "mode": "block", "mode_allow_override": "off",
      "capture_mode": "nftables", "iptables_enable": false, "schema": "split",
      "native_sidecar": true, "ebpf_in_auto": true, "strict": true, "holder_sidecar": "plain",
      "policy_configmap": "pol", "policy_key": "p.json",
      "resources": {"proxy": {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}},
      "secret_env": [{"name": "T", "secret": "s", "key": "k"}]
    }})",
                            cfg);
  ASSERT_TRUE(st) << st.error().describe();
  EXPECT_EQ(cfg.listen.str(), "[::]:9443");
  EXPECT_EQ(cfg.threads, 4u);
  EXPECT_EQ(cfg.inject.proxyImage, "r/p:1");
  EXPECT_EQ(cfg.inject.captureMode, CaptureMode::Nftables);
  EXPECT_FALSE(cfg.inject.iptablesEnable);
  EXPECT_EQ(cfg.inject.schema, Schema::Split);
  EXPECT_TRUE(cfg.inject.nativeSidecar);
  EXPECT_EQ(cfg.inject.holderSidecar, HolderSidecar::Plain);
  EXPECT_EQ(cfg.inject.proxyResources.requests.at("cpu"), "1");
  EXPECT_TRUE(cfg.inject.proxyResources.limits.count("memory"));
  ASSERT_EQ(cfg.inject.secretEnv.size(), 1u);
  EXPECT_EQ(cfg.inject.secretEnv[0].secret, "s");
}

TEST(WebhookConfig, Errors) {
  for (const char* doc :
       {"", "[]", R"({"nope":1})", R"({"threads":0})", R"({"listen":"localhost"})",
        R"({"injection":{"mode":"loud"}})", R"({"injection":{"capture_mode":"magic"}})",
        R"({"injection":{"iptables_enable":"true"}})",
        R"({"injection":{"resources":{"proxy":{"requests":{"cpu":"-1"}}}}})",
        R"({"injection":{"resources":{"proxy":{"requests":{"gpu":"1"}}}}})",
        R"({"injection":{"secret_env":[{"name":"T"}]}})", R"({"injection":{"schema":1}})",
        R"({"injection":{"holder_sidecar":"sometimes"}})"}) {
    WebhookConfig cfg;
    EXPECT_FALSE(applyConfigJson(doc, cfg)) << doc;
  }
}

TEST(Quantity, Syntax) {
  for (const char* q : {"0", "1", "100m", "0.5", "1.5Gi", "64Mi", "1e3", "1E-2", "2k", "+1"}) {
    EXPECT_TRUE(isQuantity(q)) << q;
  }
  for (const char* q : {"", "-1", "m", "1mi", "1 Gi", "lots", "1e", "1e1234", ".", "1Gib", "0x10"}) {
    EXPECT_FALSE(isQuantity(q)) << q;
  }
  EXPECT_LT(quantityValue("500m"), quantityValue("1"));
  EXPECT_GT(quantityValue("1Gi"), quantityValue("1G"));
}

} // namespace
} // namespace bulwark::webhook

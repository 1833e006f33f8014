// The injection plan as a value: annotations + configuration in, plain fields and warnings out,
// with no JSON Patch involved (the goldens cover the rendering).

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bulwark/webhook/plan.h"

namespace bulwark::webhook {
namespace {

using json = nlohmann::json;

json pod(json annotations = json::object(), json containers = json()) {
  if (containers.is_null()) {
    containers = json::array(
        {{{"name", "app"}, {"image", "x"}, {"ports", json::array({{{"containerPort", 8080}}})}}});
  }
  json meta = {{"name", "p"}, {"labels", {{"bulwark-sidecar", "enabled"}}}};
  if (!annotations.empty()) {
    meta["annotations"] = annotations;
  }
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta},
          {"spec", {{"containers", containers}}}};
}

InjectionPlan planOf(const json& p, const InjectConfig& cfg = {}) {
  auto d = buildPlan(p.dump(), cfg);
  EXPECT_TRUE(d.has_value());
  EXPECT_TRUE(d->plan.has_value()) << d->skipped;
  return d->plan.value_or(InjectionPlan{});
}

TEST(Plan, DefaultsComeFromTheConfiguration) {
  InjectConfig cfg;
  cfg.mode = "block";
  cfg.iptablesEnable = false;
  const auto plan = planOf(pod(), cfg);
  EXPECT_EQ(plan.mode, "block");
  EXPECT_FALSE(plan.capture);
  EXPECT_EQ(plan.appPort, 8080);
  EXPECT_EQ(plan.proxyPort, names::kProxyPort);
  EXPECT_EQ(plan.runVolume, "bulwark-run");
  EXPECT_EQ(plan.defaultContainer, "app");
  EXPECT_TRUE(plan.warnings.empty());
  EXPECT_FALSE(plan.invalid);
}

TEST(Plan, AnnotationsOverrideAndBulwarkPrefixWins) {
  const auto plan = planOf(pod({{"sidecar.wallarm.io/wallarm-mode", "off"},
                                {"sidecar.bulwark.dev/mode", "safe_blocking"},
                                {"sidecar.wallarm.io/application-port", "9090"},
                                {"sidecar.bulwark.dev/proxy-memory-limit", "512Mi"},
                                {"sidecar.wallarm.io/init-iptables-cpu", "20m"}}));
  EXPECT_EQ(plan.mode, "safe_blocking");
  EXPECT_EQ(plan.appPort, 9090);
  EXPECT_EQ(plan.proxyRes.limits.at("memory"), "512Mi");
  EXPECT_EQ(plan.initRes.requests.at("cpu"), "20m");
  EXPECT_TRUE(plan.warnings.empty());
}

TEST(Plan, InvalidValuesFallBackWithAWarningEach) {
  const auto plan = planOf(pod({{"sidecar.bulwark.dev/mode", "BLOCK"},
                                {"sidecar.bulwark.dev/proxy-port", "10246"}}));
  EXPECT_EQ(plan.mode, "monitoring");
  EXPECT_EQ(plan.proxyPort, names::kProxyPort);
  ASSERT_EQ(plan.warnings.size(), 2u);
  EXPECT_NE(plan.warnings[0].find("proxy-port"), std::string::npos); // table order
  EXPECT_NE(plan.warnings[1].find("sidecar.bulwark.dev/mode=\"BLOCK\""), std::string::npos);
  EXPECT_TRUE(plan.invalid);
}

TEST(Plan, IsAValueType) {
  const json p = pod({{"sidecar.bulwark.dev/mode", "block"}});
  const auto a = planOf(p);
  auto b = planOf(p);
  EXPECT_EQ(a, b);
  b.appPort = 1;
  EXPECT_NE(a, b);
  // Rendering depends on the plan only.
  EXPECT_EQ(renderPatch(a), renderPatch(planOf(p)));
}

TEST(Plan, SkipsAreNotPlans) {
  json p = pod();
  p["metadata"]["labels"]["bulwark-sidecar"] = "disabled";
  auto d = buildPlan(p.dump(), {});
  ASSERT_TRUE(d.has_value());
  EXPECT_FALSE(d->plan.has_value());
  EXPECT_FALSE(d->skipped.empty());
  EXPECT_FALSE(buildPlan("[1]", {}).has_value());
}

TEST(Plan, EveryKnownKeyIsReadUnderBothPrefixes) {
  for (const auto key : knownAnnotationKeys()) {
    for (const char* prefix : {"sidecar.bulwark.dev/", "sidecar.wallarm.io/"}) {
      // A value no setter accepts: the warning proves the row read it.
      const auto plan = planOf(pod({{std::string(prefix) + std::string(key), "\x01"}}));
      bool named = false;
      for (const auto& w : plan.warnings) {
        named = named || w.find(std::string(prefix) + std::string(key)) != std::string::npos;
      }
      EXPECT_TRUE(named) << prefix << key;
    }
  }
}

} // namespace
} // namespace bulwark::webhook

// The injection plan as a value: annotations + configuration in, plain fields and warnings out,
// with no JSON Patch involved (the goldens cover the rendering).

#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bulwark/webhook/availability.h"
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

TEST(Unknown, TyposNameTheNearestKeyAndAreInvalid) {
  for (const auto& [typo, want] : std::vector<std::pair<std::string, std::string>>{
           {"mdoe", "mode"},
           {"applicaton-port", "application-port"},
           {"proxy-memroy", "proxy-memory"},
           {"wallarm-mdoe", "wallarm-mode"},
           {"paranoia-levle", "paranoia-level"}}) {
    const auto plan = planOf(pod({{"sidecar.bulwark.dev/" + typo, "x"}}));
    ASSERT_EQ(plan.warnings.size(), 1u) << typo;
    EXPECT_NE(plan.warnings[0].find("did you mean sidecar.bulwark.dev/" + want + "?"),
              std::string::npos)
        << plan.warnings[0];
    EXPECT_TRUE(plan.invalid);
  }
}

TEST(Unknown, WallarmKeysSayWhatToUseInsteadAndAreNotInvalid) {
  const auto plan = planOf(pod({{"sidecar.wallarm.io/nginx-server-snippet", "x"},
                                {"sidecar.wallarm.io/wallarm-block-page", "x"},
                                {"other.example/mdoe", "x"}}));
  ASSERT_EQ(plan.warnings.size(), 2u);
  EXPECT_NE(plan.warnings[0].find("nginx-server-snippet is not supported: there is no nginx"),
            std::string::npos);
  EXPECT_NE(plan.warnings[1].find("wallarm-block-page is not supported"), std::string::npos);
  EXPECT_FALSE(plan.invalid);
}

TEST(Plan, CapturedTlsPortsAreWarnedAbout) {
  const auto tlsWarning = [](const InjectionPlan& p) {
    std::string found;
    for (const auto& w : p.warnings) {
      if (w.find("passes TLS through uninspected") != std::string::npos) {
        found = w;
      }
    }
    return found;
  };
  const json ports = json::array({{{"name", "http"}, {"containerPort", 8080}},
                                  {{"name", "https"}, {"containerPort", 8443}},
                                  {{"name", "tls-grpc"}, {"containerPort", 9443}}});
  const json containers = json::array({{{"name", "app"}, {"image", "x"}, {"ports", ports}}});
  // Only the plain port is captured: nothing to say.
  EXPECT_EQ(tlsWarning(planOf(pod(json::object(), containers))), "");
  // A captured port named https, one named tls-*, one that is 443 (declared or not).
  const auto plan = planOf(
      pod({{"sidecar.bulwark.dev/application-port", "8080,8443,9443,443"}}, containers));
  const std::string w = tlsWarning(plan);
  EXPECT_NE(w.find("443, 8443 (https), 9443 (tls-grpc)"), std::string::npos) << w;
  EXPECT_EQ(w.find("8080"), std::string::npos) << w;
  EXPECT_FALSE(plan.invalid); // a warning, not an invalid annotation
  // application-port: all captures them too.
  EXPECT_NE(tlsWarning(planOf(pod({{"sidecar.bulwark.dev/application-port", "all"}}, containers)))
                .find("8443 (https)"),
            std::string::npos);
  // An upper-case name is read the same way.
  const json upper = json::array(
      {{{"name", "app"}, {"image", "x"},
        {"ports", json::array({{{"name", "HTTPS"}, {"containerPort", 8443}}})}}});
  EXPECT_NE(tlsWarning(planOf(pod(json::object(), upper))).find("8443"), std::string::npos);
}

TEST(Plan, EventLabelsAndParanoiaLevel) {
  const auto plan = planOf(pod({{"sidecar.bulwark.dev/paranoia-level", "4"},
                                {"sidecar.bulwark.dev/application", "shop"},
                                {"sidecar.wallarm.io/wallarm-node-group", "eu-1"}}));
  EXPECT_EQ(plan.paranoiaLevel, 4);
  EXPECT_EQ(plan.application, "shop");
  EXPECT_EQ(plan.nodeGroup, "eu-1");
  for (const char* bad : {"0", "5", "2.5", "high"}) {
    const auto p = planOf(pod({{"sidecar.bulwark.dev/paranoia-level", bad}}));
    EXPECT_EQ(p.paranoiaLevel, 0) << bad;
    EXPECT_EQ(p.warnings.size(), 1u) << bad;
  }
}

TEST(Availability, SettingsTheImageCannotRunFallBackWithAWarning) {
  InjectConfig cfg;
  cfg.ebpfInAuto = true;
  const auto plan = planOf(pod({{"sidecar.bulwark.dev/capture-mode", "ebpf"},
                                {"sidecar.wallarm.io/sidecar-injection-schema", "split"}}),
                           cfg);
  ASSERT_FALSE(imageHasCaptureMode(CaptureMode::Ebpf)); // flip with the eBPF capture's golden
  ASSERT_FALSE(imageHasSchema(Schema::Split));
  EXPECT_EQ(plan.captureMode, CaptureMode::Auto);
  EXPECT_EQ(plan.schema, Schema::Single);
  EXPECT_FALSE(plan.hold);
  EXPECT_FALSE(plan.ebpfInAuto);
  EXPECT_FALSE(plan.invalid); // valid values, just not available: strict mode admits the pod
  ASSERT_EQ(plan.warnings.size(), 3u);
  EXPECT_NE(plan.warnings[0].find("capture mode ebpf is not available"), std::string::npos);
  EXPECT_NE(plan.warnings[2].find("bulwark-helper"), std::string::npos);
  const std::string patch = renderPatch(plan);
  EXPECT_EQ(patch.find("bulwark-hold"), std::string::npos);
  EXPECT_EQ(patch.find("bulwark-helper"), std::string::npos);
}

// The renderer still knows the contract of both, so enabling them is the one-line change in
// availability.h.
TEST(Availability, RendererKeepsTheHoldAndHelperContract) {
  auto plan = planOf(pod());
  plan.captureMode = CaptureMode::Ebpf;
  plan.hold = true;
  plan.schema = Schema::Split;
  const json patch = json::parse(renderPatch(plan));
  std::set<std::string> added;
  for (const auto& op : patch) {
    const auto& v = op["value"];
    for (const auto& c : v.is_array() ? v : json::array({v})) {
      if (c.is_object() && c.contains("name")) {
        added.insert(c["name"].get<std::string>());
      }
    }
  }
  EXPECT_TRUE(added.count("bulwark-hold"));
  EXPECT_TRUE(added.count("bulwark-helper"));
}

} // namespace
} // namespace bulwark::webhook

// The injection plan as a value: annotations + configuration in, plain fields and warnings out,
// with no JSON Patch involved (the goldens cover the rendering).

#include <set>
#include <tuple>

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

TEST(Plan, BlockPageConfigMapIsMountedIntoTheProxy) {
  // An existing volume with our name: ours gets a unique one.
  json p = pod({{"sidecar.bulwark.dev/block-page-configmap", "shop-page"}});
  p["spec"]["volumes"] = json::array({{{"name", "bulwark-block-page"}, {"emptyDir", json::object()}}});
  const auto plan = planOf(p);
  EXPECT_EQ(plan.blockPageConfigMap, "shop-page");
  EXPECT_EQ(plan.blockPageVolume, "bulwark-block-page-2");
  EXPECT_TRUE(plan.warnings.empty());
  const json patch = json::parse(renderPatch(plan));
  bool volume = false, mount = false, env = false;
  for (const auto& op : patch) {
    const std::string path = op["path"];
    if (path == "/spec/volumes/-" && op["value"]["name"] == plan.blockPageVolume) {
      volume = op["value"]["configMap"] == json{{"name", "shop-page"}};
    }
    if (path == "/spec/containers/-" && op["value"]["name"] == "bulwark-proxy") {
      for (const auto& m : op["value"]["volumeMounts"]) {
        mount = mount || (m["name"] == plan.blockPageVolume &&
                          m["mountPath"] == "/etc/bulwark/block-page" && m["readOnly"] == true);
      }
      for (const auto& e : op["value"]["env"]) {
        env = env || (e["name"] == "BULWARK_BLOCK_PAGE" &&
                      e["value"] == "/etc/bulwark/block-page/block.html");
      }
    }
  }
  EXPECT_TRUE(volume && mount && env) << patch.dump(1);

  // Not a ConfigMap name: a warning, the built-in page, nothing mounted.
  for (const char* bad : {"Shop_Page", "-x", "a..b"}) {
    const auto q = planOf(pod({{"sidecar.bulwark.dev/block-page-configmap", bad}}));
    EXPECT_EQ(q.blockPageConfigMap, "") << bad;
    EXPECT_EQ(q.blockPageVolume, "") << bad;
    ASSERT_EQ(q.warnings.size(), 1u) << bad;
    EXPECT_NE(q.warnings[0].find("block-page-configmap"), std::string::npos) << q.warnings[0];
    EXPECT_EQ(renderPatch(q).find("BULWARK_BLOCK_PAGE"), std::string::npos) << bad;
  }
  // The Wallarm key names the annotation to use.
  const auto w = planOf(pod({{"sidecar.wallarm.io/wallarm-block-page", "&/page.html"}}));
  ASSERT_EQ(w.warnings.size(), 1u);
  EXPECT_NE(w.warnings[0].find("use sidecar.bulwark.dev/block-page-configmap"), std::string::npos)
      << w.warnings[0];
  EXPECT_EQ(w.blockPageVolume, "");
  // Our mount path is not available to proxy-extra-volume-mounts.
  const auto m = planOf(pod(
      {{"sidecar.bulwark.dev/proxy-extra-volumes", R"([{"name":"x","emptyDir":{}}])"},
       {"sidecar.bulwark.dev/proxy-extra-volume-mounts",
        R"([{"name":"x","mountPath":"/etc/bulwark/block-page"}])"}}));
  EXPECT_EQ(m.extraMounts, "");
}

TEST(Plan, ScrapeAnnotationsOnlyWhenConfiguredAndThePodHasNone) {
  EXPECT_FALSE(planOf(pod()).scrapeAnnotations);
  EXPECT_EQ(renderPatch(planOf(pod())).find("prometheus.io"), std::string::npos);
  InjectConfig cfg;
  cfg.podScrapeAnnotations = true;
  const auto plan = planOf(pod(), cfg);
  EXPECT_TRUE(plan.scrapeAnnotations);
  EXPECT_TRUE(plan.warnings.empty());
  const json patch = json::parse(renderPatch(plan));
  json added;
  for (const auto& op : patch) {
    if (op["path"] == "/metadata/annotations") {
      added = op["value"];
    }
  }
  EXPECT_EQ(added["prometheus.io/scrape"], "true") << patch.dump(1);
  EXPECT_EQ(added["prometheus.io/port"], std::to_string(names::kStatusPort));
  EXPECT_EQ(added["prometheus.io/path"], "/metrics");
  // Any prometheus.io/* of the pod's own: nothing added, nothing overwritten, a warning.
  const auto own = planOf(pod({{"prometheus.io/port", "9090"}}), cfg);
  EXPECT_FALSE(own.scrapeAnnotations);
  ASSERT_EQ(own.warnings.size(), 1u);
  EXPECT_NE(own.warnings[0].find("not scraped"), std::string::npos) << own.warnings[0];
  EXPECT_FALSE(own.invalid);
  const std::string ownPatch = renderPatch(own);
  EXPECT_EQ(ownPatch.find("prometheus.io"), std::string::npos) << ownPatch;
}

TEST(Availability, SettingsTheImageCannotRunFallBackWithAWarning) {
  const auto plan = planOf(pod({{"sidecar.wallarm.io/sidecar-injection-schema", "split"}}));
  ASSERT_FALSE(imageHasSchema(Schema::Split));
  EXPECT_EQ(plan.schema, Schema::Single);
  EXPECT_FALSE(plan.invalid); // a valid value, just not available: strict mode admits the pod
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_NE(plan.warnings[0].find("bulwark-helper"), std::string::npos);
  EXPECT_EQ(renderPatch(plan).find("bulwark-helper"), std::string::npos);
}

// The containers a patch adds, by list, in order.
std::pair<std::vector<json>, std::vector<json>> added(const InjectionPlan& plan) {
  std::vector<json> init, containers;
  for (const auto& op : json::parse(renderPatch(plan))) {
    const std::string path = op["path"];
    const auto& v = op["value"];
    if (path.starts_with("/spec/initContainers")) {
      for (const auto& c : v.is_array() ? v : json::array({v})) {
        init.push_back(c);
      }
    } else if (path.starts_with("/spec/containers")) {
      containers.push_back(v);
    }
  }
  return {init, containers};
}

std::string envOf(const json& c, std::string_view name) {
  for (const auto& e : c.value("env", json::array())) {
    if (e["name"] == name) {
      return e.value("value", std::string("<valueFrom>"));
    }
  }
  return "<unset>";
}

TEST(Availability, EbpfInjectsTheHolderAsANativeSidecarBeforeTheInitStep) {
  InjectConfig cfg;
  cfg.kubeMajor = 1;
  cfg.kubeMinor = 29;
  const auto plan = planOf(pod({{"sidecar.bulwark.dev/capture-mode", "ebpf"}}), cfg);
  ASSERT_TRUE(imageHasCaptureMode(CaptureMode::Ebpf));
  EXPECT_EQ(plan.captureMode, CaptureMode::Ebpf);
  EXPECT_TRUE(plan.hold);
  EXPECT_TRUE(plan.warnings.empty());
  const auto [init, containers] = added(plan);
  ASSERT_EQ(init.size(), 2u);
  const json& hold = init[0];
  EXPECT_EQ(hold["name"], "bulwark-hold");
  EXPECT_EQ(hold["restartPolicy"], "Always"); // native even where the proxy is not
  EXPECT_EQ(hold["command"], json::array({"bulwark-init", "hold"}));
  EXPECT_EQ(hold["startupProbe"]["exec"]["command"],
            json::array({"bulwark-init", "verify", "--mode", "ebpf"}));
  EXPECT_EQ(hold["securityContext"]["capabilities"]["add"], json::array({"BPF", "NET_ADMIN"}));
  EXPECT_EQ(hold["securityContext"]["runAsUser"], 0);
  EXPECT_EQ(envOf(hold, "BULWARK_MODE"), "ebpf");
  EXPECT_EQ(envOf(hold, "BULWARK_FAIL_OPEN"), "false");
  EXPECT_EQ(envOf(hold, "BULWARK_APP_PORT"), "8080");
  EXPECT_EQ(envOf(hold, "BULWARK_POD_IP"), "<unset>");
  const json& initStep = init[1];
  EXPECT_EQ(initStep["name"], "bulwark-init");
  EXPECT_EQ(initStep["command"], json::array({"bulwark-init", "apply"}));
  EXPECT_FALSE(initStep["securityContext"]["capabilities"].contains("add")); // the holder works
  EXPECT_EQ(initStep["securityContext"]["runAsUser"], 0); // control.sock is the holder's (0600)
  EXPECT_EQ(envOf(initStep, "XTABLES_LOCKFILE"), "<unset>");
  for (const auto* name : {"BULWARK_MODE", "BULWARK_APP_PORT", "BULWARK_PROXY_PORT",
                           "BULWARK_FAIL_OPEN"}) {
    EXPECT_EQ(envOf(initStep, name), envOf(hold, name)) << name; // one plan for both
  }
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(envOf(containers[0], "BULWARK_EBPF_HANDOFF"), "/run/bulwark/steer.sock");
  EXPECT_TRUE(containers[0]["securityContext"]["capabilities"]["drop"] == json::array({"ALL"}));
}

TEST(Availability, EbpfWithNativeSidecarsPutsTheProxyAfterTheInitStep) {
  InjectConfig cfg;
  cfg.nativeSidecar = true;
  const auto plan = planOf(pod({{"sidecar.bulwark.dev/capture-mode", "ebpf"}}), cfg);
  const auto [init, containers] = added(plan);
  ASSERT_EQ(init.size(), 3u);
  EXPECT_EQ(init[0]["name"], "bulwark-hold");
  EXPECT_EQ(init[1]["name"], "bulwark-init");
  EXPECT_EQ(init[2]["name"], "bulwark-proxy");
  EXPECT_TRUE(containers.empty());
}

TEST(Availability, EbpfOnAClusterWithoutNativeSidecarsRunsAPlainHolderFirst) {
  InjectConfig cfg;
  cfg.kubeMajor = 1;
  cfg.kubeMinor = 28;
  const auto plan = planOf(pod({{"sidecar.bulwark.dev/capture-mode", "ebpf"}}), cfg);
  EXPECT_EQ(plan.captureMode, CaptureMode::Ebpf);
  EXPECT_TRUE(plan.hold);
  EXPECT_FALSE(plan.holdNative);
  EXPECT_TRUE(plan.warnings.empty()) << plan.warnings[0];
  const json patch = json::parse(renderPatch(plan));
  // No init step (it would run before the holder and wait for it in vain).
  EXPECT_EQ(patch.dump().find("\"bulwark-init\",\"apply\""), std::string::npos);
  const auto [init, containers] = added(plan);
  EXPECT_TRUE(init.empty());
  ASSERT_EQ(containers.size(), 2u);
  // The holder goes before the pod's own containers: the kubelet starts containers in order
  // and waits for each postStart hook, so the app starts only once steering is attached.
  const json* holdOp = nullptr;
  for (const auto& op : patch) {
    if (op["path"] == "/spec/containers/0") {
      holdOp = &op;
    }
  }
  ASSERT_NE(holdOp, nullptr) << patch.dump();
  const json& hold = (*holdOp)["value"];
  EXPECT_EQ(hold["name"], "bulwark-hold");
  EXPECT_FALSE(hold.contains("restartPolicy"));
  EXPECT_FALSE(hold.contains("startupProbe"));
  EXPECT_EQ(hold["lifecycle"]["postStart"]["exec"]["command"],
            json::array({"bulwark-init", "verify", "--mode", "ebpf", "--holder-wait", "30"}));
  EXPECT_EQ(hold["securityContext"]["capabilities"]["add"], json::array({"BPF", "NET_ADMIN"}));
  EXPECT_EQ(envOf(hold, "BULWARK_MODE"), "ebpf");
  EXPECT_EQ(envOf(hold, "BULWARK_FAIL_OPEN"), "false");
  const json& proxy = containers[1];
  EXPECT_EQ(proxy["name"], "bulwark-proxy");
  EXPECT_FALSE(proxy.contains("restartPolicy"));
  EXPECT_EQ(envOf(proxy, "BULWARK_EBPF_HANDOFF"), "/run/bulwark/steer.sock");
}

TEST(Availability, HolderSidecarSettingOverridesTheVersion) {
  InjectConfig cfg;
  cfg.kubeMajor = 1;
  cfg.kubeMinor = 28;
  cfg.holderSidecar = HolderSidecar::Native; // e.g. 1.28 with the SidecarContainers gate
  auto plan = planOf(pod({{"sidecar.bulwark.dev/capture-mode", "ebpf"}}), cfg);
  EXPECT_TRUE(plan.holdNative);
  auto [init, containers] = added(plan);
  ASSERT_EQ(init.size(), 2u);
  EXPECT_EQ(init[0]["restartPolicy"], "Always");
  EXPECT_EQ(init[1]["name"], "bulwark-init");

  cfg = InjectConfig{}; // unknown version
  cfg.holderSidecar = HolderSidecar::Plain;
  plan = planOf(pod({{"sidecar.bulwark.dev/capture-mode", "ebpf"}}), cfg);
  EXPECT_FALSE(plan.holdNative);
  std::tie(init, containers) = added(plan);
  EXPECT_TRUE(init.empty());
  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[0]["name"], "bulwark-hold");

  cfg = InjectConfig{}; // unknown version, auto: native (the webhook cannot tell)
  plan = planOf(pod({{"sidecar.bulwark.dev/capture-mode", "ebpf"}}), cfg);
  EXPECT_TRUE(plan.holdNative);
}

TEST(Availability, EbpfInAutoNeedsTheNativeHolder) {
  InjectConfig cfg;
  cfg.kubeMajor = 1;
  cfg.kubeMinor = 28;
  cfg.ebpfInAuto = true;
  auto plan = planOf(pod(), cfg);
  EXPECT_EQ(plan.captureMode, CaptureMode::Auto);
  EXPECT_FALSE(plan.hold);
  EXPECT_FALSE(plan.ebpfInAuto);
  EXPECT_FALSE(plan.invalid);
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_NE(plan.warnings[0].find("ebpf_in_auto needs Kubernetes 1.29"), std::string::npos)
      << plan.warnings[0];
  EXPECT_NE(plan.warnings[0].find("cluster 1.28"), std::string::npos);
  EXPECT_EQ(renderPatch(plan).find("bulwark-hold"), std::string::npos);
  EXPECT_EQ(renderPatch(plan).find("BULWARK_EBPF_HANDOFF"), std::string::npos);

  cfg = InjectConfig{};
  cfg.ebpfInAuto = true;
  cfg.holderSidecar = HolderSidecar::Plain;
  plan = planOf(pod(), cfg);
  EXPECT_FALSE(plan.hold);
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_NE(plan.warnings[0].find("holder_sidecar is plain"), std::string::npos);
}

TEST(Availability, AutoWithEbpfAllowedAddsAnAutoHolderWithoutAStartupProbe) {
  InjectConfig cfg;
  cfg.ebpfInAuto = true;
  cfg.kubeMajor = 1;
  cfg.kubeMinor = 33;
  const auto plan = planOf(pod(), cfg);
  EXPECT_TRUE(plan.hold);
  const auto [init, containers] = added(plan);
  ASSERT_EQ(init.size(), 2u);
  EXPECT_EQ(init[0]["name"], "bulwark-hold");
  EXPECT_EQ(envOf(init[0], "BULWARK_MODE"), "auto");
  EXPECT_FALSE(init[0].contains("startupProbe")); // an idle holder (no eBPF) must not block
  EXPECT_EQ(envOf(init[1], "BULWARK_MODE"), "auto");
  EXPECT_EQ(envOf(init[1], "XTABLES_LOCKFILE"), "/run/bulwark/xtables.lock");
  EXPECT_EQ(init[1]["securityContext"]["capabilities"]["add"],
            json::array({"BPF", "NET_ADMIN", "NET_RAW"}));
  EXPECT_EQ(envOf(containers.at(0), "BULWARK_EBPF_HANDOFF"), "/run/bulwark/steer.sock");
}

TEST(Availability, CaptureOffMeansNoHolder) {
  const auto plan = planOf(pod({{"sidecar.bulwark.dev/capture-mode", "ebpf"},
                                {"sidecar.bulwark.dev/sidecar-injection-iptables-enable",
                                 "false"}}));
  EXPECT_FALSE(plan.hold);
  EXPECT_EQ(renderPatch(plan).find("bulwark-hold"), std::string::npos);
}

// The renderer still knows the helper's contract, so enabling it is the one-line change in
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

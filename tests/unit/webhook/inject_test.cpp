#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bulwark/webhook/config.h"
#include "bulwark/webhook/inject.h"

namespace bulwark::webhook {
namespace {

using json = nlohmann::json;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string base64Decode(std::string_view in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (const char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      continue;
    }
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

// A Pod as the API server hands it to the webhook, from a kubectl fixture (Pod or workload).
json podFromFixture(const json& doc) {
  if (doc.value("kind", "") == "Pod") {
    return doc;
  }
  json tmpl = doc.value("kind", "") == "CronJob" ? doc["spec"]["jobTemplate"]["spec"]["template"]
                                                 : doc["spec"]["template"];
  json meta = tmpl.value("metadata", json::object());
  meta.erase("creationTimestamp"); // null in kubectl output; the API server sets it
  meta["generateName"] = doc["metadata"]["name"].get<std::string>() + "-";
  meta["namespace"] = "default";
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", tmpl["spec"]}};
}

json admissionReview(const json& pod, std::string uid = "3b1f7c1e-0000-4000-8000-000000000001",
                     std::string operation = "CREATE") {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", uid},
            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
            {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
            {"requestKind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
            {"namespace", pod["metadata"].value("namespace", "default")},
            {"operation", operation},
            {"userInfo", {{"username", "system:serviceaccount:kube-system:replicaset-controller"}}},
            {"object", pod},
            {"oldObject", nullptr},
            {"dryRun", false},
            {"options", {{"apiVersion", "meta.k8s.io/v1"}, {"kind", "CreateOptions"}}}}}};
}

InjectConfig configWith(const std::string& injection) {
  WebhookConfig cfg;
  if (!injection.empty()) {
    auto st = applyConfigJson(R"({"injection":)" + injection + "}", cfg);
    EXPECT_TRUE(st) << st.error().describe();
  }
  return cfg.inject;
}

struct Decoded {
  unsigned status = 0;
  json response;
  json patch;
};

Decoded decode(const Reply& reply) {
  Decoded d;
  d.status = reply.status;
  if (reply.status == 200) {
    const json doc = json::parse(reply.body);
    d.response = doc.at("response");
    if (d.response.contains("patch")) {
      EXPECT_EQ(d.response.at("patchType"), "JSONPatch");
      d.patch = json::parse(base64Decode(d.response.at("patch").get<std::string>()));
    }
  }
  return d;
}

// --- golden cases -------------------------------------------------------------------------

struct Case {
  const char* name;
  const char* fixture;
  const char* injection; // injection config overrides ("" = defaults)
};

const Case kCases[] = {
    {"deployment-httpbin", "deployment-httpbin", ""},
    {"deployment-httpbin-native", "deployment-httpbin", R"({"native_sidecar":true})"},
    {"deployment-httpbin-capture-off-default", "deployment-httpbin", R"({"iptables_enable":false})"},
    {"deployment-httpbin-secret-env", "deployment-httpbin",
     R"({"secret_env":[{"name":"BULWARK_API_TOKEN","secret":"bulwark-token","key":"token"}]})"},
    {"deployment-two-containers", "deployment-two-containers", ""},
    {"deployment-two-containers-native", "deployment-two-containers", R"({"native_sidecar":true})"},
    {"deployment-not-labelled", "deployment-not-labelled", ""},
    {"job-no-ports", "job-no-ports", ""},
    {"cronjob-native", "cronjob-native", ""},
    {"pod-named-ports", "pod-named-ports", ""},
    {"pod-udp-first", "pod-udp-first", ""},
    {"pod-existing-init-volumes", "pod-existing-init-volumes", ""},
    {"pod-existing-init-volumes-native", "pod-existing-init-volumes", R"({"native_sidecar":true})"},
    {"pod-already-injected", "pod-already-injected", ""},
    {"pod-host-network", "pod-host-network", ""},
    {"pod-hostile-annotations", "pod-hostile-annotations", ""},
    {"pod-hostile-annotations-strict", "pod-hostile-annotations", R"({"strict":true})"},
    {"pod-wallarm-annotations", "pod-wallarm-annotations", ""},
    {"pod-block-page", "pod-block-page", ""},
    {"pod-scrape-annotations", "pod-named-ports", R"({"pod_scrape_annotations":true})"},
    {"pod-ebpf", "pod-ebpf", ""},
    {"pod-ebpf-native", "pod-ebpf", R"({"native_sidecar":true})"},
    {"pod-ebpf-k8s-1.33", "pod-ebpf", R"({"kubernetes_version":"1.33"})"},
    {"pod-ebpf-k8s-1.28", "pod-ebpf", R"({"kubernetes_version":"1.28"})"},
    {"pod-ebpf-holder-plain", "pod-ebpf", R"({"holder_sidecar":"plain"})"},
    {"pod-ebpf-holder-native-k8s-1.28", "pod-ebpf",
     R"({"holder_sidecar":"native","kubernetes_version":"1.28"})"},
    {"pod-ebpf-in-auto-k8s-1.30", "deployment-httpbin",
     R"({"ebpf_in_auto":true,"kubernetes_version":"1.30"})"},
    {"pod-request-over-limit", "pod-request-over-limit", ""},
    {"pod-run-as-non-root", "pod-run-as-non-root", ""},
    {"pod-run-as-non-root-ebpf-in-auto", "pod-run-as-non-root", R"({"ebpf_in_auto":true})"},
    {"pod-label-disabled", "pod-label-disabled", ""},
    {"pod-port-collision", "pod-port-collision", ""},
    {"pod-unknown-annotations", "pod-unknown-annotations", ""},
    {"pod-unknown-annotations-strict", "pod-unknown-annotations", R"({"strict":true})"},
    {"pod-probes-ports", "pod-probes-ports", ""},
    {"pod-tls-ports", "pod-tls-ports", ""},
    {"pod-probes-ports-k8s-1.33", "pod-probes-ports", R"({"kubernetes_version":"v1.33.9"})"},
    {"pod-all-ports-k8s-1.33", "pod-all-ports", R"({"kubernetes_version":"1.33"})"},
    {"deployment-httpbin-native-k8s-1.28", "deployment-httpbin",
     R"({"native_sidecar":true,"kubernetes_version":"1.28"})"},
    {"deployment-httpbin-native-k8s-1.30", "deployment-httpbin",
     R"({"native_sidecar":true,"kubernetes_version":"1.30"})"},
};

class Golden : public testing::TestWithParam<Case> {};

void checkInvariants(const json& patched) {
  const auto& spec = patched["spec"];
  std::set<std::string> names;
  for (const auto* key : {"initContainers", "containers"}) {
    for (const auto& c : spec.value(key, json::array())) {
      EXPECT_TRUE(names.insert(c["name"].get<std::string>()).second) << "duplicate " << c["name"];
      // Never a secret value in plain env.
      for (const auto& e : c.value("env", json::array())) {
        const auto name = e["name"].get<std::string>();
        if (name.find("TOKEN") != name.npos || name.find("SECRET") != name.npos ||
            name.find("PASSWORD") != name.npos) {
          EXPECT_FALSE(e.contains("value")) << name << " must come from a Secret";
        }
      }
      const auto cname = c["name"].get<std::string>();
      if (cname == "bulwark-proxy" || cname == "bulwark-helper") {
        const auto& sc = c["securityContext"];
        EXPECT_EQ(sc["runAsUser"], 101);
        EXPECT_EQ(sc["runAsGroup"], 101);
        EXPECT_EQ(sc["runAsNonRoot"], true);
        EXPECT_EQ(sc["readOnlyRootFilesystem"], true);
        EXPECT_EQ(sc["allowPrivilegeEscalation"], false);
        EXPECT_EQ(sc["capabilities"]["drop"], json::array({"ALL"}));
        EXPECT_EQ(sc["seccompProfile"]["type"], "RuntimeDefault");
      }
      if (cname == "bulwark-proxy") {
        EXPECT_EQ(c["ports"][0]["name"], "proxy");
        EXPECT_EQ(c["ports"][1]["name"], "status");
        EXPECT_EQ(c["ports"][1]["containerPort"], 10246);
        EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
        EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
      }
    }
  }
  // eBPF capture: bulwark-hold is a native sidecar before the init step it serves, with exactly
  // CAP_BPF + CAP_NET_ADMIN; the proxy then hands its sockets to it.
  const json init = spec.value("initContainers", json::array());
  for (size_t i = 0; i < init.size(); ++i) {
    if (init[i]["name"] != "bulwark-hold") {
      continue;
    }
    EXPECT_EQ(init[i]["restartPolicy"], "Always");
    EXPECT_EQ(init[i]["securityContext"]["capabilities"]["add"],
              json::array({"BPF", "NET_ADMIN"}));
    EXPECT_EQ(init[i]["securityContext"]["allowPrivilegeEscalation"], false);
    EXPECT_TRUE(names.count("bulwark-init")) << "a holder without the init step";
    for (size_t j = 0; j < i; ++j) {
      EXPECT_NE(init[j]["name"], "bulwark-init") << "bulwark-init before bulwark-hold";
    }
    bool handoff = false;
    for (const auto* key : {"initContainers", "containers"}) {
      for (const auto& c : spec.value(key, json::array())) {
        for (const auto& e : c["name"] == "bulwark-proxy" ? c.value("env", json::array())
                                                          : json::array()) {
          handoff = handoff || (e["name"] == "BULWARK_EBPF_HANDOFF" &&
                                e["value"] == "/run/bulwark/steer.sock");
        }
      }
    }
    EXPECT_TRUE(handoff) << "the proxy does not hand its sockets to bulwark-hold";
  }
  std::set<std::string> volumes;
  for (const auto& v : spec.value("volumes", json::array())) {
    EXPECT_TRUE(volumes.insert(v["name"].get<std::string>()).second) << "duplicate volume";
  }
}

TEST_P(Golden, Matches) {
  const Case& c = GetParam();
  const std::string dir = BULWARK_GOLDEN_DIR;
  const json fixture = json::parse(readFile(dir + "/fixtures/" + c.fixture + ".json"));
  const json pod = podFromFixture(fixture);
  const InjectConfig cfg = configWith(c.injection);
  const Reply reply = review(admissionReview(pod).dump(), cfg);
  ASSERT_EQ(reply.status, 200u) << reply.body;
  const Decoded d = decode(reply);
  EXPECT_EQ(d.response["uid"], "3b1f7c1e-0000-4000-8000-000000000001");

  json golden = {{"case", c.name},
                 {"fixture", c.fixture},
                 {"config", c.injection[0] ? json::parse(c.injection) : json::object()},
                 {"allowed", d.response["allowed"]},
                 {"warnings", d.response.value("warnings", json::array())},
                 {"status", d.response.value("status", json())},
                 {"pod", pod},
                 {"patch", d.patch},
                 {"patched", nullptr}};
  if (!d.patch.is_null()) {
    const json patched = pod.patch(d.patch);
    golden["patched"] = patched;
    checkInvariants(patched);
    // Reinvocation (reinvocationPolicy: IfNeeded) must be a no-op.
    const Decoded again = decode(review(admissionReview(patched).dump(), cfg));
    EXPECT_EQ(again.status, 200u);
    EXPECT_TRUE(again.patch.is_null()) << "reinvocation changed the pod again";
  }
  const std::string text = golden.dump(2) + "\n";
  const std::string path = dir + "/" + c.name + ".golden.json";
  if (std::getenv("BULWARK_UPDATE_GOLDEN")) {
    std::ofstream(path) << text;
    GTEST_SKIP() << "rewrote " << path;
  }
  EXPECT_EQ(readFile(path), text) << "golden mismatch for " << c.name
                                  << " (BULWARK_UPDATE_GOLDEN=1 rewrites it)";
}

INSTANTIATE_TEST_SUITE_P(Webhook, Golden, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& p) {
                           std::string n = p.param.name;
                           for (auto& ch : n) {
                             ch = ch == '-' || ch == '.' ? '_' : ch;
                           }
                           return n;
                         });

// --- targeted behaviour -------------------------------------------------------------------

json simplePod(json containers, json annotations = json::object()) {
  json meta = {{"name", "p"}, {"labels", {{"bulwark-sidecar", "enabled"}}}};
  if (!annotations.empty()) {
    meta["annotations"] = annotations;
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", meta},
          {"spec", {{"containers", containers}}}};
}

json proxyOf(const json& pod, const InjectConfig& cfg = {}) {
  const Decoded d = decode(review(admissionReview(pod).dump(), cfg));
  const json patched = pod.patch(d.patch);
  for (const auto* key : {"containers", "initContainers"}) {
    for (const auto& c : patched["spec"].value(key, json::array())) {
      if (c["name"] == "bulwark-proxy") {
        return c;
      }
    }
  }
  return {};
}

std::string appPortArg(const json& proxy) {
  const auto& args = proxy["args"];
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--app-port") {
      return args[i + 1];
    }
  }
  return "";
}

TEST(AppPort, DetectionOrder) {
  const json named = json::array({{{"name", "a"},
                                   {"image", "x"},
                                   {"ports", json::array({{{"containerPort", 9000}},
                                                          {{"name", "http"}, {"containerPort", 8081}}})}}});
  EXPECT_EQ(appPortArg(proxyOf(simplePod(named))), "8081");
  EXPECT_EQ(appPortArg(proxyOf(simplePod(named, {{"sidecar.wallarm.io/application-port", "7000"}}))),
            "7000");
  const json unnamed = json::array(
      {{{"name", "a"}, {"image", "x"}, {"ports", json::array({{{"containerPort", 9000}}})}}});
  EXPECT_EQ(appPortArg(proxyOf(simplePod(unnamed))), "9000");
  const json none = json::array({{{"name", "a"}, {"image", "x"}}});
  EXPECT_EQ(appPortArg(proxyOf(simplePod(none))), "80");
}

TEST(Annotations, BulwarkPrefixWins) {
  const json c = json::array({{{"name", "a"}, {"image", "x"}}});
  const json proxy = proxyOf(simplePod(
      c, {{"sidecar.wallarm.io/wallarm-mode", "off"}, {"sidecar.bulwark.dev/mode", "block"}}));
  EXPECT_EQ(proxy["args"][1], "block");
}

TEST(Annotations, NonStringValueIsWarnedNotFatal) {
  json pod = simplePod(json::array({{{"name", "a"}, {"image", "x"}}}));
  pod["metadata"]["annotations"] = {{"sidecar.bulwark.dev/application-port", 8080}};
  const Decoded d = decode(review(admissionReview(pod).dump(), {}));
  EXPECT_EQ(d.response["allowed"], true);
  EXPECT_FALSE(d.patch.is_null());
  EXPECT_EQ(d.response["warnings"].size(), 1u);
}

TEST(Review, NotAPodCreateIsAllowedUnchanged) {
  const json pod = simplePod(json::array({{{"name", "a"}, {"image", "x"}}}));
  for (const auto* op : {"UPDATE", "DELETE", "CONNECT"}) {
    const Decoded d = decode(review(admissionReview(pod, "u", op).dump(), {}));
    EXPECT_EQ(d.status, 200u);
    EXPECT_EQ(d.response["allowed"], true);
    EXPECT_TRUE(d.patch.is_null());
  }
  json deploy = admissionReview(pod);
  deploy["request"]["kind"] = {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}};
  EXPECT_TRUE(decode(review(deploy.dump(), {})).patch.is_null());
}

TEST(Review, MalformedBodiesAre400) {
  const std::string deep(100000, '[');
  const json pod = simplePod(json::array({{{"name", "a"}, {"image", "x"}}}));
  json noUid = admissionReview(pod);
  noUid["request"].erase("uid");
  json badObject = admissionReview(pod);
  badObject["request"]["object"] = "pod";
  json v1beta1 = admissionReview(pod);
  v1beta1["apiVersion"] = "admission.k8s.io/v1beta1";
  json uidNumber = admissionReview(pod);
  uidNumber["request"]["uid"] = 42;
  for (const std::string& body :
       {std::string(), std::string("null"), std::string("[]"), std::string("{"),
        std::string("\xff\xfe"), deep, noUid.dump(), badObject.dump(), v1beta1.dump(),
        uidNumber.dump(), std::string(R"({"apiVersion":"admission.k8s.io/v1"})")}) {
    const Reply r = review(body, {});
    EXPECT_EQ(r.status, 400u) << body.substr(0, 80);
    EXPECT_EQ(r.result, ReviewResult::BadRequest);
  }
}

TEST(Review, WeirdPodShapesNeverThrow) {
  for (const char* spec :
       {R"({"containers":"x"})", R"({"containers":[1,2]})", R"({"containers":[{"ports":7}]})",
        R"({"containers":[{"name":"a","ports":[{"containerPort":"80"}]}],"volumes":{}})",
        R"({"containers":[{"name":"a"}],"initContainers":"no","hostNetwork":"yes"})", "[]",
        "null"}) {
    json pod = simplePod(json::array());
    pod["spec"] = json::parse(spec);
    const Reply r = review(admissionReview(pod).dump(), {});
    EXPECT_EQ(r.status, 200u) << spec;
  }
}

// Random byte mutations of a valid review: 200 or 400, never a crash (fuzz target in
// tests/fuzz/webhook does the same with coverage guidance).
TEST(Review, MutatedBodiesNeverCrash) {
  const std::string dir = BULWARK_GOLDEN_DIR;
  const std::string base = admissionReview(podFromFixture(json::parse(
                                               readFile(dir + "/fixtures/pod-wallarm-annotations.json"))))
                               .dump();
  std::mt19937 rng(1234);
  for (int i = 0; i < 3000; ++i) {
    std::string body = base;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % body.size();
      switch (rng() % 3) {
      case 0:
        body[pos] = static_cast<char>(rng() % 256);
        break;
      case 1:
        body.erase(pos, 1 + rng() % 16);
        break;
      default:
        body.insert(pos, 1, "{}[]\",:0\\"[rng() % 9]);
        break;
      }
      if (body.empty()) {
        body = "x";
      }
    }
    const Reply r = review(body, {});
    EXPECT_TRUE(r.status == 200 || r.status == 400);
  }
}

TEST(Review, WarningsAreBoundedAndPrintable) {
  json ann = json::object();
  for (int i = 0; i < 40; ++i) {
    ann["sidecar.bulwark.dev/proxy-cpu"] = std::string(1000, '\x01');
    ann["sidecar.bulwark.dev/helper-cpu"] = "\u202e\u0000\"<script>";
  }
  ann["sidecar.bulwark.dev/mode"] = std::string(10000, 'z');
  const Decoded d = decode(review(
      admissionReview(simplePod(json::array({{{"name", "a"}, {"image", "x"}}}), ann)).dump(), {}));
  ASSERT_TRUE(d.response.contains("warnings"));
  for (const auto& w : d.response["warnings"]) {
    const auto s = w.get<std::string>();
    EXPECT_LT(s.size(), 256u);
    for (const char ch : s) {
      EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << s;
    }
  }
}

TEST(Base64, Vectors) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64Encode(std::string("\xff\x00\x80", 3)), "/wCA");
}

TEST(JsonDepth, SkipsStrings) {
  EXPECT_EQ(jsonNestingDepth(R"({"a":[1,{"b":"[[[["}]})"), 3u);
  EXPECT_EQ(jsonNestingDepth(R"("\"[")"), 0u);
}

} // namespace
} // namespace bulwark::webhook

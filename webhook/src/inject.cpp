#include "bulwark/webhook/inject.h"

#include <algorithm>
#include <array>
#include <set>

#include <nlohmann/json.hpp>

#include "bulwark/common/cli.h"
#include "bulwark/common/names.h"

namespace bulwark::webhook {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxWarnings = 16;
constexpr size_t kMaxShownValue = 48;
constexpr std::array<std::string_view, 4> kFilterModes = {"off", "monitoring", "safe_blocking",
                                                          "block"};
constexpr std::array<std::string_view, 3> kOverrideModes = {"on", "off", "strict"};

// An annotation value as shown in a warning: truncated, printable ASCII only.
std::string shown(std::string_view v) {
  std::string out;
  for (const char c : v.substr(0, kMaxShownValue)) {
    out += (c >= 0x20 && c < 0x7f && c != '"') ? c : '?';
  }
  if (v.size() > kMaxShownValue) {
    out += "...";
  }
  return out;
}

// RFC 6901 escaping of one reference token.
std::string pointerToken(std::string_view key) {
  std::string out;
  for (const char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

bool isDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) {
    return false;
  }
  for (const char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return s.front() != '-' && s.back() != '-';
}

bool isDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  size_t start = 0;
  while (start <= s.size()) {
    const size_t dot = s.find('.', start);
    const auto part = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!isDns1123Label(part)) {
      return false;
    }
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return true;
}

// A container image reference: no whitespace or control characters, a sane length.
bool isImageRef(std::string_view s) {
  if (s.empty() || s.size() > 512) {
    return false;
  }
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '/' || c == ':' || c == '@' || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return s.front() != '-' && s.front() != ':' && s.front() != '/';
}

const json* member(const json& obj, std::string_view key) {
  if (!obj.is_object()) {
    return nullptr;
  }
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string_view stringOr(const json* v, std::string_view dflt = "") {
  return v && v->is_string() ? std::string_view(v->get_ref<const std::string&>()) : dflt;
}

// The pod's annotations, read through both prefixes; collects warnings as it goes.
class Annotations {
public:
  Annotations(const json* annotations, std::vector<std::string>& warnings, bool& invalid)
      : annotations_(annotations), warnings_(warnings), invalid_(invalid) {}

  // The value of the first of `keys` present (sidecar.bulwark.dev/ wins over the Wallarm prefix).
  std::optional<std::string> get(std::initializer_list<std::string_view> keys) {
    if (!annotations_) {
      return std::nullopt;
    }
    for (const auto prefix : {names::kAnnotationPrefix, names::kAnnotationPrefixCompat}) {
      for (const auto key : keys) {
        const std::string full = std::string(prefix) + std::string(key);
        const json* v = member(*annotations_, full);
        if (!v) {
          continue;
        }
        if (!v->is_string()) {
          bad(full, "<not a string>", "a string", "the default");
          return std::nullopt;
        }
        lastKey_ = full;
        return v->get<std::string>();
      }
    }
    return std::nullopt;
  }

  // Records an invalid value; the caller falls back to `fallback`.
  void bad(std::string_view key, std::string_view value, std::string_view expected,
           std::string_view fallback) {
    invalid_ = true;
    warn("annotation " + std::string(key) + "=\"" + shown(value) + "\" is not " +
         std::string(expected) + "; using " + std::string(fallback));
  }
  void badLast(std::string_view value, std::string_view expected, std::string_view fallback) {
    bad(lastKey_, value, expected, fallback);
  }
  void warn(std::string text) {
    if (warnings_.size() < kMaxWarnings) {
      warnings_.push_back("bulwark: " + std::move(text));
    }
  }
  const std::string& lastKey() const { return lastKey_; }

private:
  const json* annotations_;
  std::vector<std::string>& warnings_;
  bool& invalid_;
  std::string lastKey_;
};

std::optional<uint16_t> parsePort(std::string_view text) {
  const auto n = cli::parseUint(text, 1, 65535);
  return n ? std::optional<uint16_t>(static_cast<uint16_t>(*n)) : std::nullopt;
}

template <size_t N>
bool oneOf(std::string_view v, const std::array<std::string_view, N>& options) {
  return std::find(options.begin(), options.end(), v) != options.end();
}

// Resolved per-pod settings: defaults from the config, overridden by valid annotations.
struct Plan {
  Schema schema = Schema::Single;
  bool capture = true;
  CaptureMode captureMode = CaptureMode::Auto;
  uint16_t appPort = names::kDefaultAppPort;
  uint16_t proxyPort = names::kProxyPort;
  std::string mode;
  std::string modeAllowOverride;
  bool native = false;
  std::string proxyImage;
  std::string policyConfigMap;
  Resources proxyRes, helperRes, initRes;
  json extraVolumes = json::array();
  json extraMounts = json::array();
};

bool parseBool(std::string_view v, bool& out) {
  if (v == "true") {
    out = true;
    return true;
  }
  if (v == "false") {
    out = false;
    return true;
  }
  return false;
}

void resolveResources(Annotations& ann, std::string_view who, std::string_view alias,
                      Resources& res) {
  for (const auto& [suffix, isLimit, resource] :
       {std::tuple{"cpu", false, "cpu"}, std::tuple{"memory", false, "memory"},
        std::tuple{"cpu-limit", true, "cpu"}, std::tuple{"memory-limit", true, "memory"}}) {
    const std::string key = std::string(who) + "-" + suffix;
    const std::string aliasKey = alias.empty() ? key : std::string(alias) + "-" + suffix;
    auto v = ann.get({key, aliasKey});
    if (!v) {
      continue;
    }
    auto& slot = isLimit ? res.limits : res.requests;
    if (!isQuantity(*v)) {
      const auto it = slot.find(resource);
      ann.badLast(*v, "a resource quantity (e.g. 100m, 128Mi)",
                  it == slot.end() ? "none" : "\"" + it->second + "\"");
      continue;
    }
    slot[resource] = *v;
  }
  // A request above its limit makes the API server reject the pod: drop the request (the limit
  // then doubles as the request) and say so.
  for (const auto* resource : {"cpu", "memory"}) {
    const auto r = res.requests.find(resource);
    const auto l = res.limits.find(resource);
    if (r != res.requests.end() && l != res.limits.end() &&
        quantityValue(r->second) > quantityValue(l->second)) {
      ann.warn(std::string(who) + " " + resource + " request " + r->second + " exceeds limit " +
               l->second + "; request set to the limit");
      r->second = l->second;
    }
  }
}

bool validKeys(const json& obj, std::initializer_list<std::pair<std::string_view, int>> keys) {
  // int: 0 string, 1 bool, 2 integer, 3 array
  for (const auto& [k, v] : obj.items()) {
    bool ok = false;
    for (const auto& [name, type] : keys) {
      if (k == name) {
        ok = (type == 0 && v.is_string()) || (type == 1 && v.is_boolean()) ||
             (type == 2 && v.is_number_integer()) || (type == 3 && v.is_array());
      }
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool validItems(const json& obj) {
  const json* items = member(obj, "items");
  if (!items) {
    return true;
  }
  for (const auto& it : *items) {
    if (!it.is_object() || !validKeys(it, {{"key", 0}, {"path", 0}, {"mode", 2}}) ||
        !member(it, "key") || !member(it, "path")) {
      return false;
    }
  }
  return true;
}

// A Volume from the extra-volumes annotation: a name and one of a few well-understood sources,
// checked field by field so the API server never sees a shape it would reject.
bool validVolume(const json& v) {
  if (!v.is_object() || v.size() != 2 || !isDns1123Label(stringOr(member(v, "name")))) {
    return false;
  }
  for (const auto& [k, src] : v.items()) {
    if (k == "name") {
      continue;
    }
    if (!src.is_object()) {
      return false;
    }
    if (k == "configMap") {
      return validKeys(src, {{"name", 0}, {"optional", 1}, {"defaultMode", 2}, {"items", 3}}) &&
             isDns1123Subdomain(stringOr(member(src, "name"))) && validItems(src);
    }
    if (k == "secret") {
      return validKeys(src,
                       {{"secretName", 0}, {"optional", 1}, {"defaultMode", 2}, {"items", 3}}) &&
             isDns1123Subdomain(stringOr(member(src, "secretName"))) && validItems(src);
    }
    if (k == "emptyDir") {
      return validKeys(src, {{"medium", 0}, {"sizeLimit", 0}}) &&
             (stringOr(member(src, "medium")).empty() ||
              stringOr(member(src, "medium")) == "Memory") &&
             (!member(src, "sizeLimit") || isQuantity(stringOr(member(src, "sizeLimit"))));
    }
    if (k == "persistentVolumeClaim") {
      return validKeys(src, {{"claimName", 0}, {"readOnly", 1}}) &&
             isDns1123Subdomain(stringOr(member(src, "claimName")));
    }
    return false;
  }
  return false;
}

bool validMount(const json& m, const std::set<std::string>& volumeNames) {
  if (!m.is_object() ||
      !validKeys(m, {{"name", 0}, {"mountPath", 0}, {"readOnly", 1}, {"subPath", 0}})) {
    return false;
  }
  const auto name = stringOr(member(m, "name"));
  const auto path = stringOr(member(m, "mountPath"));
  const auto sub = stringOr(member(m, "subPath"));
  if (!volumeNames.count(std::string(name)) || path.empty() || path.front() != '/' ||
      path.size() > 1024 || path.find(':') != path.npos) {
    return false;
  }
  // Our own mounts and anything escaping the volume are off limits.
  if (path == names::kRunDir || path == names::kPolicyMountPath || sub.find("..") != sub.npos ||
      (!sub.empty() && sub.front() == '/')) {
    return false;
  }
  return true;
}

const json& containersOf(const json& spec, std::string_view key) {
  static const json kEmpty = json::array();
  const json* c = member(spec, key);
  return c && c->is_array() ? *c : kEmpty;
}

// Application port: annotation, else first container port named "http", else first declared
// TCP port, else 80.
uint16_t detectAppPort(const json& spec) {
  std::optional<uint16_t> firstDeclared;
  for (const auto& c : containersOf(spec, "containers")) {
    const json* ports = member(c, "ports");
    if (!ports || !ports->is_array()) {
      continue;
    }
    for (const auto& p : *ports) {
      const json* num = member(p, "containerPort");
      if (!num || !num->is_number_integer()) {
        continue;
      }
      const auto n = num->get<int64_t>();
      const auto proto = stringOr(member(p, "protocol"), "TCP");
      if (n < 1 || n > 65535 || proto != "TCP") {
        continue;
      }
      if (stringOr(member(p, "name")) == "http") {
        return static_cast<uint16_t>(n);
      }
      if (!firstDeclared) {
        firstDeclared = static_cast<uint16_t>(n);
      }
    }
  }
  return firstDeclared.value_or(names::kDefaultAppPort);
}

std::set<uint16_t> declaredPorts(const json& spec) {
  std::set<uint16_t> out;
  for (const auto* key : {"containers", "initContainers"}) {
    for (const auto& c : containersOf(spec, key)) {
      const json* ports = member(c, "ports");
      for (const auto& p : ports && ports->is_array() ? *ports : json::array()) {
        const json* num = member(p, "containerPort");
        if (num && num->is_number_integer() && num->get<int64_t>() >= 1 &&
            num->get<int64_t>() <= 65535) {
          out.insert(static_cast<uint16_t>(num->get<int64_t>()));
        }
      }
    }
  }
  return out;
}

json resourcesJson(const Resources& r) {
  json out = json::object();
  if (!r.requests.empty()) {
    out["requests"] = r.requests;
  }
  if (!r.limits.empty()) {
    out["limits"] = r.limits;
  }
  return out;
}

json capabilitiesFor(CaptureMode mode, bool ebpfInAuto) {
  switch (mode) {
  case CaptureMode::Ebpf:
    return json::array({"BPF", "NET_ADMIN"});
  case CaptureMode::Nftables:
    return json::array({"NET_ADMIN"});
  case CaptureMode::Auto:
    return ebpfInAuto ? json::array({"BPF", "NET_ADMIN", "NET_RAW"})
                      : json::array({"NET_ADMIN", "NET_RAW"});
  case CaptureMode::Iptables:
  case CaptureMode::None:
    break;
  }
  return json::array({"NET_ADMIN", "NET_RAW"});
}

// Root without privilege escalation, only the capabilities the capture mode needs.
json rootCapSecurityContext(json caps) {
  return {{"runAsUser", 0},
          {"runAsGroup", 0},
          {"runAsNonRoot", false},
          {"privileged", false},
          {"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", true},
          {"capabilities", {{"drop", json::array({"ALL"})}, {"add", std::move(caps)}}},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

json proxySecurityContext(bool bindService) {
  json caps = {{"drop", json::array({"ALL"})}};
  if (bindService) {
    caps["add"] = json::array({"NET_BIND_SERVICE"});
  }
  return {{"runAsUser", names::kProxyUid},
          {"runAsGroup", names::kProxyGid},
          {"runAsNonRoot", true},
          {"privileged", false},
          {"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", true},
          {"capabilities", std::move(caps)},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

json podInfoEnv() {
  return json::array(
      {{{"name", "POD_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
       {{"name", "POD_NAMESPACE"},
        {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}}});
}

json probe(std::string_view path, int period) {
  return {{"httpGet", {{"path", path}, {"port", names::kStatusPort}, {"scheme", "HTTP"}}},
          {"periodSeconds", period},
          {"timeoutSeconds", 2},
          {"failureThreshold", 3}};
}

std::string uniqueName(std::string_view base, const std::set<std::string>& taken) {
  std::string name(base);
  for (int i = 2; taken.count(name); ++i) {
    name = std::string(base) + "-" + std::to_string(i);
  }
  return name;
}

Outcome skip(std::string why, std::vector<std::string> warnings = {}) {
  Outcome o;
  o.skipped = std::move(why);
  o.warnings = std::move(warnings);
  return o;
}

Outcome inject(const json& pod, const InjectConfig& cfg) {
  const json* metadata = member(pod, "metadata");
  const json* labels = metadata ? member(*metadata, "labels") : nullptr;
  const json* annotations = metadata ? member(*metadata, "annotations") : nullptr;
  if (annotations && !annotations->is_object()) {
    annotations = nullptr;
  }

  // Opt-in: the Bulwark label decides when present, else the Wallarm one.
  const json* own = labels ? member(*labels, names::kOptInLabel) : nullptr;
  const json* compat = labels ? member(*labels, names::kOptInLabelCompat) : nullptr;
  const std::string_view optIn = own ? stringOr(own) : stringOr(compat);
  if (optIn != names::kOptInValue) {
    return skip("not opted in (label bulwark-sidecar or wallarm-sidecar is not \"enabled\")");
  }

  for (const auto prefix : {names::kAnnotationPrefix, names::kAnnotationPrefixCompat}) {
    if (annotations &&
        member(*annotations, std::string(prefix) + std::string(names::kStatusAnnotation))) {
      return skip("already injected (status annotation present)");
    }
  }
  const json* spec = member(pod, "spec");
  if (!spec || containersOf(*spec, "containers").empty()) {
    return skip("pod has no containers", {"bulwark: pod spec has no containers; not injected"});
  }
  const json& containers = containersOf(*spec, "containers");
  std::set<std::string> containerNames;
  for (const auto* key : {"containers", "initContainers", "ephemeralContainers"}) {
    for (const auto& c : containersOf(*spec, key)) {
      containerNames.insert(std::string(stringOr(member(c, "name"))));
    }
  }
  if (containerNames.count(std::string(names::kProxyContainerName))) {
    return skip("already injected (container bulwark-proxy present)");
  }
  for (const auto name : {names::kInitContainerName, names::kHelperContainerName,
                          names::kHoldContainerName}) {
    if (containerNames.count(std::string(name))) {
      return skip("container name conflict",
                  {"bulwark: the pod already has a container named " + std::string(name) +
                   "; not injected"});
    }
  }

  Outcome out;
  bool invalid = false;
  Annotations ann(annotations, out.warnings, invalid);
  Plan plan;
  plan.schema = cfg.schema;
  plan.captureMode = cfg.captureMode;
  plan.capture = cfg.iptablesEnable;
  plan.mode = cfg.mode;
  plan.modeAllowOverride = cfg.modeAllowOverride;
  plan.native = cfg.nativeSidecar;
  plan.proxyImage = cfg.proxyImage;
  plan.policyConfigMap = cfg.policyConfigMap;
  plan.proxyRes = cfg.proxyResources;
  plan.helperRes = cfg.helperResources;
  plan.initRes = cfg.initResources;

  if (auto v = ann.get({"sidecar-injection-schema"})) {
    if (*v == "single") {
      plan.schema = Schema::Single;
    } else if (*v == "split") {
      plan.schema = Schema::Split;
    } else {
      ann.badLast(*v, "single|split", cfg.schema == Schema::Split ? "split" : "single");
    }
  }
  if (auto v = ann.get({"sidecar-injection-iptables-enable"})) {
    // Like the Wallarm sidecar: anything but "true" turns capture off (the safe side: no
    // capabilities needed, the pod still starts; clients use the "proxy" port).
    if (!parseBool(*v, plan.capture)) {
      ann.badLast(*v, "true|false", "false (capture off)");
      plan.capture = false;
    }
  }
  if (auto v = ann.get({"capture-mode"})) {
    CaptureMode m{};
    if (parseCaptureMode(*v, m)) {
      plan.captureMode = m;
    } else {
      ann.badLast(*v, "auto|ebpf|nftables|iptables|none",
                  std::string(captureModeName(cfg.captureMode)));
    }
  }
  if (plan.captureMode == CaptureMode::None) {
    plan.capture = false;
  }
  const uint16_t detected = detectAppPort(*spec);
  plan.appPort = detected;
  if (auto v = ann.get({"application-port"})) {
    if (auto p = parsePort(*v)) {
      plan.appPort = *p;
    } else {
      ann.badLast(*v, "a port 1-65535", std::to_string(detected));
    }
  }
  if (auto v = ann.get({"proxy-port", "nginx-listen-port"})) {
    auto p = parsePort(*v);
    if (!p) {
      ann.badLast(*v, "a port 1-65535", std::to_string(names::kProxyPort));
    } else if (*p == names::kStatusPort || *p == plan.appPort) {
      ann.badLast(*v, "free (it is the status or application port)",
                  std::to_string(names::kProxyPort));
    } else {
      plan.proxyPort = *p;
    }
  }
  // The proxy shares the pod's network namespace: its ports must not be the app's.
  std::set<uint16_t> declared = declaredPorts(*spec);
  declared.insert(plan.appPort);
  if (declared.count(plan.proxyPort)) {
    uint16_t p = names::kProxyPort;
    while (declared.count(p) || p == names::kStatusPort) {
      ++p;
    }
    ann.warn("proxy port " + std::to_string(plan.proxyPort) +
             " is used by the application; the proxy listens on " + std::to_string(p));
    plan.proxyPort = p;
  }
  if (declared.count(names::kStatusPort)) {
    ann.warn("the application declares the status port " +
             std::to_string(names::kStatusPort) + "; the proxy's probes may fail");
  }
  if (auto v = ann.get({"mode", "wallarm-mode"})) {
    if (oneOf(*v, kFilterModes)) {
      plan.mode = *v;
    } else {
      ann.badLast(*v, "off|monitoring|safe_blocking|block", cfg.mode);
    }
  }
  if (auto v = ann.get({"mode-allow-override", "wallarm-mode-allow-override"})) {
    if (oneOf(*v, kOverrideModes)) {
      plan.modeAllowOverride = *v;
    } else {
      ann.badLast(*v, "on|off|strict", cfg.modeAllowOverride);
    }
  }
  if (auto v = ann.get({"native-sidecar"})) {
    if (!parseBool(*v, plan.native)) {
      ann.badLast(*v, "true|false", cfg.nativeSidecar ? "true" : "false");
    }
  }
  if (auto v = ann.get({"proxy-image"})) {
    if (isImageRef(*v)) {
      plan.proxyImage = *v;
    } else {
      ann.badLast(*v, "an image reference", cfg.proxyImage);
    }
  }
  if (auto v = ann.get({"policy-configmap"})) {
    if (isDns1123Subdomain(*v)) {
      plan.policyConfigMap = *v;
    } else {
      ann.badLast(*v, "a ConfigMap name", cfg.policyConfigMap);
    }
  }
  resolveResources(ann, "proxy", "", plan.proxyRes);
  resolveResources(ann, "helper", "", plan.helperRes);
  resolveResources(ann, "init", "init-iptables", plan.initRes);

  if (const json* hn = member(*spec, "hostNetwork"); hn && hn->is_boolean() && hn->get<bool>()) {
    if (plan.capture) {
      ann.warn("hostNetwork pod: traffic is not captured (it would change the node's network); "
               "clients must use the proxy port");
    }
    plan.capture = false;
  }

  // Names of our volumes, unique within the pod.
  std::set<std::string> volumeNames;
  const json& podVolumes = containersOf(*spec, "volumes");
  for (const auto& v : podVolumes) {
    volumeNames.insert(std::string(stringOr(member(v, "name"))));
  }
  const std::string runVolume = uniqueName(names::kRunVolumeName, volumeNames);
  volumeNames.insert(runVolume);
  const std::string policyVolume = uniqueName(names::kPolicyVolumeName, volumeNames);
  volumeNames.insert(policyVolume);

  if (auto v = ann.get({"proxy-extra-volumes"})) {
    json parsed = jsonNestingDepth(*v) <= 8 ? json::parse(*v, nullptr, false) : json();
    bool ok = parsed.is_array() && parsed.size() <= 16;
    std::set<std::string> names = volumeNames;
    for (const auto& vol : ok ? parsed : json::array()) {
      ok = ok && validVolume(vol) && names.insert(vol["name"].get<std::string>()).second;
    }
    if (ok) {
      plan.extraVolumes = std::move(parsed);
      volumeNames = std::move(names);
    } else {
      ann.badLast(*v, "a JSON array of volumes (configMap, secret, emptyDir, "
                      "persistentVolumeClaim) with new names",
                  "none");
    }
  }
  if (auto v = ann.get({"proxy-extra-volume-mounts"})) {
    json parsed = jsonNestingDepth(*v) <= 8 ? json::parse(*v, nullptr, false) : json();
    bool ok = parsed.is_array() && parsed.size() <= 16;
    std::set<std::string> paths;
    for (const auto& m : ok ? parsed : json::array()) {
      ok = ok && validMount(m, volumeNames) &&
           paths.insert(m["mountPath"].get<std::string>()).second;
    }
    if (ok) {
      plan.extraMounts = std::move(parsed);
    } else {
      ann.badLast(*v, "a JSON array of volume mounts of known volumes", "none");
    }
  }

  if (invalid && cfg.strict) {
    std::string why;
    for (const auto& w : out.warnings) {
      why += (why.empty() ? "" : "; ") + w;
    }
    out.denied = "bulwark (strict): invalid sidecar annotations: " + why;
    return out;
  }

  // --- the objects we add ---------------------------------------------------------------
  const bool splitSchema = plan.schema == Schema::Split;
  const bool hold = plan.capture && (plan.captureMode == CaptureMode::Ebpf ||
                                     (plan.captureMode == CaptureMode::Auto && cfg.ebpfInAuto));
  const json runMount = {{"name", runVolume}, {"mountPath", names::kRunDir}};
  const std::string policyDir(names::kPolicyMountPath);

  json proxyArgs = json::array({"--mode", plan.mode, "--app-port", std::to_string(plan.appPort),
                                "--status-listen",
                                "0.0.0.0:" + std::to_string(names::kStatusPort)});
  if (plan.proxyPort != names::kProxyPort) {
    for (const auto* host : {"0.0.0.0:", "[::]:"}) {
      proxyArgs.push_back("--listen");
      proxyArgs.push_back(host + std::to_string(plan.proxyPort));
    }
  }
  json env = podInfoEnv();
  env.push_back({{"name", "BULWARK_MODE_ALLOW_OVERRIDE"}, {"value", plan.modeAllowOverride}});
  env.push_back({{"name", "BULWARK_POLICY_FILE"}, {"value", policyDir + "/" + cfg.policyKey}});
  env.push_back({{"name", "BULWARK_SCHEMA"}, {"value", splitSchema ? "split" : "single"}});
  for (const auto& s : cfg.secretEnv) {
    env.push_back({{"name", s.name},
                   {"valueFrom",
                    {{"secretKeyRef", {{"name", s.secret}, {"key", s.key}, {"optional", true}}}}}});
  }
  json proxyMounts = json::array(
      {runMount, {{"name", policyVolume}, {"mountPath", policyDir}, {"readOnly", true}}});
  for (const auto& m : plan.extraMounts) {
    proxyMounts.push_back(m);
  }
  json proxy = {
      {"name", names::kProxyContainerName},
      {"image", plan.proxyImage},
      {"imagePullPolicy", cfg.imagePullPolicy},
      {"command", json::array({"bulwark-proxy"})},
      {"args", proxyArgs},
      {"env", env},
      {"ports",
       json::array({{{"name", names::kProxyPortName},
                     {"containerPort", plan.proxyPort},
                     {"protocol", "TCP"}},
                    {{"name", names::kStatusPortName},
                     {"containerPort", names::kStatusPort},
                     {"protocol", "TCP"}}})},
      {"livenessProbe", probe("/healthz", 10)},
      {"readinessProbe", probe("/readyz", 5)},
      {"resources", resourcesJson(plan.proxyRes)},
      {"securityContext", proxySecurityContext(plan.proxyPort < 1024)},
      {"volumeMounts", proxyMounts},
      {"terminationMessagePolicy", "FallbackToLogsOnError"}};
  if (plan.native) {
    proxy["restartPolicy"] = "Always";
    // A native sidecar must be up before the app starts: gate on the status port.
    proxy["startupProbe"] = probe("/healthz", 1);
    proxy["startupProbe"]["failureThreshold"] = 30;
  }

  json helper;
  if (splitSchema) {
    // The helper ships the proxy's attack events and watches the policy ConfigMap, so the
    // proxy's hot path never blocks on either (docs/webhook.md).
    helper = {{"name", names::kHelperContainerName},
              {"image", cfg.helperImage.empty() ? plan.proxyImage : cfg.helperImage},
              {"imagePullPolicy", cfg.imagePullPolicy},
              {"command", json::array({"bulwark-helper"})},
              {"args", json::array({"--run-dir", names::kRunDir, "--policy-dir", policyDir})},
              {"env", env},
              {"resources", resourcesJson(plan.helperRes)},
              {"securityContext", proxySecurityContext(false)},
              {"volumeMounts", json::array({runMount, {{"name", policyVolume},
                                                       {"mountPath", policyDir},
                                                       {"readOnly", true}}})},
              {"terminationMessagePolicy", "FallbackToLogsOnError"}};
    if (plan.native) {
      helper["restartPolicy"] = "Always";
    }
  }

  json init;
  json holdContainer;
  if (plan.capture) {
    const auto modeName = std::string(captureModeName(plan.captureMode));
    json initEnv = json::array(
        {{{"name", "BULWARK_APP_PORT"}, {"value", std::to_string(plan.appPort)}},
         {{"name", "BULWARK_PROXY_PORT"}, {"value", std::to_string(plan.proxyPort)}},
         {{"name", "BULWARK_MODE"}, {"value", modeName}},
         // iptables takes its lock under /run, which is read-only here.
         {{"name", "XTABLES_LOCKFILE"}, {"value", std::string(names::kRunDir) + "/xtables.lock"}}});
    init = {{"name", names::kInitContainerName},
            {"image", cfg.initImage},
            {"imagePullPolicy", cfg.imagePullPolicy},
            {"command", json::array({"bulwark-init", "apply"})},
            {"env", initEnv},
            {"resources", resourcesJson(plan.initRes)},
            {"securityContext",
             rootCapSecurityContext(capabilitiesFor(plan.captureMode, cfg.ebpfInAuto))},
            {"volumeMounts", json::array({runMount})},
            {"terminationMessagePolicy", "FallbackToLogsOnError"}};
    if (hold) {
      holdContainer = {
          {"name", names::kHoldContainerName},
          {"image", cfg.initImage},
          {"imagePullPolicy", cfg.imagePullPolicy},
          {"command", json::array({"bulwark-init", "hold"})},
          {"env", initEnv},
          {"resources", resourcesJson(plan.initRes)},
          {"securityContext", rootCapSecurityContext(json::array({"BPF", "NET_ADMIN"}))},
          {"volumeMounts", json::array({runMount})},
          {"terminationMessagePolicy", "FallbackToLogsOnError"}};
      if (plan.native) {
        holdContainer["restartPolicy"] = "Always";
      }
    }
  }

  // --- the patch ------------------------------------------------------------------------
  json patch = json::array();
  json initAdds = json::array();  // inserted at the front of initContainers, in this order
  json containerAdds = json::array();
  if (!init.is_null()) {
    initAdds.push_back(init);
  }
  auto& sidecarList = plan.native ? initAdds : containerAdds;
  if (!holdContainer.is_null()) {
    sidecarList.push_back(holdContainer);
  }
  sidecarList.push_back(proxy);
  if (!helper.is_null()) {
    sidecarList.push_back(helper);
  }

  if (!initAdds.empty()) {
    if (containersOf(*spec, "initContainers").empty()) {
      patch.push_back({{"op", "add"}, {"path", "/spec/initContainers"}, {"value", initAdds}});
    } else {
      for (size_t i = 0; i < initAdds.size(); ++i) {
        patch.push_back({{"op", "add"},
                         {"path", "/spec/initContainers/" + std::to_string(i)},
                         {"value", initAdds[i]}});
      }
    }
  }
  for (const auto& c : containerAdds) {
    patch.push_back({{"op", "add"}, {"path", "/spec/containers/-"}, {"value", c}});
  }

  json volumes = json::array(
      {{{"name", runVolume}, {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "16Mi"}}}},
       {{"name", policyVolume},
        {"configMap", {{"name", plan.policyConfigMap}, {"optional", true}}}}});
  for (const auto& v : plan.extraVolumes) {
    volumes.push_back(v);
  }
  if (podVolumes.empty()) {
    patch.push_back({{"op", "add"}, {"path", "/spec/volumes"}, {"value", volumes}});
  } else {
    for (const auto& v : volumes) {
      patch.push_back({{"op", "add"}, {"path", "/spec/volumes/-"}, {"value", v}});
    }
  }

  // Status annotation (reinvocation is a no-op) and kubectl's default container (the app).
  json status = {{"version", BULWARK_VERSION},
                 {"capture", plan.capture ? captureModeName(plan.captureMode) : "none"},
                 {"appPort", plan.appPort},
                 {"proxyPort", plan.proxyPort},
                 {"schema", splitSchema ? "split" : "single"},
                 {"native", plan.native},
                 {"initContainers", json::array()},
                 {"containers", json::array()},
                 {"volumes", json::array({runVolume, policyVolume})}};
  for (const auto& c : initAdds) {
    status["initContainers"].push_back(c["name"]);
  }
  for (const auto& c : containerAdds) {
    status["containers"].push_back(c["name"]);
  }
  for (const auto& v : plan.extraVolumes) {
    status["volumes"].push_back(v["name"]);
  }
  json newAnnotations = json::object();
  newAnnotations[std::string(names::kAnnotationPrefix) + std::string(names::kStatusAnnotation)] =
      status.dump();
  const std::string defaultContainer = "kubectl.kubernetes.io/default-container";
  if (!annotations || !member(*annotations, defaultContainer)) {
    newAnnotations[defaultContainer] = stringOr(member(containers[0], "name"));
  }
  if (!metadata || !metadata->is_object()) {
    patch.push_back(
        {{"op", "add"}, {"path", "/metadata"}, {"value", {{"annotations", newAnnotations}}}});
  } else if (!annotations) {
    patch.push_back({{"op", "add"}, {"path", "/metadata/annotations"}, {"value", newAnnotations}});
  } else {
    for (const auto& [k, v] : newAnnotations.items()) {
      patch.push_back(
          {{"op", "add"}, {"path", "/metadata/annotations/" + pointerToken(k)}, {"value", v}});
    }
  }

  out.injected = true;
  out.patch = patch.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

void appendJsonString(std::string& out, std::string_view s) {
  out += json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

size_t jsonNestingDepth(std::string_view text) {
  size_t depth = 0;
  size_t deepest = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (inString) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        inString = false;
      }
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::string base64Encode(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const uint32_t n = (uint32_t(uint8_t(data[i])) << 16) | (uint32_t(uint8_t(data[i + 1])) << 8) |
                       uint32_t(uint8_t(data[i + 2]));
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == data.size()) {
    const uint32_t n = uint32_t(uint8_t(data[i])) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    const uint32_t n = (uint32_t(uint8_t(data[i])) << 16) | (uint32_t(uint8_t(data[i + 1])) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<Outcome> injectPod(std::string_view podJson, const InjectConfig& cfg) {
  if (jsonNestingDepth(podJson) > kMaxJsonDepth) {
    return BW_INVALID("pod: JSON nested deeper than " + std::to_string(kMaxJsonDepth));
  }
  json pod = json::parse(podJson, nullptr, false);
  if (!pod.is_object()) {
    return BW_INVALID("pod: not a JSON object");
  }
  try {
    return inject(pod, cfg);
  } catch (const json::exception& e) {
    return BW_INVALID(std::string("pod: ") + e.what());
  }
}

Reply review(std::string_view body, const InjectConfig& cfg) {
  Reply reply;
  reply.status = 400;
  if (jsonNestingDepth(body) > kMaxJsonDepth) {
    reply.body = "AdmissionReview nested deeper than " + std::to_string(kMaxJsonDepth) + "\n";
    return reply;
  }
  const json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    reply.body = "body is not a JSON object\n";
    return reply;
  }
  if (stringOr(member(doc, "apiVersion")) != "admission.k8s.io/v1" ||
      stringOr(member(doc, "kind")) != "AdmissionReview") {
    reply.body = "expected apiVersion admission.k8s.io/v1, kind AdmissionReview\n";
    return reply;
  }
  const json* request = member(doc, "request");
  const std::string_view uid = request ? stringOr(member(*request, "uid")) : "";
  if (!request || !request->is_object() || uid.empty() || uid.size() > 256) {
    reply.body = "AdmissionReview has no request.uid\n";
    return reply;
  }

  Outcome outcome;
  const json* kind = member(*request, "kind");
  const bool isPod = kind && stringOr(member(*kind, "kind")) == "Pod" &&
                     stringOr(member(*kind, "group")).empty();
  const bool create = stringOr(member(*request, "operation")) == "CREATE";
  const bool subresource = !stringOr(member(*request, "subResource")).empty();
  const json* object = member(*request, "object");
  if (!isPod || !create || subresource) {
    outcome.skipped = "not a pod CREATE";
    reply.result = ReviewResult::Skipped;
  } else if (!object || !object->is_object()) {
    reply.body = "AdmissionReview request.object is not a Pod object\n";
    return reply;
  } else {
    try {
      outcome = inject(*object, cfg);
    } catch (const json::exception& e) {
      // Types we did not expect in a pod: admit unchanged rather than break the pod.
      outcome = Outcome{};
      outcome.skipped = "unexpected pod shape";
      outcome.warnings.push_back("bulwark: unexpected pod shape; not injected");
    }
    reply.result = outcome.denied  ? ReviewResult::Denied
                   : outcome.injected ? ReviewResult::Injected
                                      : ReviewResult::Skipped;
  }

  // The response, written by hand: the order is fixed and no copy of the pod is made.
  std::string& out = reply.body;
  out = R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":)";
  appendJsonString(out, uid);
  if (outcome.denied) {
    out += R"(,"allowed":false,"status":{"code":403,"reason":"Forbidden","message":)";
    appendJsonString(out, *outcome.denied);
    out += "}";
  } else {
    out += R"(,"allowed":true)";
    if (outcome.injected) {
      out += R"(,"patchType":"JSONPatch","patch":")" + base64Encode(outcome.patch) + "\"";
    }
  }
  if (!outcome.warnings.empty()) {
    out += R"(,"warnings":[)";
    for (size_t i = 0; i < outcome.warnings.size(); ++i) {
      out += i ? "," : "";
      appendJsonString(out, outcome.warnings[i]);
    }
    out += "]";
  }
  out += "}}";
  reply.status = 200;
  reply.warnings = outcome.warnings.size();
  return reply;
}

} // namespace bulwark::webhook

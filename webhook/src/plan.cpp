// Annotations + configuration -> InjectionPlan. Every annotation is one row of kAnnotations;
// the rows run in order, phase by phase, with the checks that depend on earlier phases between
// them (docs/webhook.md "Annotations").

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <set>

#include <arpa/inet.h>

#include "bulwark/common/cli.h"
#include "bulwark/common/names.h"
#include "bulwark/webhook/availability.h"
#include "bulwark/webhook/inject.h"
#include "plan_internal.h"

namespace bulwark::webhook {
namespace detail {
namespace {

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

std::optional<uint16_t> parsePort(std::string_view text) {
  const auto n = cli::parseUint(text, 1, 65535);
  return n ? std::optional<uint16_t>(static_cast<uint16_t>(*n)) : std::nullopt;
}

template <size_t N>
bool oneOf(std::string_view v, const std::array<std::string_view, N>& options) {
  return std::find(options.begin(), options.end(), v) != options.end();
}

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
  if (path == names::kRunDir || path == names::kPolicyMountPath || path == kBlockPageMountPath ||
      sub.find("..") != sub.npos ||
      (!sub.empty() && sub.front() == '/')) {
    return false;
  }
  return true;
}

// Application port: annotation, else first container port named "http", else first declared
// TCP port, else 80.
uint16_t detectAppPort(const json& spec) {
  std::optional<uint16_t> firstDeclared;
  for (const auto& c : arrayOf(spec, "containers")) {
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
    for (const auto& c : arrayOf(spec, key)) {
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

std::string uniqueName(std::string_view base, const std::set<std::string>& taken) {
  std::string name(base);
  for (int i = 2; taken.count(name); ++i) {
    name = std::string(base) + "-" + std::to_string(i);
  }
  return name;
}

// --- the annotation table ------------------------------------------------------------------

// State while one pod's plan is built.
struct Ctx {
  const json& spec;
  const InjectConfig& cfg;
  InjectionPlan& plan;
  std::string key; // full key of the annotation being applied (for warnings)
  uint16_t detectedPort = names::kDefaultAppPort;
  std::set<std::string> volumeNames;

  void warn(std::string text) {
    if (plan.warnings.size() < kMaxWarnings) {
      plan.warnings.push_back("bulwark: " + std::move(text));
    }
  }
  // An invalid value: the setting keeps `fallback`.
  void bad(std::string_view value, std::string_view expected, std::string_view fallback) {
    plan.invalid = true;
    warn("annotation " + key + "=\"" + shown(value) + "\" is not " + std::string(expected) +
         "; using " + std::string(fallback));
  }
};

struct AnnotationSpec {
  std::string_view key;   // after the prefix
  std::string_view alias; // a second accepted name (Wallarm's), "" = none
  int phase;              // rows run phase by phase; checks between phases (buildPlan)
  void (*apply)(Ctx&, const AnnotationSpec&, const std::string& value);
};

void setSchema(Ctx& c, const AnnotationSpec&, const std::string& v) {
  if (v == "single") {
    c.plan.schema = Schema::Single;
  } else if (v == "split") {
    c.plan.schema = Schema::Split;
  } else {
    c.bad(v, "single|split", c.cfg.schema == Schema::Split ? "split" : "single");
  }
}

void setCaptureEnable(Ctx& c, const AnnotationSpec&, const std::string& v) {
  // Like the Wallarm sidecar: anything but "true" turns capture off (the safe side: no
  // capabilities needed, the pod still starts; clients use the "proxy" port).
  if (!parseBool(v, c.plan.capture)) {
    c.bad(v, "true|false", "false (capture off)");
    c.plan.capture = false;
  }
}

void setCaptureMode(Ctx& c, const AnnotationSpec&, const std::string& v) {
  CaptureMode m{};
  if (parseCaptureMode(v, m)) {
    c.plan.captureMode = m;
  } else {
    c.bad(v, "auto|ebpf|nftables|iptables|none", std::string(captureModeName(c.cfg.captureMode)));
  }
}

// "8080", several "8080,8443" (all captured; the first is the proxy's --app-port), or "all"
// (every port but the exclusions; bulwark-init --app-port all).
std::optional<std::vector<uint16_t>> parsePortList(std::string_view v, size_t max) {
  std::vector<uint16_t> out;
  size_t start = 0;
  while (start <= v.size()) {
    const auto comma = v.find(',', start);
    const auto item = v.substr(start, comma == std::string_view::npos ? v.npos : comma - start);
    auto p = parsePort(item);
    if (!p || out.size() >= max) {
      return std::nullopt;
    }
    if (std::find(out.begin(), out.end(), *p) == out.end()) {
      out.push_back(*p);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  return out;
}

void setAppPort(Ctx& c, const AnnotationSpec&, const std::string& v) {
  if (v == "all") {
    c.plan.allPorts = true;
  } else if (auto ports = parsePortList(v, 16)) {
    c.plan.appPort = ports->front();
    c.plan.appPorts = *ports;
  } else {
    c.bad(v, "a port 1-65535, a list like 8080,8443, or all", std::to_string(c.detectedPort));
  }
}

void setExcludePorts(Ctx& c, const AnnotationSpec&, const std::string& v) {
  auto ports = parsePortList(v, 32);
  if (!ports) {
    c.bad(v, "a list of ports like 9090,15020", "none");
  } else if (!c.plan.allPorts) {
    c.warn("annotation " + c.key + " only applies with application-port: all (only the "
           "application ports are captured); ignored");
  } else {
    c.plan.excludePorts = *ports;
  }
}

bool isCidr(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos || s.size() > 64) {
    return false;
  }
  const std::string addr(s.substr(0, slash));
  unsigned char buf[16];
  const bool v4 = ::inet_pton(AF_INET, addr.c_str(), buf) == 1;
  const bool v6 = !v4 && ::inet_pton(AF_INET6, addr.c_str(), buf) == 1;
  const auto bits = cli::parseUint(s.substr(slash + 1), 0, v4 ? 32 : 128);
  return (v4 || v6) && bits.has_value();
}

void setExcludeCidrs(Ctx& c, const AnnotationSpec&, const std::string& v) {
  std::vector<std::string> out;
  size_t start = 0;
  bool ok = !v.empty();
  while (ok && start <= v.size()) {
    const auto comma = v.find(',', start);
    const auto item = std::string_view(v).substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    ok = isCidr(item) && out.size() < 32;
    out.emplace_back(item);
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  if (ok) {
    c.plan.excludeCidrs = std::move(out);
  } else {
    c.bad(v, "a list of CIDRs like 10.0.0.0/8,fd00::/8", "none");
  }
}

void setProxyPort(Ctx& c, const AnnotationSpec&, const std::string& v) {
  auto p = parsePort(v);
  if (!p) {
    c.bad(v, "a port 1-65535", std::to_string(names::kProxyPort));
  } else if (*p == names::kStatusPort || *p == c.plan.appPort ||
             std::find(c.plan.appPorts.begin(), c.plan.appPorts.end(), *p) !=
                 c.plan.appPorts.end()) {
    c.bad(v, "free (it is the status or application port)", std::to_string(names::kProxyPort));
  } else {
    c.plan.proxyPort = *p;
  }
}

void setMode(Ctx& c, const AnnotationSpec&, const std::string& v) {
  if (oneOf(v, kFilterModes)) {
    c.plan.mode = v;
  } else {
    c.bad(v, "off|monitoring|safe_blocking|block", c.cfg.mode);
  }
}

void setModeAllowOverride(Ctx& c, const AnnotationSpec&, const std::string& v) {
  if (oneOf(v, kOverrideModes)) {
    c.plan.modeAllowOverride = v;
  } else {
    c.bad(v, "on|off|strict", c.cfg.modeAllowOverride);
  }
}

void setNative(Ctx& c, const AnnotationSpec&, const std::string& v) {
  if (!parseBool(v, c.plan.native)) {
    c.bad(v, "true|false", c.cfg.nativeSidecar ? "true" : "false");
  }
}

void setProxyImage(Ctx& c, const AnnotationSpec&, const std::string& v) {
  if (isImageRef(v)) {
    c.plan.proxyImage = v;
  } else {
    c.bad(v, "an image reference", c.cfg.proxyImage);
  }
}

void setPolicyConfigMap(Ctx& c, const AnnotationSpec&, const std::string& v) {
  if (isDns1123Subdomain(v)) {
    c.plan.policyConfigMap = v;
  } else {
    c.bad(v, "a ConfigMap name", c.cfg.policyConfigMap);
  }
}

void setBlockPageConfigMap(Ctx& c, const AnnotationSpec&, const std::string& v) {
  if (isDns1123Subdomain(v)) {
    c.plan.blockPageConfigMap = v;
  } else {
    c.bad(v, "a ConfigMap name", "the built-in page");
  }
}

// proxy-cpu, helper-memory-limit, init-cpu, ...: the row's key is <who>-<cpu|memory>[-limit].
void setResource(Ctx& c, const AnnotationSpec& spec, const std::string& v) {
  const auto dash = spec.key.find('-');
  const std::string_view who = spec.key.substr(0, dash);
  const std::string_view suffix = spec.key.substr(dash + 1);
  const bool isLimit = suffix.ends_with("-limit");
  const std::string resource(suffix.substr(0, suffix.find('-')));
  Resources& res = who == "proxy" ? c.plan.proxyRes : who == "helper" ? c.plan.helperRes
                                                                      : c.plan.initRes;
  auto& slot = isLimit ? res.limits : res.requests;
  if (!isQuantity(v)) {
    const auto it = slot.find(resource);
    c.bad(v, "a resource quantity (e.g. 100m, 128Mi)",
          it == slot.end() ? "none" : "\"" + it->second + "\"");
    return;
  }
  slot[resource] = v;
}

void setExtraVolumes(Ctx& c, const AnnotationSpec&, const std::string& v) {
  json parsed = jsonNestingDepth(v) <= 8 ? json::parse(v, nullptr, false) : json();
  bool ok = parsed.is_array() && parsed.size() <= 16;
  std::set<std::string> names = c.volumeNames;
  for (const auto& vol : ok ? parsed : json::array()) {
    ok = ok && validVolume(vol) && names.insert(vol["name"].get<std::string>()).second;
  }
  if (!ok) {
    c.bad(v, "a JSON array of volumes (configMap, secret, emptyDir, persistentVolumeClaim) with "
             "new names",
          "none");
    return;
  }
  c.plan.extraVolumes = parsed.dump();
  c.plan.extraVolumeNames.clear();
  for (const auto& vol : parsed) {
    c.plan.extraVolumeNames.push_back(vol["name"].get<std::string>());
  }
  c.volumeNames = std::move(names);
}

void setExtraMounts(Ctx& c, const AnnotationSpec&, const std::string& v) {
  json parsed = jsonNestingDepth(v) <= 8 ? json::parse(v, nullptr, false) : json();
  bool ok = parsed.is_array() && parsed.size() <= 16;
  std::set<std::string> paths;
  for (const auto& m : ok ? parsed : json::array()) {
    ok = ok && validMount(m, c.volumeNames) &&
         paths.insert(m["mountPath"].get<std::string>()).second;
  }
  if (ok) {
    c.plan.extraMounts = parsed.dump();
  } else {
    c.bad(v, "a JSON array of volume mounts of known volumes", "none");
  }
}

void setParanoia(Ctx& c, const AnnotationSpec&, const std::string& v) {
  if (auto n = cli::parseUint(v, 1, 4)) {
    c.plan.paranoiaLevel = static_cast<int>(*n);
  } else {
    c.bad(v, "a paranoia level 1-4", "the proxy's default (1)");
  }
}

// An event label: 1-63 characters of [A-Za-z0-9._-] (Wallarm application ids are numbers, node
// groups names; both fit).
bool isLabelValue(std::string_view s) {
  if (s.empty() || s.size() > 63) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
  });
}

void setApplication(Ctx& c, const AnnotationSpec&, const std::string& v) {
  if (isLabelValue(v)) {
    c.plan.application = v;
  } else {
    c.bad(v, "1-63 characters [A-Za-z0-9._-]", "none");
  }
}

void setNodeGroup(Ctx& c, const AnnotationSpec&, const std::string& v) {
  if (isLabelValue(v)) {
    c.plan.nodeGroup = v;
  } else {
    c.bad(v, "1-63 characters [A-Za-z0-9._-]", "none");
  }
}

// Every annotation the webhook reads, in processing order. A new annotation is a new row here
// (plus its setter above, docs/webhook.md and a golden case).
constexpr AnnotationSpec kAnnotations[] = {
    {"sidecar-injection-schema", "", 0, setSchema},
    {"sidecar-injection-iptables-enable", "", 0, setCaptureEnable},
    {"capture-mode", "", 0, setCaptureMode},
    {"application-port", "", 1, setAppPort},
    {"proxy-port", "nginx-listen-port", 1, setProxyPort},
    {"mode", "wallarm-mode", 2, setMode},
    {"mode-allow-override", "wallarm-mode-allow-override", 2, setModeAllowOverride},
    {"native-sidecar", "", 2, setNative},
    {"proxy-image", "", 2, setProxyImage},
    {"policy-configmap", "", 2, setPolicyConfigMap},
    {"block-page-configmap", "", 2, setBlockPageConfigMap},
    {"proxy-cpu", "", 2, setResource},
    {"proxy-memory", "", 2, setResource},
    {"proxy-cpu-limit", "", 2, setResource},
    {"proxy-memory-limit", "", 2, setResource},
    {"helper-cpu", "", 3, setResource},
    {"helper-memory", "", 3, setResource},
    {"helper-cpu-limit", "", 3, setResource},
    {"helper-memory-limit", "", 3, setResource},
    {"init-cpu", "init-iptables-cpu", 4, setResource},
    {"init-memory", "init-iptables-memory", 4, setResource},
    {"init-cpu-limit", "init-iptables-cpu-limit", 4, setResource},
    {"init-memory-limit", "init-iptables-memory-limit", 4, setResource},
    {"proxy-extra-volumes", "", 5, setExtraVolumes},
    {"proxy-extra-volume-mounts", "", 5, setExtraMounts},
    {"paranoia-level", "", 6, setParanoia},
    {"application", "wallarm-application", 6, setApplication},
    {"node-group", "wallarm-node-group", 6, setNodeGroup},
    {"capture-exclude-ports", "", 6, setExcludePorts},
    {"capture-exclude-cidrs", "", 6, setExcludeCidrs},
};
constexpr int kPhases = 7;

// Keys (after a prefix) of the Wallarm sidecar that Bulwark does not implement, and what to do
// instead; '*' matches any run of characters. Checked in order; the first match wins.
struct Unsupported {
  std::string_view pattern;
  std::string_view instead;
};
constexpr Unsupported kUnsupported[] = {
    {"wallarm-block-page", "use sidecar.bulwark.dev/block-page-configmap: <ConfigMap name> (key "
                           "block.html, {{request_id}} is replaced by the request id)"},
    {"wallarm-parse-response", "responses are not inspected"},
    {"wallarm-unpack-response", "responses are not inspected"},
    {"wallarm-parse-websocket", "a WebSocket upgrade request is inspected, its frames are not"},
    {"wallarm-fallback", "the proxy needs no cloud connection and starts without one"},
    {"wallarm-parser-disable", "decoders cannot be switched off per pod; use paranoia-level"},
    {"wallarm-enable-libdetection", "detection always runs; tune it with paranoia-level"},
    {"wallarm-partner-client-uuid", "there is no cloud account"},
    {"wallarm-upstream-*", "upstream settings belong in the proxy configuration (docs/proxy.md)"},
    {"nginx-*-include", "there is no nginx; per-path behaviour goes in the policy ConfigMap "
                        "(policy.overrides)"},
    {"nginx-*-snippet", "there is no nginx; per-path behaviour goes in the policy ConfigMap "
                        "(policy.overrides)"},
    {"nginx-*", "there is no nginx; see docs/webhook.md for the proxy's annotations"},
    {"wallarm-*", "not implemented by Bulwark; see docs/webhook.md \"Annotations\""},
};

bool globMatch(std::string_view pattern, std::string_view text) {
  const auto star = pattern.find('*');
  if (star == std::string_view::npos) {
    return pattern == text;
  }
  const auto head = pattern.substr(0, star);
  const auto tail = pattern.substr(star + 1);
  if (text.size() < head.size() + tail.size() || !text.starts_with(head)) {
    return false;
  }
  return globMatch(tail, text.substr(text.size() - tail.size())) ||
         (tail.find('*') != std::string_view::npos &&
          globMatch(tail, text.substr(head.size())));
}

// Edits (insert, delete, substitute, swap two neighbours) between a and b: "mdoe" -> "mode" is 1.
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

bool knownKey(std::string_view key) {
  if (key == names::kStatusAnnotation) {
    return true;
  }
  return std::any_of(std::begin(kAnnotations), std::end(kAnnotations),
                     [key](const AnnotationSpec& s) { return s.key == key || s.alias == key; });
}

// Keys under our prefixes that no row reads: a Wallarm feature Bulwark does not have (warning
// with what to use instead) or a typo (warning naming the nearest key; strict mode rejects).
void checkUnknownKeys(Ctx& c, const json* annotations) {
  if (!annotations) {
    return;
  }
  for (const auto& [full, value] : annotations->items()) {
    std::string_view key(full);
    std::string_view prefix;
    for (const auto p : {names::kAnnotationPrefix, names::kAnnotationPrefixCompat}) {
      if (key.starts_with(p)) {
        prefix = p;
      }
    }
    if (prefix.empty() || key.size() > prefix.size() + 63 || knownKey(key.substr(prefix.size()))) {
      continue;
    }
    key.remove_prefix(prefix.size());
    const Unsupported* un = nullptr;
    for (const auto& u : kUnsupported) {
      if (!un && globMatch(u.pattern, key)) {
        un = &u;
      }
    }
    // A near miss of one of ours is a typo even when it looks like a Wallarm key (key length
    // is bounded: annotation names are at most 63 characters after the prefix).
    std::string_view best;
    size_t bestDistance = 3;
    for (const auto& s : kAnnotations) {
      for (const auto k : {s.key, s.alias}) {
        const size_t d = k.empty() ? SIZE_MAX : editDistance(key, k);
        if (d < bestDistance && d <= std::max<size_t>(1, k.size() / 4)) {
          best = k;
          bestDistance = d;
        }
      }
    }
    const std::string shownKey = std::string(prefix) + shown(key);
    if (!best.empty()) {
      c.plan.invalid = true;
      c.warn("unknown annotation " + shownKey + "; did you mean " + std::string(prefix) +
             std::string(best) + "?");
    } else if (un) {
      c.warn("annotation " + shownKey + " is not supported: " + std::string(un->instead));
    } else {
      c.plan.invalid = true;
      c.warn("unknown annotation " + shownKey + "; see docs/webhook.md \"Annotations\"");
    }
  }
}

// Applies the rows of one phase. The Bulwark prefix wins over the Wallarm one; within a prefix
// the row's key wins over its alias.
void applyPhase(Ctx& c, const json* annotations, int phase) {
  if (!annotations) {
    return;
  }
  for (const auto& spec : kAnnotations) {
    if (spec.phase != phase) {
      continue;
    }
    bool done = false;
    for (const auto prefix : {names::kAnnotationPrefix, names::kAnnotationPrefixCompat}) {
      for (const auto key : {spec.key, spec.alias}) {
        if (done || key.empty()) {
          continue;
        }
        const std::string full = std::string(prefix) + std::string(key);
        const json* v = member(*annotations, full);
        if (!v) {
          continue;
        }
        done = true;
        c.key = full;
        if (!v->is_string()) {
          c.bad("<not a string>", "a string", "the default");
          continue;
        }
        spec.apply(c, spec, v->get<std::string>());
      }
    }
  }
}

// A request above its limit makes the API server reject the pod: drop the request (the limit
// then doubles as the request) and say so.
void clampResources(Ctx& c, std::string_view who, Resources& res) {
  for (const auto* resource : {"cpu", "memory"}) {
    const auto r = res.requests.find(resource);
    const auto l = res.limits.find(resource);
    if (r != res.requests.end() && l != res.limits.end() &&
        quantityValue(r->second) > quantityValue(l->second)) {
      c.warn(std::string(who) + " " + resource + " request " + r->second + " exceeds limit " +
             l->second + "; request set to the limit");
      r->second = l->second;
    }
  }
}

// The proxy shares the pod's network namespace: its ports must not be the app's.
void checkPorts(Ctx& c) {
  std::set<uint16_t> declared = declaredPorts(c.spec);
  declared.insert(c.plan.appPort);
  declared.insert(c.plan.appPorts.begin(), c.plan.appPorts.end());
  if (declared.count(c.plan.proxyPort)) {
    uint16_t p = names::kProxyPort;
    while (declared.count(p) || p == names::kStatusPort) {
      ++p;
    }
    c.warn("proxy port " + std::to_string(c.plan.proxyPort) +
           " is used by the application; the proxy listens on " + std::to_string(p));
    c.plan.proxyPort = p;
  }
  if (declared.count(names::kStatusPort)) {
    c.warn("the application declares the status port " + std::to_string(names::kStatusPort) +
           "; the proxy's probes may fail");
  }
}

bool versionAtLeast(const InjectConfig& cfg, int major, int minor) {
  return cfg.kubeMajor > major || (cfg.kubeMajor == major && cfg.kubeMinor >= minor);
}

// A capture mode the cluster is too old for (availability.h); unknown version: allowed.
bool clusterTooOld(const InjectConfig& cfg, const CaptureAvailability& a) {
  return a.minKubeMinor > 0 && cfg.kubeMajor > 0 && !versionAtLeast(cfg, 1, a.minKubeMinor);
}

// The holder as a native sidecar (before the init step) or as the first regular container.
bool holderNative(const InjectConfig& cfg) {
  switch (cfg.holderSidecar) {
  case HolderSidecar::Native:
    return true;
  case HolderSidecar::Plain:
    return false;
  case HolderSidecar::Auto:
    break;
  }
  return cfg.kubeMajor == 0 || versionAtLeast(cfg, 1, kNativeSidecarMinKubeMinor);
}

std::string clusterVersion(const InjectConfig& cfg) {
  return std::to_string(cfg.kubeMajor) + "." + std::to_string(cfg.kubeMinor);
}

// Settings the image or the cluster cannot run fall back (availability.h), each with a warning.
void checkAvailability(Ctx& c) {
  const CaptureAvailability* a = captureAvailability(c.plan.captureMode);
  if (!a) {
    c.warn("capture mode " + std::string(captureModeName(c.plan.captureMode)) +
           " is not available in this image yet; using auto (nftables, else iptables)");
    c.plan.captureMode = CaptureMode::Auto;
  } else if (clusterTooOld(c.cfg, *a)) {
    c.warn("capture mode " + std::string(captureModeName(a->mode)) + " needs Kubernetes 1." +
           std::to_string(a->minKubeMinor) + " or later (" + std::string(a->why) +
           "; cluster " + clusterVersion(c.cfg) + "); using " +
           std::string(captureModeName(a->fallback)) +
           (a->fallback == CaptureMode::Auto ? " (nftables, else iptables)" : ""));
    c.plan.captureMode = a->fallback;
  }
  const CaptureAvailability* ebpf = captureAvailability(CaptureMode::Ebpf);
  if (c.plan.ebpfInAuto && !ebpf) {
    c.warn("ebpf_in_auto is set but this image has no eBPF capture; auto uses nftables or "
           "iptables, no bulwark-hold container");
    c.plan.ebpfInAuto = false;
  } else if (c.plan.ebpfInAuto && c.plan.captureMode == CaptureMode::Auto &&
             !holderNative(c.cfg)) {
    // auto asks the holder from the init step, so the holder must run before it.
    c.warn(c.cfg.holderSidecar == HolderSidecar::Plain
               ? "ebpf_in_auto needs the bulwark-hold holder as a native sidecar (holder_sidecar "
                 "is plain); auto uses nftables or iptables, no bulwark-hold container"
               : "ebpf_in_auto needs Kubernetes 1." +
                     std::to_string(kNativeSidecarMinKubeMinor) +
                     " or later (its bulwark-hold holder is a native sidecar that starts before "
                     "bulwark-init; cluster " +
                     clusterVersion(c.cfg) +
                     "); auto uses nftables or iptables, no bulwark-hold container");
    c.plan.ebpfInAuto = false;
  }
  if (!imageHasSchema(c.plan.schema)) {
    c.warn("sidecar-injection-schema split needs the bulwark-helper binary, which this image "
           "does not have yet; using single (the proxy ships events and reloads the policy "
           "itself)");
    c.plan.schema = Schema::Single;
  }
}

// Runs after each phase.
void afterPhase(Ctx& c, int phase) {
  switch (phase) {
  case 0:
    checkAvailability(c);
    if (c.plan.captureMode == CaptureMode::None) {
      c.plan.capture = false;
    }
    c.detectedPort = detectAppPort(c.spec);
    c.plan.appPort = c.detectedPort;
    break;
  case 1:
    checkPorts(c);
    break;
  case 2:
    clampResources(c, "proxy", c.plan.proxyRes);
    break;
  case 3:
    clampResources(c, "helper", c.plan.helperRes);
    break;
  case 4: {
    clampResources(c, "init", c.plan.initRes);
    if (const json* hn = member(c.spec, "hostNetwork");
        hn && hn->is_boolean() && hn->get<bool>()) {
      if (c.plan.capture) {
        c.warn("hostNetwork pod: traffic is not captured (it would change the node's "
               "network); clients must use the proxy port");
      }
      c.plan.capture = false;
    }
    // Names of our volumes, unique within the pod.
    for (const auto& v : arrayOf(c.spec, "volumes")) {
      c.volumeNames.insert(std::string(stringOr(member(v, "name"))));
    }
    c.plan.runVolume = uniqueName(names::kRunVolumeName, c.volumeNames);
    c.volumeNames.insert(c.plan.runVolume);
    c.plan.policyVolume = uniqueName(names::kPolicyVolumeName, c.volumeNames);
    c.volumeNames.insert(c.plan.policyVolume);
    if (!c.plan.blockPageConfigMap.empty()) {
      c.plan.blockPageVolume = uniqueName(kBlockPageVolumeName, c.volumeNames);
      c.volumeNames.insert(c.plan.blockPageVolume);
    }
    break;
  }
  default:
    break;
  }
}

// Whether the proxy handles connections to `port` (after finish() filled appPorts).
bool proxiedPort(const InjectionPlan& plan, uint16_t port) {
  const auto& ex = plan.excludePorts;
  if (plan.allPorts) {
    return port != names::kStatusPort && std::find(ex.begin(), ex.end(), port) == ex.end();
  }
  return std::find(plan.appPorts.begin(), plan.appPorts.end(), port) != plan.appPorts.end();
}

// A port that by its name (https*, tls*) or number (443) carries TLS: the proxy cannot read it
// and passes it through, counted but uninspected, so the WAF does not protect that port.
void warnTlsPorts(Ctx& c) {
  std::map<uint16_t, std::string> declared; // port -> the name it is declared with
  for (const auto& container : arrayOf(c.spec, "containers")) {
    for (const auto& p : arrayOf(container, "ports")) {
      const json* num = member(p, "containerPort");
      if (num && num->is_number_integer() && num->get<int64_t>() >= 1 &&
          num->get<int64_t>() <= 65535 && stringOr(member(p, "protocol"), "TCP") == "TCP") {
        std::string name(stringOr(member(p, "name")));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        declared.emplace(static_cast<uint16_t>(num->get<int64_t>()), std::move(name));
      }
    }
  }
  for (const uint16_t port : c.plan.appPorts) {
    declared.emplace(port, "");
  }
  std::string shownPorts;
  for (const auto& [port, name] : declared) {
    const bool tls = port == 443 || name.rfind("https", 0) == 0 || name.rfind("tls", 0) == 0;
    if (tls && proxiedPort(c.plan, port)) {
      shownPorts += (shownPorts.empty() ? "" : ", ") + std::to_string(port) +
                    (name.empty() ? "" : " (" + shown(name) + ")");
    }
  }
  if (!shownPorts.empty()) {
    c.warn("captured port " + shownPorts.substr(0, 80) +
           " looks like TLS: the proxy passes TLS through uninspected (no WAF on it); "
           "terminate TLS before the pod or capture a plain-HTTP port (docs/webhook.md)");
  }
}

// Kubelet httpGet probes of the app containers that hit a captured port pass the proxy.
void findCapturedProbes(Ctx& c) {
  if (!c.plan.capture) {
    return;
  }
  const auto captured = [&c](uint16_t port) { return proxiedPort(c.plan, port); };
  std::string shownProbes;
  for (const auto& container : arrayOf(c.spec, "containers")) {
    for (const auto* kind : {"startupProbe", "livenessProbe", "readinessProbe"}) {
      const json* probe = member(container, kind);
      const json* get = probe ? member(*probe, "httpGet") : nullptr;
      if (!get || stringOr(member(*get, "scheme"), "HTTP") != "HTTP") {
        continue; // HTTPS probes are TLS: the proxy passes TLS through uninspected
      }
      const json* port = member(*get, "port");
      std::optional<uint16_t> number;
      if (port && port->is_number_integer() && port->get<int64_t>() >= 1 &&
          port->get<int64_t>() <= 65535) {
        number = static_cast<uint16_t>(port->get<int64_t>());
      } else if (port && port->is_string()) {
        for (const auto& p : arrayOf(container, "ports")) {
          const json* cp = member(p, "containerPort");
          if (stringOr(member(p, "name")) == port->get_ref<const std::string&>() && cp &&
              cp->is_number_integer() && cp->get<int64_t>() >= 1 && cp->get<int64_t>() <= 65535) {
            number = static_cast<uint16_t>(cp->get<int64_t>());
          }
        }
      }
      if (!number || !captured(*number)) {
        continue;
      }
      std::string path(stringOr(member(*get, "path"), "/"));
      // The proxy matches the request-target exactly (visible ASCII, no '#', ',' separates
      // the list): any other path could never match there, so it is not sent.
      if (path.empty() || path.front() != '/' || path.find(',') != std::string::npos ||
          path.size() > 256 ||
          std::any_of(path.begin(), path.end(), [](char ch) {
            const auto u = static_cast<unsigned char>(ch);
            return u <= 0x20 || u >= 0x7f || ch == '#';
          })) {
        continue;
      }
      if (std::find(c.plan.probePaths.begin(), c.plan.probePaths.end(), path) ==
          c.plan.probePaths.end()) {
        c.plan.probePaths.push_back(path);
        shownProbes += (shownProbes.empty() ? "" : " ") + shown(path);
      }
    }
  }
  if (!c.plan.probePaths.empty() &&
      (c.plan.mode == "block" || c.plan.mode == "safe_blocking")) {
    c.warn("kubelet probes " + shownProbes.substr(0, 60) +
           " are on a captured port: the proxy forwards exactly these GET/HEAD requests "
           "uninspected (BULWARK_PROBE_PATHS); the same path with another query, method or a "
           "body is inspected (docs/webhook.md)");
  }
}

// Everything that depends on the cluster's version, and the shutdown timing.
void finish(Ctx& c, const json* metadata) {
  (void)metadata;
  if (c.plan.appPorts.empty()) {
    c.plan.appPorts = {c.plan.appPort};
  }
  if (c.plan.allPorts) {
    // Never capture our own listeners.
    for (const uint16_t own : {names::kStatusPort, c.plan.proxyPort}) {
      if (std::find(c.plan.excludePorts.begin(), c.plan.excludePorts.end(), own) ==
          c.plan.excludePorts.end()) {
        c.plan.excludePorts.push_back(own);
      }
    }
    std::sort(c.plan.excludePorts.begin(), c.plan.excludePorts.end());
  }
  const auto& cfg = c.cfg;
  const bool known = cfg.kubeMajor > 0;
  if (c.plan.native && known && !versionAtLeast(cfg, 1, 29)) {
    c.warn("native sidecars need Kubernetes 1.29 or later (cluster " +
           std::to_string(cfg.kubeMajor) + "." + std::to_string(cfg.kubeMinor) +
           "); the sidecars are injected as regular containers");
    c.plan.native = false;
  }
  // The image has no shell or sleep binary: only the kubelet's sleep action (1.30+) can hold
  // the proxy back while the endpoint is removed.
  if (known && versionAtLeast(cfg, 1, 30) && cfg.preStopSeconds > 0) {
    c.plan.preStopSeconds = cfg.preStopSeconds;
  }
  const int need = c.plan.preStopSeconds + cfg.drainSeconds + 5;
  const json* grace = member(c.spec, "terminationGracePeriodSeconds");
  c.plan.podHasTerminationGrace = grace != nullptr;
  const int64_t current = grace && grace->is_number_integer() ? grace->get<int64_t>() : 30;
  if (current < need) {
    if (current == 30) {
      c.plan.terminationGraceSeconds = need; // the API server's default: raise it
    } else {
      c.warn("terminationGracePeriodSeconds " + std::to_string(current) +
             " is shorter than the proxy's preStop + drain (" + std::to_string(need) +
             " s); requests in flight at shutdown may be cut");
    }
  }
  warnTlsPorts(c);
  findCapturedProbes(c);
}

PlanDecision skip(std::string why, std::vector<std::string> warnings = {}) {
  PlanDecision d;
  d.skipped = std::move(why);
  d.warnings = std::move(warnings);
  return d;
}

} // namespace

PlanDecision planFromPod(const json& pod, const InjectConfig& cfg) {
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
  if (!spec || arrayOf(*spec, "containers").empty()) {
    return skip("pod has no containers", {"bulwark: pod spec has no containers; not injected"});
  }
  std::set<std::string> containerNames;
  for (const auto* key : {"containers", "initContainers", "ephemeralContainers"}) {
    for (const auto& c : arrayOf(*spec, key)) {
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

  InjectionPlan plan;
  plan.schema = cfg.schema;
  plan.captureMode = cfg.captureMode;
  plan.capture = cfg.iptablesEnable;
  plan.ebpfInAuto = cfg.ebpfInAuto;
  plan.mode = cfg.mode;
  plan.modeAllowOverride = cfg.modeAllowOverride;
  plan.native = cfg.nativeSidecar;
  plan.proxyImage = cfg.proxyImage;
  plan.initImage = cfg.initImage;
  plan.helperImage = cfg.helperImage;
  plan.imagePullPolicy = cfg.imagePullPolicy;
  plan.policyConfigMap = cfg.policyConfigMap;
  plan.policyKey = cfg.policyKey;
  plan.proxyRes = cfg.proxyResources;
  plan.helperRes = cfg.helperResources;
  plan.initRes = cfg.initResources;
  plan.secretEnv = cfg.secretEnv;

  Ctx ctx{*spec, cfg, plan, {}, names::kDefaultAppPort, {}};
  for (int phase = 0; phase < kPhases; ++phase) {
    applyPhase(ctx, annotations, phase);
    afterPhase(ctx, phase);
  }
  finish(ctx, metadata);
  checkUnknownKeys(ctx, annotations);
  if (cfg.podScrapeAnnotations) {
    // The pod's own scrape settings win: never overwritten, and said so.
    bool ownScrape = false;
    if (annotations) {
      for (const auto& [k, v] : annotations->items()) {
        ownScrape = ownScrape || std::string_view(k).starts_with("prometheus.io/");
      }
    }
    plan.scrapeAnnotations = !ownScrape;
    if (ownScrape) {
      ctx.warn("the pod has prometheus.io/* annotations of its own; they are kept, so the "
               "proxy's metrics (status port " + std::to_string(names::kStatusPort) +
               ", /metrics) are not scraped through them");
    }
  }

  if (plan.invalid && cfg.strict) {
    PlanDecision d;
    std::string why;
    for (const auto& w : plan.warnings) {
      why += (why.empty() ? "" : "; ") + w;
    }
    d.warnings = plan.warnings;
    d.denied = "bulwark (strict): invalid sidecar annotations: " + why;
    return d;
  }

  plan.hold = plan.capture && (plan.captureMode == CaptureMode::Ebpf ||
                               (plan.captureMode == CaptureMode::Auto && plan.ebpfInAuto));
  plan.holdNative = holderNative(cfg);
  plan.podHasInitContainers = !arrayOf(*spec, "initContainers").empty();
  plan.podHasVolumes = !arrayOf(*spec, "volumes").empty();
  plan.meta = !metadata || !metadata->is_object() ? InjectionPlan::Meta::Missing
              : !annotations                      ? InjectionPlan::Meta::NoAnnotations
                                                  : InjectionPlan::Meta::Annotations;
  const std::string defaultContainer = "kubectl.kubernetes.io/default-container";
  if (!annotations || !member(*annotations, defaultContainer)) {
    plan.defaultContainer = stringOr(member(arrayOf(*spec, "containers")[0], "name"));
  }
  PlanDecision d;
  d.warnings = plan.warnings;
  d.plan = std::move(plan);
  return d;
}

} // namespace detail

Result<PlanDecision> buildPlan(std::string_view podJson, const InjectConfig& cfg) {
  if (jsonNestingDepth(podJson) > kMaxJsonDepth) {
    return BW_INVALID("pod: JSON nested deeper than " + std::to_string(kMaxJsonDepth));
  }
  const detail::json pod = detail::json::parse(podJson, nullptr, false);
  if (!pod.is_object()) {
    return BW_INVALID("pod: not a JSON object");
  }
  try {
    return detail::planFromPod(pod, cfg);
  } catch (const detail::json::exception& e) {
    return BW_INVALID(std::string("pod: ") + e.what());
  }
}

std::vector<std::string_view> knownAnnotationKeys() {
  std::vector<std::string_view> out;
  for (const auto& spec : detail::kAnnotations) {
    out.push_back(spec.key);
    if (!spec.alias.empty()) {
      out.push_back(spec.alias);
    }
  }
  return out;
}

} // namespace bulwark::webhook

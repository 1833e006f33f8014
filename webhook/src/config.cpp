#include "bulwark/webhook/config.h"

#include <array>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

namespace bulwark::webhook {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 5> kCaptureModeNames = {"auto", "ebpf", "nftables",
                                                               "iptables", "none"};

using Setter = std::function<Status(const json&, const std::string&)>;

Status applyObject(const json& obj, const std::string& prefix,
                   const std::vector<std::pair<std::string_view, Setter>>& fields) {
  if (!obj.is_object()) {
    return BW_INVALID(prefix + ": expected an object");
  }
  for (const auto& [key, value] : obj.items()) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    bool known = false;
    for (const auto& [name, setter] : fields) {
      if (key == name) {
        known = true;
        if (auto st = setter(value, path); !st) {
          return st;
        }
      }
    }
    if (!known) {
      return BW_INVALID(path + ": unknown key");
    }
  }
  return {};
}

Setter str(std::string& slot, std::function<bool(const std::string&)> valid = {},
           std::string_view what = "") {
  return [&slot, valid, what](const json& v, const std::string& key) -> Status {
    if (!v.is_string()) {
      return BW_INVALID(key + ": expected a string");
    }
    if (valid && !valid(v.get<std::string>())) {
      return BW_INVALID(key + ": '" + v.get<std::string>() + "' is not " + std::string(what));
    }
    slot = v.get<std::string>();
    return {};
  };
}

Setter boolean(bool& slot) {
  return [&slot](const json& v, const std::string& key) -> Status {
    if (!v.is_boolean()) {
      return BW_INVALID(key + ": expected true or false");
    }
    slot = v.get<bool>();
    return {};
  };
}

template <class T> Setter integer(T& slot, uint64_t min, uint64_t max) {
  return [&slot, min, max](const json& v, const std::string& key) -> Status {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || uint64_t(v.get<int64_t>()) < min ||
        uint64_t(v.get<int64_t>()) > max) {
      return BW_INVALID(key + ": expected an integer " + std::to_string(min) + ".." +
                        std::to_string(max));
    }
    slot = static_cast<T>(v.get<int64_t>());
    return {};
  };
}

Setter quantities(std::map<std::string, std::string>& slot) {
  return [&slot](const json& v, const std::string& key) -> Status {
    if (!v.is_object()) {
      return BW_INVALID(key + ": expected an object like {\"cpu\": \"50m\"}");
    }
    std::map<std::string, std::string> parsed;
    for (const auto& [name, q] : v.items()) {
      if (name != "cpu" && name != "memory" && name != "ephemeral-storage") {
        return BW_INVALID(key + "." + name + ": unknown resource (cpu, memory, ephemeral-storage)");
      }
      if (!q.is_string() || !isQuantity(q.get<std::string>())) {
        return BW_INVALID(key + "." + name + ": expected a quantity string like \"100m\"");
      }
      parsed[name] = q.get<std::string>();
    }
    slot = std::move(parsed);
    return {};
  };
}

Setter resources(Resources& slot) {
  return [&slot](const json& v, const std::string& key) -> Status {
    return applyObject(v, key, {{"requests", quantities(slot.requests)},
                                {"limits", quantities(slot.limits)}});
  };
}

bool oneOfList(const std::string& v, std::initializer_list<std::string_view> list) {
  for (const auto item : list) {
    if (v == item) {
      return true;
    }
  }
  return false;
}

Status applyInjection(const json& v, const std::string& prefix, InjectConfig& c) {
  std::string capture(captureModeName(c.captureMode));
  std::string schema = c.schema == Schema::Split ? "split" : "single";
  std::string holder = c.holderSidecar == HolderSidecar::Native  ? "native"
                       : c.holderSidecar == HolderSidecar::Plain ? "plain"
                                                                 : "auto";
  auto st = applyObject(
      v, prefix,
      {{"images",
        [&c](const json& o, const std::string& k) {
          return applyObject(o, k,
                             {{"proxy", str(c.proxyImage)},
                              {"init", str(c.initImage)},
                              {"helper", str(c.helperImage)}});
        }},
       {"image_pull_policy",
        str(c.imagePullPolicy,
            [](const std::string& s) { return oneOfList(s, {"Always", "IfNotPresent", "Never"}); },
            "one of Always|IfNotPresent|Never")},
       {"mode", str(c.mode,
                    [](const std::string& s) {
                      return oneOfList(s, {"off", "monitoring", "safe_blocking", "block"});
                    },
                    "one of off|monitoring|safe_blocking|block")},
       {"mode_allow_override",
        str(c.modeAllowOverride,
            [](const std::string& s) { return oneOfList(s, {"on", "off", "strict"}); },
            "one of on|off|strict")},
       {"capture_mode",
        str(capture,
            [](const std::string& s) {
              CaptureMode m{};
              return parseCaptureMode(s, m);
            },
            "one of auto|ebpf|nftables|iptables|none")},
       {"iptables_enable", boolean(c.iptablesEnable)},
       {"schema", str(schema, [](const std::string& s) { return oneOfList(s, {"single", "split"}); },
                      "one of single|split")},
       {"native_sidecar", boolean(c.nativeSidecar)},
       {"ebpf_in_auto", boolean(c.ebpfInAuto)},
       {"pod_scrape_annotations", boolean(c.podScrapeAnnotations)},
       {"holder_sidecar",
        str(holder,
            [](const std::string& s) { return oneOfList(s, {"auto", "native", "plain"}); },
            "one of auto|native|plain")},
       {"strict", boolean(c.strict)},
       {"policy_configmap", str(c.policyConfigMap)},
       {"policy_key", str(c.policyKey)},
       {"resources",
        [&c](const json& o, const std::string& k) {
          return applyObject(o, k,
                             {{"proxy", resources(c.proxyResources)},
                              {"helper", resources(c.helperResources)},
                              {"init", resources(c.initResources)}});
        }},
       {"kubernetes_version",
        [&c](const json& o, const std::string& k) -> Status {
          if (!o.is_string()) {
            return BW_INVALID(k + ": expected a string like \"1.33\"");
          }
          const auto text = o.get<std::string>();
          if (text.empty()) {
            c.kubeMajor = c.kubeMinor = 0;
            return {};
          }
          if (!parseKubeVersion(text, c.kubeMajor, c.kubeMinor)) {
            return BW_INVALID(k + ": '" + text + "' is not a Kubernetes version like 1.33");
          }
          return {};
        }},
       {"prestop_seconds", integer(c.preStopSeconds, 0, 60)},
       {"drain_seconds", integer(c.drainSeconds, 0, 600)},
       {"secret_env", [&c](const json& o, const std::string& k) -> Status {
          if (!o.is_array()) {
            return BW_INVALID(k + ": expected an array of {name, secret, key}");
          }
          std::vector<SecretEnv> list;
          for (const auto& item : o) {
            SecretEnv e;
            if (auto s = applyObject(item, k + "[]",
                                     {{"name", str(e.name)},
                                      {"secret", str(e.secret)},
                                      {"key", str(e.key)}});
                !s) {
              return s;
            }
            if (e.name.empty() || e.secret.empty() || e.key.empty()) {
              return BW_INVALID(k + "[]: name, secret and key are all required");
            }
            list.push_back(std::move(e));
          }
          c.secretEnv = std::move(list);
          return {};
        }}});
  if (!st) {
    return st;
  }
  parseCaptureMode(capture, c.captureMode);
  c.schema = schema == "split" ? Schema::Split : Schema::Single;
  c.holderSidecar = holder == "native"  ? HolderSidecar::Native
                    : holder == "plain" ? HolderSidecar::Plain
                                        : HolderSidecar::Auto;
  return {};
}

Status setListen(const std::string& text, const std::string& key, WebhookConfig& cfg) {
  auto hp = net::parseHostPort(text);
  if (!hp) {
    return tl::unexpected(std::move(hp.error()).wrap(key));
  }
  cfg.listen = *hp;
  return {};
}

Status setLogLevel(const std::string& text, const std::string& key, WebhookConfig& cfg) {
  if (!log::parseLevel(text, cfg.logLevel)) {
    return BW_INVALID(key + ": '" + text + "' is not one of debug|info|warn|error");
  }
  return {};
}

} // namespace

bool parseKubeVersion(std::string_view text, int& major, int& minor) {
  if (!text.empty() && text.front() == 'v') {
    text.remove_prefix(1);
  }
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) {
    return false;
  }
  const auto maj = cli::parseUint(text.substr(0, dot), 1, 99);
  auto rest = text.substr(dot + 1);
  size_t n = 0;
  while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') {
    ++n;
  }
  const auto min = cli::parseUint(rest.substr(0, n), 0, 999);
  if (!maj || !min || (n < rest.size() && rest[n] != '.' && rest[n] != '-' && rest[n] != '+')) {
    return false;
  }
  major = static_cast<int>(*maj);
  minor = static_cast<int>(*min);
  return true;
}

bool parseCaptureMode(std::string_view text, CaptureMode& out) {
  for (size_t i = 0; i < kCaptureModeNames.size(); ++i) {
    if (text == kCaptureModeNames[i]) {
      out = static_cast<CaptureMode>(i);
      return true;
    }
  }
  return false;
}

std::string_view captureModeName(CaptureMode mode) {
  return kCaptureModeNames[static_cast<size_t>(mode)];
}

long double quantityValue(std::string_view s) {
  // <number><suffix>: number = digits with an optional fraction; suffix = binary SI (Ki..Ei),
  // decimal SI (m, k, M, G, T, P, E) or a decimal exponent (e3, E-2).
  size_t i = 0;
  if (i < s.size() && s[i] == '+') {
    ++i;
  }
  const size_t numStart = i;
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    ++i;
    ++digits;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
      ++digits;
    }
  }
  if (digits == 0 || digits > 40) {
    return -1;
  }
  long double value = std::strtold(std::string(s.substr(numStart, i - numStart)).c_str(), nullptr);
  const std::string_view suffix = s.substr(i);
  static const std::pair<std::string_view, long double> kSuffixes[] = {
      {"", 1},         {"m", 1e-3},          {"k", 1e3},           {"M", 1e6},
      {"G", 1e9},      {"T", 1e12},          {"P", 1e15},          {"E", 1e18},
      {"Ki", 1024.0L}, {"Mi", 1048576.0L},   {"Gi", 1073741824.0L}, {"Ti", 1099511627776.0L},
      {"Pi", 1125899906842624.0L}, {"Ei", 1152921504606846976.0L}};
  for (const auto& [name, mult] : kSuffixes) {
    if (suffix == name) {
      return value * mult;
    }
  }
  if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    size_t j = 1;
    bool negative = false;
    if (suffix[j] == '+' || suffix[j] == '-') {
      negative = suffix[j] == '-';
      ++j;
    }
    if (j == suffix.size() || suffix.size() - j > 3) {
      return -1;
    }
    int exp = 0;
    for (; j < suffix.size(); ++j) {
      if (suffix[j] < '0' || suffix[j] > '9') {
        return -1;
      }
      exp = exp * 10 + (suffix[j] - '0');
    }
    return value * std::pow(10.0L, negative ? -exp : exp);
  }
  return -1;
}

bool isQuantity(std::string_view text) {
  return !text.empty() && text.size() <= 64 && quantityValue(text) >= 0;
}

const std::vector<cli::OptionSpec>& webhookOptions() {
  static const std::vector<cli::OptionSpec> kOptions = {
      {"config", "FILE", "JSON configuration file (docs/webhook.md)"},
      {"listen", "ADDR:PORT", "HTTPS listen address (default 0.0.0.0:8443)"},
      {"tls-cert", "FILE", "PEM certificate chain, reloaded when it changes"},
      {"tls-key", "FILE", "PEM private key, reloaded when it changes"},
      {"log-level", "LEVEL", "debug|info|warn|error (default info)"},
  };
  return kOptions;
}

Status applyConfigJson(std::string_view text, WebhookConfig& cfg) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    return BW_INVALID("not valid JSON");
  }
  if (!doc.is_object()) {
    return BW_INVALID("the top level must be a JSON object");
  }
  try {
    return applyObject(
        doc, "",
        {{"listen",
          [&cfg](const json& v, const std::string& k) -> Status {
            if (!v.is_string()) {
              return BW_INVALID(k + ": expected \"ADDR:PORT\"");
            }
            return setListen(v.get<std::string>(), k, cfg);
          }},
         {"tls_cert", str(cfg.tlsCert)},
         {"tls_key", str(cfg.tlsKey)},
         {"threads", integer(cfg.threads, 1, 64)},
         {"max_body_bytes", integer(cfg.maxBodyBytes, 4096, 64ULL * 1024 * 1024)},
         {"cert_check_interval_ms",
          [&cfg](const json& v, const std::string& k) -> Status {
            uint64_t ms = 0;
            if (auto st = integer(ms, 100, 3600000)(v, k); !st) {
              return st;
            }
            cfg.certCheckInterval = std::chrono::milliseconds(ms);
            return {};
          }},
         {"request_timeout_ms",
          [&cfg](const json& v, const std::string& k) -> Status {
            uint64_t ms = 0;
            if (auto st = integer(ms, 100, 600000)(v, k); !st) {
              return st;
            }
            cfg.requestTimeout = std::chrono::milliseconds(ms);
            return {};
          }},
         {"tls_handshake_timeout_ms",
          [&cfg](const json& v, const std::string& k) -> Status {
            uint64_t ms = 0;
            if (auto st = integer(ms, 100, 60000)(v, k); !st) {
              return st;
            }
            cfg.tlsHandshakeTimeout = std::chrono::milliseconds(ms);
            return {};
          }},
         {"max_connections", integer(cfg.maxConnections, 4, 1000000)},
         {"log_level",
          [&cfg](const json& v, const std::string& k) -> Status {
            if (!v.is_string()) {
              return BW_INVALID(k + ": expected a string");
            }
            return setLogLevel(v.get<std::string>(), k, cfg);
          }},
         {"injection", [&cfg](const json& v, const std::string& k) {
            return applyInjection(v, k, cfg.inject);
          }}});
  } catch (const json::exception& e) {
    return BW_INVALID(std::string("unexpected value: ") + e.what());
  }
}

Result<WebhookConfig> loadConfig(const cli::ParsedArgs& args) {
  WebhookConfig cfg;
  auto value = [&args](std::string_view flag) -> std::optional<std::string> {
    if (auto v = args.last(flag)) {
      return v;
    }
    return cli::env(flag);
  };
  if (auto path = value("config")) {
    std::ifstream in(*path);
    if (!in) {
      return BW_ERR(errnoCode(errno), "--config " + *path + ": cannot read");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    if (auto st = applyConfigJson(ss.str(), cfg); !st) {
      return tl::unexpected(std::move(st.error()).wrap(*path));
    }
  }
  if (auto v = value("listen")) {
    if (auto st = setListen(*v, "--listen", cfg); !st) {
      return tl::unexpected(st.error());
    }
  }
  if (auto v = value("tls-cert")) {
    cfg.tlsCert = *v;
  }
  if (auto v = value("tls-key")) {
    cfg.tlsKey = *v;
  }
  if (auto v = value("log-level")) {
    if (auto st = setLogLevel(*v, "--log-level", cfg); !st) {
      return tl::unexpected(st.error());
    }
  }
  return cfg;
}

} // namespace bulwark::webhook

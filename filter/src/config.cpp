#include "bulwark/filter/config.h"

#include <cctype>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "bulwark/common/names.h"
#include "bulwark/filter/policy.h"

namespace bulwark::filter {
namespace {

using json = nlohmann::json;

constexpr std::string_view kModeNames[] = {"off", "monitoring", "safe_blocking", "block"};

Result<uint64_t> getUint(const json& v, const std::string& key, uint64_t min, uint64_t max) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    return BW_INVALID(key + ": expected an integer " + std::to_string(min) + ".." +
                      std::to_string(max));
  }
  const auto n = v.get<uint64_t>();
  if (n < min || n > max) {
    return BW_INVALID(key + ": " + std::to_string(n) + " is out of range " + std::to_string(min) +
                      ".." + std::to_string(max));
  }
  return n;
}

Result<std::string> getString(const json& v, const std::string& key) {
  if (!v.is_string()) {
    return BW_INVALID(key + ": expected a string");
  }
  return v.get<std::string>();
}

Status setListen(std::vector<std::string> items, const std::string& key, ProxyConfig& cfg) {
  if (items.empty()) {
    return BW_INVALID(key + ": needs at least one ADDR:PORT");
  }
  std::vector<net::HostPort> parsed;
  for (const auto& item : items) {
    auto hp = net::parseHostPort(item);
    if (!hp) {
      return tl::unexpected(std::move(hp.error()).wrap(key));
    }
    parsed.push_back(*hp);
  }
  cfg.listen = std::move(parsed);
  cfg.listenIsDefault = false;
  return {};
}

Status setUpstream(const std::string& text, const std::string& key, ProxyConfig& cfg) {
  auto hp = net::parseHostPort(text);
  if (!hp) {
    return tl::unexpected(std::move(hp.error()).wrap(key));
  }
  cfg.upstream = *hp;
  return {};
}

Status setAppPort(uint64_t port, ProxyConfig& cfg) {
  cfg.appPort = static_cast<uint16_t>(port);
  return {};
}

Status setStatusListen(const std::string& text, const std::string& key, ProxyConfig& cfg) {
  auto hp = net::parseHostPort(text, /*allowZeroPort=*/false);
  if (!hp) {
    return tl::unexpected(std::move(hp.error()).wrap(key));
  }
  cfg.statusListen = *hp;
  return {};
}

Status setMode(const std::string& text, const std::string& key, ProxyConfig& cfg) {
  if (!parseMode(text, cfg.mode)) {
    return BW_INVALID(key + ": '" + text + "' is not one of off|monitoring|safe_blocking|block");
  }
  return {};
}

Status setModeOverride(const std::string& text, const std::string& key, ProxyConfig& cfg) {
  if (text == "on") {
    cfg.modeAllowOverride = ModeAllowOverride::On;
  } else if (text == "off") {
    cfg.modeAllowOverride = ModeAllowOverride::Off;
  } else if (text == "strict") {
    cfg.modeAllowOverride = ModeAllowOverride::Strict;
  } else {
    return BW_INVALID(key + ": '" + text + "' is not one of on|off|strict");
  }
  return {};
}

// Whether a configuration document names a mode (it is valid JSON: it was applied before).
bool fileSetsMode(const std::string& text) {
  const json doc = json::parse(text, nullptr, false);
  return doc.is_object() && doc.contains("mode");
}

// A string option with a fixed set of values.
template <class E>
Status setChoice(const json& value, const std::string& key,
                 std::initializer_list<std::pair<std::string_view, E>> choices, E& out) {
  auto s = getString(value, key);
  if (!s) {
    return tl::unexpected(s.error());
  }
  std::string names;
  for (const auto& [name, v] : choices) {
    if (*s == name) {
      out = v;
      return {};
    }
    names += (names.empty() ? "" : "|") + std::string(name);
  }
  return BW_INVALID(key + ": '" + *s + "' is not one of " + names);
}

Status setLogLevel(const std::string& text, const std::string& key, ProxyConfig& cfg) {
  if (!log::parseLevel(text, cfg.logLevel)) {
    return BW_INVALID(key + ": '" + text + "' is not one of debug|info|warn|error");
  }
  return {};
}

// Applies an object of integer fields, each mapped to a setter; rejects unknown keys.
template <class Setter>
Status applyObject(const json& obj, const std::string& prefix,
                   std::initializer_list<std::pair<std::string_view, Setter>> fields) {
  if (!obj.is_object()) {
    return BW_INVALID(prefix + ": expected an object");
  }
  for (const auto& [key, value] : obj.items()) {
    bool known = false;
    for (const auto& [name, setter] : fields) {
      if (key == name) {
        known = true;
        if (auto st = setter(value, prefix + "." + key); !st) {
          return st;
        }
      }
    }
    if (!known) {
      return BW_INVALID(prefix + "." + key + ": unknown key");
    }
  }
  return {};
}

using FieldSetter = std::function<Status(const json&, const std::string&)>;

FieldSetter millis(std::chrono::milliseconds& slot, uint64_t min = 1) {
  return [&slot, min](const json& v, const std::string& key) -> Status {
    auto n = getUint(v, key, min, 86400000ULL);
    if (!n) {
      return tl::unexpected(n.error());
    }
    slot = std::chrono::milliseconds(*n);
    return {};
  };
}

template <class T> FieldSetter integer(T& slot, uint64_t min, uint64_t max) {
  return [&slot, min, max](const json& v, const std::string& key) -> Status {
    auto n = getUint(v, key, min, max);
    if (!n) {
      return tl::unexpected(n.error());
    }
    slot = static_cast<T>(*n);
    return {};
  };
}

} // namespace

Error oneLine(const Error& e) {
  std::string msg;
  log::appendJsonEscaped(msg, e.message());
  return Error(e.code(), std::move(msg), e.file(), e.line());
}

bool parseMode(std::string_view text, Mode& out) {
  for (size_t i = 0; i < std::size(kModeNames); ++i) {
    if (text == kModeNames[i]) {
      out = static_cast<Mode>(i);
      return true;
    }
  }
  return false;
}

std::string_view modeName(Mode mode) { return kModeNames[static_cast<size_t>(mode)]; }

namespace {

Status applyConfigJsonImpl(std::string_view text, ProxyConfig& cfg) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) { // parse errors and out-of-range numbers
    return BW_INVALID(std::string("not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) {
    return BW_INVALID("the top level must be a JSON object");
  }
  for (const auto& [key, value] : doc.items()) {
    Status st;
    if (key == "listen") {
      if (!value.is_array()) {
        return BW_INVALID("listen: expected an array of \"ADDR:PORT\" strings");
      }
      std::vector<std::string> items;
      for (const auto& item : value) {
        auto s = getString(item, "listen[]");
        if (!s) {
          return tl::unexpected(s.error());
        }
        items.push_back(*s);
      }
      st = setListen(std::move(items), "listen", cfg);
    } else if (key == "upstream") {
      auto s = getString(value, key);
      st = s ? setUpstream(*s, key, cfg) : Status(tl::unexpected(s.error()));
    } else if (key == "app_port") {
      auto n = getUint(value, key, 1, 65535);
      st = n ? setAppPort(*n, cfg) : Status(tl::unexpected(n.error()));
    } else if (key == "status_listen") {
      auto s = getString(value, key);
      st = s ? setStatusListen(*s, key, cfg) : Status(tl::unexpected(s.error()));
    } else if (key == "mode") {
      auto s = getString(value, key);
      st = s ? setMode(*s, key, cfg) : Status(tl::unexpected(s.error()));
    } else if (key == "mode_allow_override") {
      auto s = getString(value, key);
      st = s ? setModeOverride(*s, key, cfg) : Status(tl::unexpected(s.error()));
    } else if (key == "threads") {
      auto n = getUint(value, key, 0, 256);
      if (n) {
        cfg.threads = static_cast<unsigned>(*n);
      } else {
        st = tl::unexpected(n.error());
      }
    } else if (key == "log_level") {
      auto s = getString(value, key);
      st = s ? setLogLevel(*s, key, cfg) : Status(tl::unexpected(s.error()));
    } else if (key == "non_http") {
      st = setChoice(value, key,
                     {{"pass", NonHttpAction::Pass}, {"close", NonHttpAction::Close}},
                     cfg.nonHttp);
    } else if (key == "http2_prior_knowledge") {
      st = setChoice(value, key,
                     {{"refuse", Http2PriorKnowledge::Refuse}, {"pass", Http2PriorKnowledge::Pass}},
                     cfg.http2PriorKnowledge);
    } else if (key == "source_address") {
      auto s = getString(value, key);
      if (!s) {
        st = tl::unexpected(s.error());
      } else if (!s->empty() && !net::isIpv4Literal(*s)) {
        st = BW_INVALID("source_address: '" + *s + "' is not an IPv4 address");
      } else {
        cfg.sourceAddress = *s;
      }
    } else if (key == "limits") {
      st = applyObject<FieldSetter>(
          value, key,
          {{"max_request_line", integer(cfg.limits.maxRequestLine, 64, 1 << 20)},
           {"max_header_bytes", integer(cfg.limits.maxHeaderBytes, 256, 1 << 24)},
           {"max_headers", integer(cfg.limits.maxHeaders, 1, 10000)},
           {"max_body_bytes", integer(cfg.limits.maxBodyBytes, 0, UINT64_MAX >> 1)},
           {"max_connections", integer(cfg.limits.maxConnections, 0, 10000000)},
           {"max_connections_per_source",
            integer(cfg.limits.maxConnectionsPerSource, 0, 10000000)}});
    } else if (key == "timeouts") {
      auto& t = cfg.timeouts;
      st = applyObject<FieldSetter>(value, key,
                                    {{"header_ms", millis(t.header)},
                                     {"idle_ms", millis(t.idle)},
                                     {"body_ms", millis(t.body)},
                                     {"send_ms", millis(t.send)},
                                     {"upstream_connect_ms", millis(t.upstreamConnect)},
                                     {"upstream_read_ms", millis(t.upstreamRead)},
                                     {"tunnel_idle_ms", millis(t.tunnelIdle)},
                                     {"drain_ms", millis(t.drain, 0)},
                                     {"drain_delay_ms", millis(t.drainDelay, 0)}});
    } else if (key == "policy") {
      Policy probe;
      cfg.policyJson = value.dump();
      st = applyPolicyJson(cfg.policyJson, probe);
    } else if (key == "application" || key == "node_group") {
      auto s = getString(value, key);
      if (!s) {
        st = tl::unexpected(s.error());
      } else if (s->empty() || (st = checkEventLabel(*s, key))) { // "" = not set
        (key == "application" ? cfg.application : cfg.nodeGroup) = *s;
      }
    } else if (key == "block_page") {
      auto s = getString(value, key);
      if (!s) {
        st = tl::unexpected(s.error());
      } else {
        cfg.blockPage = *s;
        cfg.blockPageSource = "block_page";
      }
    } else if (key == "probe_paths") {
      if (!value.is_array()) {
        return BW_INVALID("probe_paths: expected an array of request-target strings");
      }
      ProbePaths paths;
      for (const auto& item : value) {
        auto s = getString(item, "probe_paths[]");
        if (!s) {
          return tl::unexpected(s.error());
        }
        paths.add(*s, "probe_paths", cfg.warnings);
      }
      cfg.probePaths = std::move(paths);
    } else if (key == "upstream_pool") {
      st = applyObject<FieldSetter>(
          value, key,
          {{"max_idle_per_thread", integer(cfg.pool.maxIdlePerThread, 0, 100000)},
           {"idle_ms", millis(cfg.pool.idle)}});
    } else {
      return BW_INVALID(key + ": unknown key");
    }
    if (!st) {
      return st;
    }
  }
  return {};
}

} // namespace

Status applyConfigJson(std::string_view text, ProxyConfig& cfg) {
  auto st = applyConfigJsonImpl(text, cfg);
  if (!st) {
    return tl::unexpected(oneLine(st.error()));
  }
  return st;
}

Result<ProxyConfig> loadConfig(const cli::ParsedArgs& args) {
  ProxyConfig cfg;
  cfg.listen = {{"0.0.0.0", names::kProxyPort, false}, {"::", names::kProxyPort, true}};

  // Each option: flag wins over environment.
  auto pick = [&args](std::string_view name) -> std::optional<std::pair<std::string, std::string>> {
    if (auto v = args.last(name)) {
      return std::make_pair(*v, "--" + std::string(name));
    }
    if (auto v = cli::env(name)) {
      return std::make_pair(*v, cli::envName(name));
    }
    return std::nullopt;
  };

  if (auto file = pick("config")) {
    std::ifstream in(file->first);
    if (!in) {
      return BW_ERR(errnoCode(errno), file->second + ": cannot read '" + file->first + "'");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    if (auto st = applyConfigJson(ss.str(), cfg); !st) {
      return tl::unexpected(std::move(st.error()).wrap("config " + file->first));
    }
    cfg.configPath = file->first;
    if (fileSetsMode(ss.str())) {
      cfg.modeSource = "config";
    }
  }

  // The policy file (the webhook mounts the policy ConfigMap there) has the same format; it is
  // optional, so a pod whose ConfigMap is missing still starts, with the defaults.
  // Its "mode" is kept aside: mode-allow-override decides below whether it replaces the
  // pod's own mode.
  std::optional<Mode> policyMode;
  if (auto file = pick("policy-file")) {
    cfg.policyPath = file->first;
    std::ifstream in(file->first);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      const Mode own = cfg.mode;
      const ModeAllowOverride allow = cfg.modeAllowOverride;
      if (auto st = applyConfigJson(ss.str(), cfg); !st) {
        return tl::unexpected(std::move(st.error()).wrap("policy file " + file->first));
      }
      if (fileSetsMode(ss.str())) {
        policyMode = cfg.mode;
      }
      cfg.mode = own;
      cfg.modeAllowOverride = allow; // the cluster policy cannot grant itself the override
    }
  }

  if (const auto* flags = args.all("listen")) {
    if (auto st = setListen(*flags, "--listen", cfg); !st) {
      return tl::unexpected(st.error());
    }
  } else if (auto v = cli::env("listen")) {
    if (auto st = setListen(cli::splitList(*v), "BULWARK_LISTEN", cfg); !st) {
      return tl::unexpected(st.error());
    }
  }
  if (auto v = pick("upstream")) {
    if (auto st = setUpstream(v->first, v->second, cfg); !st) {
      return tl::unexpected(st.error());
    }
  }
  if (auto v = pick("app-port")) {
    auto n = cli::parseUint(v->first, 1, 65535);
    if (!n) {
      return BW_INVALID(v->second + ": '" + v->first + "' is not a port (1-65535)");
    }
    cfg.appPort = static_cast<uint16_t>(*n);
  }
  if (auto v = pick("status-listen")) {
    if (auto st = setStatusListen(v->first, v->second, cfg); !st) {
      return tl::unexpected(st.error());
    }
  }
  if (auto v = pick("mode")) {
    if (auto st = setMode(v->first, v->second, cfg); !st) {
      return tl::unexpected(st.error());
    }
    cfg.modeSource = v->second.starts_with("--") ? "flag" : "env";
  }
  if (auto v = pick("mode-allow-override")) {
    if (auto st = setModeOverride(v->first, v->second, cfg); !st) {
      return tl::unexpected(st.error());
    }
  }
  if (policyMode && (cfg.modeAllowOverride == ModeAllowOverride::On ||
                     (cfg.modeAllowOverride == ModeAllowOverride::Strict && *policyMode > cfg.mode))) {
    cfg.mode = *policyMode;
    cfg.modeSource = "policy";
  }
  if (auto v = pick("paranoia-level")) {
    auto n = cli::parseUint(v->first, 1, 4);
    if (!n) {
      return BW_INVALID(v->second + ": '" + v->first + "' is not a paranoia level (1-4)");
    }
    cfg.paranoiaLevel = static_cast<uint8_t>(*n);
  }
  for (const auto& [name, slot] : {std::pair<std::string_view, std::string*>{"application", &cfg.application},
                                   {"node-group", &cfg.nodeGroup}}) {
    if (auto v = pick(name); v && !v->first.empty()) { // "" = not set
      // A label that is not one is refused: events with a wrong or missing label would be
      // filed under the wrong application without anyone noticing.
      if (auto st = checkEventLabel(v->first, v->second); !st) {
        return tl::unexpected(oneLine(st.error()));
      }
      *slot = v->first;
    }
  }
  if (auto v = pick("block-page")) {
    cfg.blockPage = v->first;
    cfg.blockPageSource = v->second;
  }
  if (auto v = pick("probe-paths")) {
    cfg.probePaths = ProbePaths::parse(v->first, v->second, cfg.warnings);
  }
  if (auto v = pick("threads")) {
    auto n = cli::parseUint(v->first, 0, 256);
    if (!n) {
      return BW_INVALID(v->second + ": '" + v->first + "' is not a thread count (0-256)");
    }
    cfg.threads = static_cast<unsigned>(*n);
  }
  if (auto v = pick("log-level")) {
    if (auto st = setLogLevel(v->first, v->second, cfg); !st) {
      return tl::unexpected(st.error());
    }
  }
  return cfg;
}

} // namespace bulwark::filter

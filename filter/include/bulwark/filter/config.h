#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/common/cli.h"
#include "bulwark/common/log.h"
#include "bulwark/common/net.h"
#include "bulwark/common/result.h"
#include "bulwark/filter/probes.h"

namespace bulwark::filter {

enum class Mode { Off, Monitoring, SafeBlocking, Block }; // in order of strictness

// Whether the policy file's "mode" (the cluster policy ConfigMap) overrides the pod's own mode
// (--mode / BULWARK_MODE / the config file): on = it does, off = it is ignored, strict = only
// when it is stricter. Compatible with Wallarm's mode-allow-override.
enum class ModeAllowOverride { On, Off, Strict };
bool parseMode(std::string_view text, Mode& out);
std::string_view modeName(Mode mode);

// What to do with a connection that does not start with an HTTP/1.x request.
enum class NonHttpAction { Pass, Close };

// An HTTP/2 prior-knowledge preface ("PRI * HTTP/2.0") on the HTTP/1.1 port: Refuse = closed with
// a GOAWAY (HTTP_1_1_REQUIRED) in block and safe_blocking modes, handled as non_http in the
// others; Pass = always handled as non_http (uninspected).
enum class Http2PriorKnowledge { Refuse, Pass };

struct Limits {
  uint32_t maxRequestLine = 32768;
  uint32_t maxHeaderBytes = 65536;
  uint32_t maxHeaders = 100;
  uint64_t maxBodyBytes = 0; // 0 = unlimited (bodies are streamed)
  // Client connections held at once (all threads); 0 = derived from RLIMIT_NOFILE at start.
  uint32_t maxConnections = 0;
  // Client connections held at once from one source address; 0 = no per-source cap.
  uint32_t maxConnectionsPerSource = 0;
};

struct Timeouts {
  using ms = std::chrono::milliseconds;
  ms header{10000};
  ms idle{60000};
  ms body{60000};
  ms send{60000};
  ms upstreamConnect{5000};
  ms upstreamRead{60000};
  ms tunnelIdle{3600000};
  ms drain{25000};
  // After SIGTERM: keep accepting (with /readyz failing) this long before closing the listeners.
  ms drainDelay{2000};
};

struct PoolConfig {
  uint32_t maxIdlePerThread = 64;
  std::chrono::milliseconds idle{30000};
};

struct Policy;

struct ProxyConfig {
  std::vector<net::HostPort> listen;
  bool listenIsDefault = true; // default listen list: an IPv6 wildcard may be skipped
  std::optional<net::HostPort> upstream;
  uint16_t appPort = 80;
  net::HostPort statusListen{"0.0.0.0", 10246, false};
  Mode mode = Mode::Monitoring;
  ModeAllowOverride modeAllowOverride = ModeAllowOverride::On;
  std::string modeSource = "default"; // what decided the mode: default, config, env, flag, policy
  unsigned threads = 0; // 0 = one per CPU
  log::Level logLevel = log::Level::Info;
  NonHttpAction nonHttp = NonHttpAction::Pass;
  Http2PriorKnowledge http2PriorKnowledge = Http2PriorKnowledge::Refuse;
  std::string sourceAddress = "127.0.0.6";
  Limits limits;
  Timeouts timeouts;
  PoolConfig pool;
  std::string policyJson = "{}"; // the "policy" object, applied by applyPolicyJson()
  std::string configPath;        // the file the configuration came from ("" = none)
  std::string policyPath;        // optional policy file (a mounted ConfigMap); may not exist yet
  // --paranoia-level / BULWARK_PARANOIA_LEVEL (the pod's annotation): replaces the policy's
  // top-level paranoia_level; per-path overrides still apply. Unset: the policy decides.
  std::optional<uint8_t> paranoiaLevel;
  // Event labels (--application / BULWARK_APPLICATION, --node-group / BULWARK_NODE_GROUP, keys
  // "application" / "node_group"): carried by every attack event; "" = not set.
  std::string application;
  // HTML file that replaces the built-in 403 page for browsers (--block-page / BULWARK_BLOCK_PAGE,
  // key "block_page"); "" = the built-in page. blockPageSource names the setting for errors.
  std::string blockPage;
  std::string blockPageSource;
  std::string nodeGroup;
  // Kubelet probe targets forwarded uninspected (--probe-paths / BULWARK_PROBE_PATHS, key
  // "probe_paths"); invalid entries are dropped with a warning.
  ProbePaths probePaths;
  // Problems that did not stop the configuration from loading (logged at start and reload).
  std::vector<std::string> warnings;
};

// The same error with control characters in its message escaped: configuration errors echo
// keys, values and parser context from the file, and must stay one line.
Error oneLine(const Error& e);

// Applies a JSON configuration document onto `cfg`. Unknown keys and wrong types are errors
// naming the key ("limits.max_headers: expected an integer 1..10000").
Status applyConfigJson(std::string_view json, ProxyConfig& cfg);

// Builds the effective configuration: defaults < file (--config / BULWARK_CONFIG) < environment
// (BULWARK_<FLAG>) < flags.
Result<ProxyConfig> loadConfig(const cli::ParsedArgs& args);

// The command-line options of bulwark-proxy (shared by --help and the parser).
const std::vector<cli::OptionSpec>& proxyOptions();

} // namespace bulwark::filter

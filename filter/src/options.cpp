// The command-line options of bulwark-proxy (also read from BULWARK_* environment variables;
// see loadConfig in config.cpp and docs/proxy.md).
#include "bulwark/filter/config.h"

namespace bulwark::filter {

const std::vector<cli::OptionSpec>& proxyOptions() {
  static const std::vector<cli::OptionSpec> specs = {
      {"config", "FILE", "JSON configuration file (see docs/proxy.md)", false},
      {"listen", "ADDR:PORT", "accept clients here (repeatable; default 0.0.0.0:26001 and [::]:26001)",
       true},
      {"upstream", "HOST:PORT", "fixed app address (default 127.0.0.1:<original port or app port>)",
       false},
      {"app-port", "N", "application port when the original destination is unknown (default 80)",
       false},
      {"status-listen", "ADDR:PORT", "status server for /healthz /readyz /metrics (default 0.0.0.0:10246)",
       false},
      {"policy-file", "FILE", "optional JSON file like --config, applied over it and watched (a mounted ConfigMap)",
       false},
      {"mode", "MODE", "off|monitoring|safe_blocking|block (default monitoring)", false},
      {"mode-allow-override", "on|off|strict",
       "may the policy file's mode replace --mode: on (default), off, strict (only a stricter one)",
       false},
      {"threads", "N", "worker threads, 0 = one per CPU (default 0)", false},
      {"log-level", "LEVEL", "debug|info|warn|error (default info)", false},
      {"paranoia-level", "N", "detection paranoia level 1-4 (default: the policy's, else 1)", false},
      {"ebpf-handoff", "PATH", "eBPF capture: hand the listening sockets to the holder here", false},
      {"application", "ID", "application label of attack events: 1-63 of [A-Za-z0-9._-]", false},
      {"node-group", "NAME", "node group label of attack events: 1-63 of [A-Za-z0-9._-]", false},
      {"block-page", "FILE",
       "HTML page (at most 64 KiB) for browsers whose request is blocked; {{request_id}} is "
       "replaced by the request id (default: a built-in page)",
       false},
      {"probe-paths", "LIST",
       "kubelet probe targets (comma separated, path and query) forwarded uninspected when "
       "matched exactly by a GET/HEAD without a body",
       false},
  };
  return specs;
}

} // namespace bulwark::filter

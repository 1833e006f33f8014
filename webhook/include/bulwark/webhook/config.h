#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/common/cli.h"
#include "bulwark/common/log.h"
#include "bulwark/common/net.h"
#include "bulwark/common/names.h"
#include "bulwark/common/result.h"

namespace bulwark::webhook {

// How the init container steers the pod's inbound traffic to the proxy (DESIGN.md).
enum class CaptureMode { Auto, Ebpf, Nftables, Iptables, None };
// single: one sidecar container; split: the proxy plus a helper container (docs/webhook.md).
enum class Schema { Single, Split };
// How the eBPF holder bulwark-hold is injected: a native sidecar (an init container with
// restartPolicy Always, Kubernetes >= 1.29), a plain sidecar (first regular container, its
// postStart hook waits for the program to be attached), or auto (native unless the cluster's
// version is known and older than 1.29).
enum class HolderSidecar { Auto, Native, Plain };

bool parseCaptureMode(std::string_view text, CaptureMode& out);
std::string_view captureModeName(CaptureMode mode);

// requests/limits per resource name ("cpu", "memory"); values are Kubernetes quantities.
struct Resources {
  std::map<std::string, std::string> requests;
  std::map<std::string, std::string> limits;
  bool operator==(const Resources&) const = default;
};

// An environment variable taken from a Secret (never a plain value in the pod spec).
struct SecretEnv {
  std::string name;   // variable name
  std::string secret; // Secret name in the pod's namespace
  std::string key;    // key in the Secret
  bool operator==(const SecretEnv&) const = default;
};

// Injection defaults (the chart's values); annotations override them per pod.
struct InjectConfig {
  std::string proxyImage = "ghcr.io/bulwark-waf/bulwark-proxy:" BULWARK_VERSION;
  std::string initImage = "ghcr.io/bulwark-waf/bulwark-init:" BULWARK_VERSION;
  std::string helperImage; // empty: the proxy image
  std::string imagePullPolicy = "IfNotPresent";
  std::string mode = "monitoring";      // filter mode
  std::string modeAllowOverride = "on"; // on|off|strict
  CaptureMode captureMode = CaptureMode::Auto;
  bool iptablesEnable = true; // chart value config.injectionStrategy.iptablesEnable
  Schema schema = Schema::Single;
  bool nativeSidecar = false;
  bool ebpfInAuto = false; // capture-mode auto may use eBPF (grants CAP_BPF, adds bulwark-hold)
  // Add prometheus.io/scrape|port|path (the proxy's status port) to a pod that has no
  // prometheus.io/* annotation of its own.
  bool podScrapeAnnotations = false;
  HolderSidecar holderSidecar = HolderSidecar::Auto;
  bool strict = false;     // an invalid annotation rejects the pod instead of a warning
  std::string policyConfigMap{names::kDefaultPolicyConfigMap};
  std::string policyKey = "bulwark.json";
  Resources proxyResources{{{"cpu", "50m"}, {"memory", "64Mi"}}, {{"memory", "256Mi"}}};
  Resources helperResources{{{"cpu", "10m"}, {"memory", "32Mi"}}, {{"memory", "128Mi"}}};
  Resources initResources{{{"cpu", "10m"}, {"memory", "16Mi"}},
                          {{"cpu", "100m"}, {"memory", "64Mi"}}};
  std::vector<SecretEnv> secretEnv;
  // The cluster's Kubernetes version as "MAJOR.MINOR" (the chart renders
  // .Capabilities.KubeVersion); 0.0 = unknown. Gates native sidecars (>= 1.29) and the proxy's
  // preStop sleep action (>= 1.30).
  int kubeMajor = 0;
  int kubeMinor = 0;
  int preStopSeconds = 5; // endpoints are removed before the proxy starts draining
  int drainSeconds = 25;  // the proxy's timeouts.drain_ms (docs/proxy.md)
};

// "1.33", "v1.33.9", "v1.30.2-eks-1234": major and minor; false when `text` is none of these.
bool parseKubeVersion(std::string_view text, int& major, int& minor);

struct WebhookConfig {
  net::HostPort listen{"0.0.0.0", names::kWebhookPort, false};
  std::string tlsCert = "/etc/bulwark/tls/tls.crt";
  std::string tlsKey = "/etc/bulwark/tls/tls.key";
  unsigned threads = 2;
  size_t maxBodyBytes = 4 * 1024 * 1024; // an AdmissionReview carries at most ~1.5 MiB objects
  std::chrono::milliseconds certCheckInterval{1000};
  std::chrono::milliseconds requestTimeout{10000};
  // From accept to the end of the TLS handshake; a connection that has not sent its first byte
  // costs only a socket until then.
  std::chrono::milliseconds tlsHandshakeTimeout{5000};
  // Open connections at most; at the cap the oldest one that has not sent a byte is closed to
  // make room (so idle connections cannot lock the API server out), else the new one is.
  size_t maxConnections = 1024;
  log::Level logLevel = log::Level::Info;
  InjectConfig inject;
};

// Applies a JSON configuration document onto `cfg`; unknown keys and wrong types are errors.
Status applyConfigJson(std::string_view text, WebhookConfig& cfg);

// Defaults < --config file < BULWARK_<FLAG> environment < flags.
Result<WebhookConfig> loadConfig(const cli::ParsedArgs& args);

const std::vector<cli::OptionSpec>& webhookOptions();

// Kubernetes resource.Quantity syntax ("100m", "64Mi", "1.5", "1e3"); non-negative only.
bool isQuantity(std::string_view text);
// The value of a quantity in base units (cores, bytes); negative when `text` is not one.
long double quantityValue(std::string_view text);

} // namespace bulwark::webhook

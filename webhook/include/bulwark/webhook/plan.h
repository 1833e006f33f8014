#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/common/names.h"
#include "bulwark/common/result.h"
#include "bulwark/webhook/config.h"

namespace bulwark::webhook {

// The block-page ConfigMap (annotation block-page-configmap): mounted here in the proxy, which
// serves the key kBlockPageKey as its 403 page for browsers (BULWARK_BLOCK_PAGE).
inline constexpr std::string_view kBlockPageVolumeName = "bulwark-block-page";
inline constexpr std::string_view kBlockPageMountPath = "/etc/bulwark/block-page";
inline constexpr std::string_view kBlockPageKey = "block.html";

// What the webhook decided for one pod, before any JSON Patch is written: annotations and the
// chart's configuration resolved into plain values (docs/webhook.md "Injection plan"). Pure
// data; buildPlan() reads the pod and the configuration, renderPatch() writes the patch.
struct InjectionPlan {
  // Filter proxy.
  std::string mode;              // off|monitoring|safe_blocking|block
  std::string modeAllowOverride; // on|off|strict
  uint16_t appPort = names::kDefaultAppPort;   // the proxy's --app-port (first of appPorts)
  std::vector<uint16_t> appPorts;               // captured ports; empty = {appPort}
  bool allPorts = false;                        // capture every port but excludePorts
  std::vector<uint16_t> excludePorts;           // with allPorts (bulwark-init --exclude-port)
  std::vector<std::string> excludeCidrs;        // sources never captured (--exclude-cidr)
  uint16_t proxyPort = names::kProxyPort;
  std::string proxyImage;
  std::string helperImage;
  std::string initImage;
  std::string imagePullPolicy;
  std::string policyConfigMap;
  std::string policyKey;
  Resources proxyRes, helperRes, initRes;
  std::vector<SecretEnv> secretEnv;
  int paranoiaLevel = 0;     // 1-4; 0 = the proxy's own default (env BULWARK_PARANOIA_LEVEL)
  std::string application;   // application id for events (env BULWARK_APPLICATION)
  std::string nodeGroup;     // node group label for events (env BULWARK_NODE_GROUP)
  std::string blockPageConfigMap; // ConfigMap with block.html for the 403 page; "" = built-in

  // Layout.
  Schema schema = Schema::Single;
  bool native = false;

  // Capture (the init container); off: clients use the named port "proxy".
  bool capture = true;
  CaptureMode captureMode = CaptureMode::Auto;
  bool hold = false; // bulwark-hold (eBPF link owner)
  // bulwark-hold as a native sidecar before the init step; false: the first regular container
  // (clusters without native sidecars), which attaches by itself, so ebpf mode has no init step.
  bool holdNative = true;

  // Kubelet httpGet probes of the app that reach a captured port (they pass the proxy); their
  // paths go to the proxy as BULWARK_PROBE_PATHS.
  std::vector<std::string> probePaths;

  // Shutdown: the proxy's preStop sleep (0 = none: Kubernetes < 1.30 or unknown) and the pod's
  // terminationGracePeriodSeconds to add (0 = leave it).
  int preStopSeconds = 0;
  int terminationGraceSeconds = 0;
  bool podHasTerminationGrace = false;
  bool ebpfInAuto = false;

  // Extra volumes / mounts of the proxy (validated JSON array texts; empty = none).
  std::string extraVolumes;
  std::string extraMounts;
  std::vector<std::string> extraVolumeNames;

  // The pod as found: where the patch adds things.
  std::string runVolume;
  std::string policyVolume;
  std::string blockPageVolume; // with blockPageConfigMap
  bool podHasInitContainers = false;
  bool podHasVolumes = false;
  enum class Meta { Missing, NoAnnotations, Annotations } meta = Meta::Missing;
  std::string defaultContainer; // kubectl default-container annotation to add; empty = none
  bool scrapeAnnotations = false; // add prometheus.io/scrape|port|path for the proxy's metrics

  // Problems found; each falls back to a default. `invalid` = a value was wrong or a key under
  // our prefix is unknown (strict mode rejects such a pod).
  std::vector<std::string> warnings;
  bool invalid = false;

  bool operator==(const InjectionPlan&) const = default;
};

// Either a plan, or why the pod is left alone (with warnings), or (strict) why it is rejected.
struct PlanDecision {
  std::optional<InjectionPlan> plan;
  std::string skipped;
  std::vector<std::string> warnings;
  std::optional<std::string> denied;
};

// Reads the Pod (JSON text, as in the AdmissionReview's request.object). Errors only when the
// text is not a JSON object; never throws.
[[nodiscard]] Result<PlanDecision> buildPlan(std::string_view podJson, const InjectConfig& cfg);

// RFC 6902 JSON Patch (array text) that applies `plan` to the pod it was built from.
[[nodiscard]] std::string renderPatch(const InjectionPlan& plan);

// The annotation keys (after the prefix) the webhook understands, in processing order.
std::vector<std::string_view> knownAnnotationKeys();

} // namespace bulwark::webhook

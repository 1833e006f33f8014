// InjectionPlan -> RFC 6902 JSON Patch. Deterministic: the same plan always gives the same
// bytes (tests/golden/webhook/).

#include <type_traits>

#include "bulwark/common/names.h"
#include "plan_internal.h"

namespace bulwark::webhook {
namespace detail {
namespace {

// bulwark-init hold's socket for the proxy's hand-off in the run directory (the capture
// library's kSteerSocketName; the webhook does not link the capture library).
constexpr std::string_view kSteerSocket = "steer.sock";

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

// The init step's capabilities. In eBPF mode it only talks to bulwark-hold over the holder's
// control socket (same UID, root), which does the privileged part: none. auto with eBPF allowed
// probes eBPF itself before it asks the holder (CAP_BPF) and may fall back to netfilter.
json capabilitiesFor(CaptureMode mode, bool ebpfInAuto) {
  switch (mode) {
  case CaptureMode::Ebpf:
    return json::array();
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

// Root without privilege escalation, only the capabilities the capture mode needs (none: drop
// ALL and add nothing).
json rootCapSecurityContext(json caps) {
  json capabilities = {{"drop", json::array({"ALL"})}};
  if (!caps.empty()) {
    capabilities["add"] = std::move(caps);
  }
  return {{"runAsUser", 0},
          {"runAsGroup", 0},
          {"runAsNonRoot", false},
          {"privileged", false},
          {"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", true},
          {"capabilities", std::move(capabilities)},
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

std::string_view schemaName(Schema s) { return s == Schema::Split ? "split" : "single"; }

json proxyContainer(const InjectionPlan& plan, const json& env, const json& runMount) {
  const std::string policyDir(names::kPolicyMountPath);
  json args = json::array({"--mode", plan.mode, "--app-port", std::to_string(plan.appPort),
                           "--status-listen", "0.0.0.0:" + std::to_string(names::kStatusPort)});
  if (plan.proxyPort != names::kProxyPort) {
    for (const auto* host : {"0.0.0.0:", "[::]:"}) {
      args.push_back("--listen");
      args.push_back(host + std::to_string(plan.proxyPort));
    }
  }
  json mounts = json::array(
      {runMount, {{"name", plan.policyVolume}, {"mountPath", policyDir}, {"readOnly", true}}});
  if (!plan.blockPageVolume.empty()) {
    mounts.push_back(
        {{"name", plan.blockPageVolume}, {"mountPath", kBlockPageMountPath}, {"readOnly", true}});
  }
  if (!plan.extraMounts.empty()) {
    for (const auto& m : json::parse(plan.extraMounts)) {
      mounts.push_back(m);
    }
  }
  json proxy = {
      {"name", names::kProxyContainerName},
      {"image", plan.proxyImage},
      {"imagePullPolicy", plan.imagePullPolicy},
      {"command", json::array({"bulwark-proxy"})},
      {"args", args},
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
      {"volumeMounts", mounts},
      {"terminationMessagePolicy", "FallbackToLogsOnError"}};
  if (plan.preStopSeconds > 0) {
    // Keep serving while the endpoint is removed; then SIGTERM starts the proxy's drain.
    proxy["lifecycle"] = {{"preStop", {{"sleep", {{"seconds", plan.preStopSeconds}}}}}};
  }
  if (plan.native) {
    proxy["restartPolicy"] = "Always";
    // A native sidecar must be up before the app starts: gate on the status port.
    proxy["startupProbe"] = probe("/healthz", 1);
    proxy["startupProbe"]["failureThreshold"] = 30;
  }
  return proxy;
}

// The helper ships the proxy's attack events and watches the policy ConfigMap, so the proxy's
// hot path never blocks on either (docs/webhook.md).
json helperContainer(const InjectionPlan& plan, const json& env, const json& runMount) {
  const std::string policyDir(names::kPolicyMountPath);
  json helper = {
      {"name", names::kHelperContainerName},
      {"image", plan.helperImage.empty() ? plan.proxyImage : plan.helperImage},
      {"imagePullPolicy", plan.imagePullPolicy},
      {"command", json::array({"bulwark-helper"})},
      {"args", json::array({"--run-dir", names::kRunDir, "--policy-dir", policyDir})},
      {"env", env},
      {"resources", resourcesJson(plan.helperRes)},
      {"securityContext", proxySecurityContext(false)},
      {"volumeMounts", json::array({runMount, {{"name", plan.policyVolume},
                                               {"mountPath", policyDir},
                                               {"readOnly", true}}})},
      {"terminationMessagePolicy", "FallbackToLogsOnError"}};
  if (plan.native) {
    helper["restartPolicy"] = "Always";
  }
  return helper;
}

template <class List> std::string joined(const List& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) {
      out += ',';
    }
    if constexpr (std::is_integral_v<std::decay_t<decltype(i)>>) {
      out += std::to_string(i);
    } else {
      out += i;
    }
  }
  return out;
}

// Environment of bulwark-init (apply) and bulwark-hold: the same plan, so the configuration
// apply sends the holder is the one the holder attached with (nothing rewritten) and verify
// compares against it. No BULWARK_POD_IP: the capture takes every local address, like the
// netfilter rules (status.podIP alone would leave a dual-stack pod's IPv6 address uncaptured).
json captureEnv(const InjectionPlan& plan, std::string_view mode, bool netfilter) {
  json env = json::array(
      {{{"name", "BULWARK_APP_PORT"},
        {"value", plan.allPorts ? std::string("all") : joined(plan.appPorts)}},
       {{"name", "BULWARK_PROXY_PORT"}, {"value", std::to_string(plan.proxyPort)}},
       {{"name", "BULWARK_MODE"}, {"value", std::string(mode)}}});
  if (plan.hold) {
    // Fail-closed: no proxy socket (not started, restarting) refuses the connection instead of
    // letting it reach the app unfiltered; an apply that fails keeps the pod from starting.
    env.push_back({{"name", "BULWARK_FAIL_OPEN"}, {"value", "false"}});
  }
  if (netfilter) {
    // iptables takes its lock under /run, which is read-only here.
    env.push_back(
        {{"name", "XTABLES_LOCKFILE"}, {"value", std::string(names::kRunDir) + "/xtables.lock"}});
  }
  if (plan.allPorts && !plan.excludePorts.empty()) {
    env.push_back({{"name", "BULWARK_EXCLUDE_PORT"}, {"value", joined(plan.excludePorts)}});
  }
  if (!plan.excludeCidrs.empty()) {
    env.push_back({{"name", "BULWARK_EXCLUDE_CIDR"}, {"value", joined(plan.excludeCidrs)}});
  }
  return env;
}

json initContainer(const InjectionPlan& plan, const json& runMount) {
  return {{"name", names::kInitContainerName},
          {"image", plan.initImage},
          {"imagePullPolicy", plan.imagePullPolicy},
          {"command", json::array({"bulwark-init", "apply"})},
          {"env", captureEnv(plan, captureModeName(plan.captureMode),
                             plan.captureMode != CaptureMode::Ebpf)},
          {"resources", resourcesJson(plan.initRes)},
          {"securityContext",
           rootCapSecurityContext(capabilitiesFor(plan.captureMode, plan.ebpfInAuto))},
          {"volumeMounts", json::array({runMount})},
          {"terminationMessagePolicy", "FallbackToLogsOnError"}};
}

// bulwark-hold: loads and attaches the sk_lookup program, owns the link and the socket map,
// takes the proxy's listening sockets over <run dir>/steer.sock. CAP_BPF + CAP_NET_ADMIN as root
// (Kubernetes gives added capabilities an effect only for UID 0), nothing else.
// Native (plan.holdNative): an init container with restartPolicy Always before bulwark-init,
// whose startup probe holds the init step back until the program is attached with the plan.
// Plain (clusters without native sidecars): the first regular container; the kubelet starts
// containers one after the other and waits for each postStart hook, so the hook (verify, which
// waits for the holder's control socket) holds the application back until steering is attached.
// Fail-closed then refuses the app port until the proxy has handed its sockets over.
json holdContainer(const InjectionPlan& plan, const json& runMount) {
  const bool ebpf = plan.captureMode == CaptureMode::Ebpf;
  json hold = {{"name", names::kHoldContainerName},
               {"image", plan.initImage},
               {"imagePullPolicy", plan.imagePullPolicy},
               {"command", json::array({"bulwark-init", "hold"})},
               {"env", captureEnv(plan, ebpf ? "ebpf" : "auto", false)},
               {"resources", resourcesJson(plan.initRes)},
               {"securityContext", rootCapSecurityContext(json::array({"BPF", "NET_ADMIN"}))},
               {"volumeMounts", json::array({runMount})},
               {"terminationMessagePolicy", "FallbackToLogsOnError"}};
  if (!plan.holdNative) {
    hold["lifecycle"] = {
        {"postStart",
         {{"exec",
           {{"command", json::array({"bulwark-init", "verify", "--mode", "ebpf",
                                     "--holder-wait", "30"})}}}}}};
    return hold;
  }
  hold["restartPolicy"] = "Always";
  if (ebpf) {
    // bulwark-init starts only once the program is attached with this plan. (auto has no
    // probe: where eBPF is unavailable the holder idles and the init step uses netfilter.)
    hold["startupProbe"] = {
        {"exec", {{"command", json::array({"bulwark-init", "verify", "--mode", "ebpf"})}}},
        {"periodSeconds", 1},
        {"timeoutSeconds", 5},
        {"failureThreshold", 30}};
  }
  return hold;
}

json sidecarEnv(const InjectionPlan& plan) {
  json env = podInfoEnv();
  env.push_back({{"name", "BULWARK_MODE_ALLOW_OVERRIDE"}, {"value", plan.modeAllowOverride}});
  env.push_back({{"name", "BULWARK_POLICY_FILE"},
                 {"value", std::string(names::kPolicyMountPath) + "/" + plan.policyKey}});
  env.push_back({{"name", "BULWARK_SCHEMA"}, {"value", schemaName(plan.schema)}});
  if (plan.paranoiaLevel > 0) {
    env.push_back(
        {{"name", "BULWARK_PARANOIA_LEVEL"}, {"value", std::to_string(plan.paranoiaLevel)}});
  }
  if (!plan.application.empty()) {
    env.push_back({{"name", "BULWARK_APPLICATION"}, {"value", plan.application}});
  }
  if (!plan.nodeGroup.empty()) {
    env.push_back({{"name", "BULWARK_NODE_GROUP"}, {"value", plan.nodeGroup}});
  }
  if (!plan.blockPageVolume.empty()) {
    env.push_back({{"name", "BULWARK_BLOCK_PAGE"},
                   {"value", std::string(kBlockPageMountPath) + "/" + std::string(kBlockPageKey)}});
  }
  if (!plan.probePaths.empty()) {
    env.push_back({{"name", "BULWARK_PROBE_PATHS"}, {"value", joined(plan.probePaths)}});
  }
  for (const auto& s : plan.secretEnv) {
    env.push_back({{"name", s.name},
                   {"valueFrom",
                    {{"secretKeyRef", {{"name", s.secret}, {"key", s.key}, {"optional", true}}}}}});
  }
  return env;
}

} // namespace

json patchFor(const InjectionPlan& plan) {
  const json runMount = {{"name", plan.runVolume}, {"mountPath", names::kRunDir}};
  const json env = sidecarEnv(plan);

  json initAdds = json::array(); // inserted at the front of initContainers, in this order
  json containerAdds = json::array();
  json firstContainer; // inserted before the pod's own containers (the plain holder)
  if (plan.hold && plan.holdNative) {
    initAdds.push_back(holdContainer(plan, runMount)); // before the init step it serves
  } else if (plan.hold) {
    firstContainer = holdContainer(plan, runMount);
  }
  // A plain holder attaches the plan by itself: an init step would run before it and wait for
  // it in vain.
  if (plan.capture && (plan.holdNative || !plan.hold)) {
    initAdds.push_back(initContainer(plan, runMount));
  }
  auto& sidecarList = plan.native ? initAdds : containerAdds;
  json proxyEnv = env;
  if (plan.hold) {
    // eBPF capture: the proxy hands its listening sockets to bulwark-hold.
    proxyEnv.push_back(
        {{"name", "BULWARK_EBPF_HANDOFF"},
         {"value", std::string(names::kRunDir) + "/" + std::string(kSteerSocket)}});
  }
  sidecarList.push_back(proxyContainer(plan, proxyEnv, runMount));
  if (plan.schema == Schema::Split) {
    sidecarList.push_back(helperContainer(plan, env, runMount));
  }

  json patch = json::array();
  if (!initAdds.empty()) {
    if (!plan.podHasInitContainers) {
      patch.push_back({{"op", "add"}, {"path", "/spec/initContainers"}, {"value", initAdds}});
    } else {
      for (size_t i = 0; i < initAdds.size(); ++i) {
        patch.push_back({{"op", "add"},
                         {"path", "/spec/initContainers/" + std::to_string(i)},
                         {"value", initAdds[i]}});
      }
    }
  }
  if (!firstContainer.is_null()) {
    patch.push_back({{"op", "add"}, {"path", "/spec/containers/0"}, {"value", firstContainer}});
  }
  for (const auto& c : containerAdds) {
    patch.push_back({{"op", "add"}, {"path", "/spec/containers/-"}, {"value", c}});
  }

  if (plan.terminationGraceSeconds > 0) {
    patch.push_back({{"op", plan.podHasTerminationGrace ? "replace" : "add"},
                     {"path", "/spec/terminationGracePeriodSeconds"},
                     {"value", plan.terminationGraceSeconds}});
  }

  json volumes = json::array(
      {{{"name", plan.runVolume}, {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "16Mi"}}}},
       {{"name", plan.policyVolume},
        {"configMap", {{"name", plan.policyConfigMap}, {"optional", true}}}}});
  if (!plan.blockPageVolume.empty()) {
    // Not optional: a missing ConfigMap holds the pod with an event naming it.
    volumes.push_back(
        {{"name", plan.blockPageVolume}, {"configMap", {{"name", plan.blockPageConfigMap}}}});
  }
  if (!plan.extraVolumes.empty()) {
    for (const auto& v : json::parse(plan.extraVolumes)) {
      volumes.push_back(v);
    }
  }
  if (!plan.podHasVolumes) {
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
                 {"schema", schemaName(plan.schema)},
                 {"native", plan.native},
                 {"initContainers", json::array()},
                 {"containers", json::array()},
                 {"volumes", json::array({plan.runVolume, plan.policyVolume})}};
  for (const auto& c : initAdds) {
    status["initContainers"].push_back(c["name"]);
  }
  if (!firstContainer.is_null()) {
    status["containers"].push_back(firstContainer["name"]);
  }
  for (const auto& c : containerAdds) {
    status["containers"].push_back(c["name"]);
  }
  if (!plan.blockPageVolume.empty()) {
    status["volumes"].push_back(plan.blockPageVolume);
  }
  for (const auto& v : plan.extraVolumeNames) {
    status["volumes"].push_back(v);
  }
  if (plan.allPorts) {
    status["appPorts"] = "all";
  } else if (plan.appPorts.size() > 1) {
    status["appPorts"] = plan.appPorts;
  }
  json newAnnotations = json::object();
  newAnnotations[std::string(names::kAnnotationPrefix) + std::string(names::kStatusAnnotation)] =
      status.dump();
  if (!plan.defaultContainer.empty()) {
    newAnnotations["kubectl.kubernetes.io/default-container"] = plan.defaultContainer;
  }
  if (plan.scrapeAnnotations) {
    newAnnotations["prometheus.io/scrape"] = "true";
    newAnnotations["prometheus.io/port"] = std::to_string(names::kStatusPort);
    newAnnotations["prometheus.io/path"] = "/metrics";
  }
  switch (plan.meta) {
  case InjectionPlan::Meta::Missing:
    patch.push_back(
        {{"op", "add"}, {"path", "/metadata"}, {"value", {{"annotations", newAnnotations}}}});
    break;
  case InjectionPlan::Meta::NoAnnotations:
    patch.push_back({{"op", "add"}, {"path", "/metadata/annotations"}, {"value", newAnnotations}});
    break;
  case InjectionPlan::Meta::Annotations:
    for (const auto& [k, v] : newAnnotations.items()) {
      patch.push_back(
          {{"op", "add"}, {"path", "/metadata/annotations/" + pointerToken(k)}, {"value", v}});
    }
    break;
  }
  return patch;
}

} // namespace detail

std::string renderPatch(const InjectionPlan& plan) {
  return detail::patchFor(plan).dump(-1, ' ', false, detail::json::error_handler_t::replace);
}

} // namespace bulwark::webhook

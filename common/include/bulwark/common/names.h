#pragma once

// The public names of Bulwark (see DESIGN.md "Names, ports and identities"). Every binary, the
// chart and the tests take them from here; changing one is an interface change.

#include <cstdint>
#include <string_view>

namespace bulwark::names {

inline constexpr uint16_t kProxyPort = 26001;
inline constexpr std::string_view kProxyPortName = "proxy";
inline constexpr uint16_t kStatusPort = 10246;
inline constexpr std::string_view kStatusPortName = "status";
inline constexpr uint16_t kDefaultAppPort = 80;
inline constexpr uint16_t kWebhookPort = 8443;

inline constexpr uint32_t kProxyUid = 101;
inline constexpr uint32_t kProxyGid = 101;
// Source address of the proxy's connections to the app, so capture rules can exclude them.
inline constexpr std::string_view kProxySourceAddress = "127.0.0.6";

inline constexpr std::string_view kOptInLabel = "bulwark-sidecar";
inline constexpr std::string_view kOptInLabelCompat = "wallarm-sidecar";
inline constexpr std::string_view kOptInValue = "enabled";
inline constexpr std::string_view kAnnotationPrefix = "sidecar.bulwark.dev/";
inline constexpr std::string_view kAnnotationPrefixCompat = "sidecar.wallarm.io/";

inline constexpr std::string_view kRunDir = "/run/bulwark";

// Injected objects (bulwark-webhook; docs/webhook.md). Stable: the status annotation lists them.
inline constexpr std::string_view kInitContainerName = "bulwark-init";
inline constexpr std::string_view kProxyContainerName = "bulwark-proxy";
inline constexpr std::string_view kHelperContainerName = "bulwark-helper";
inline constexpr std::string_view kHoldContainerName = "bulwark-hold";
inline constexpr std::string_view kRunVolumeName = "bulwark-run";
inline constexpr std::string_view kPolicyVolumeName = "bulwark-policy";
inline constexpr std::string_view kPolicyMountPath = "/etc/bulwark/policy";
inline constexpr std::string_view kDefaultPolicyConfigMap = "bulwark-policy";
// Annotation key (after a prefix) recording what was injected; makes reinvocation a no-op.
inline constexpr std::string_view kStatusAnnotation = "status";
inline constexpr std::string_view kWebhookInjectPath = "/inject";

} // namespace bulwark::names

#pragma once

#include <algorithm>
#include <iterator>
#include <string_view>

#include "bulwark/webhook/config.h"

namespace bulwark::webhook {

// What the Bulwark image can run, and on which clusters. A setting outside the image's lists
// would inject a container whose command does not exist (bulwark-helper): the webhook falls
// back with an admission warning and the chart's values.schema.json refuses it. A capture mode
// that needs a newer cluster than the one the webhook serves falls back to `fallback`, also
// with a warning (docs/webhook.md "Capture modes and clusters"). Making a setting available is
// one row here (plus its golden case and the chart schema's enum).
struct CaptureAvailability {
  CaptureMode mode;
  int minKubeMinor;      // Kubernetes 1.<minKubeMinor> or later (0: any); unknown version: allowed
  CaptureMode fallback;  // what an older cluster gets instead
  std::string_view why;  // what needs that version, for the warning
};

inline constexpr CaptureAvailability kImageCaptureModes[] = {
    {CaptureMode::Auto, 0, CaptureMode::Auto, ""},
    // Any version: the holder (bulwark-hold) is a native sidecar where the cluster has them,
    // else a plain sidecar started first (holder_sidecar, docs/webhook.md "eBPF capture").
    {CaptureMode::Ebpf, 0, CaptureMode::Ebpf, ""},
    {CaptureMode::Nftables, 0, CaptureMode::Nftables, ""},
    {CaptureMode::Iptables, 0, CaptureMode::Iptables, ""},
    {CaptureMode::None, 0, CaptureMode::None, ""},
};
// Native sidecars (init containers with restartPolicy Always) are on by default from 1.29.
inline constexpr int kNativeSidecarMinKubeMinor = 29;

inline constexpr Schema kImageSchemas[] = {
    Schema::Single,
};

constexpr const CaptureAvailability* captureAvailability(CaptureMode m) {
  for (const auto& a : kImageCaptureModes) {
    if (a.mode == m) {
      return &a;
    }
  }
  return nullptr;
}

constexpr bool imageHasCaptureMode(CaptureMode m) { return captureAvailability(m) != nullptr; }

constexpr bool imageHasSchema(Schema s) {
  return std::find(std::begin(kImageSchemas), std::end(kImageSchemas), s) !=
         std::end(kImageSchemas);
}

} // namespace bulwark::webhook

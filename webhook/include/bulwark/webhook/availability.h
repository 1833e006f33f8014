#pragma once

#include <algorithm>
#include <iterator>

#include "bulwark/webhook/config.h"

namespace bulwark::webhook {

// What the Bulwark image can run today. A setting outside these lists would inject a container
// whose command does not exist (bulwark-helper) or a capture mode bulwark-init cannot apply
// (eBPF, with its bulwark-hold sidecar): the webhook falls back with an admission warning and
// the chart's values.schema.json refuses it. Making one available is one line here (plus its
// golden case and the chart schema's enum).
inline constexpr CaptureMode kImageCaptureModes[] = {
    CaptureMode::Auto,
    CaptureMode::Nftables,
    CaptureMode::Iptables,
    CaptureMode::None,
};
inline constexpr Schema kImageSchemas[] = {
    Schema::Single,
};

constexpr bool imageHasCaptureMode(CaptureMode m) {
  return std::find(std::begin(kImageCaptureModes), std::end(kImageCaptureModes), m) !=
         std::end(kImageCaptureModes);
}

constexpr bool imageHasSchema(Schema s) {
  return std::find(std::begin(kImageSchemas), std::end(kImageSchemas), s) !=
         std::end(kImageSchemas);
}

} // namespace bulwark::webhook

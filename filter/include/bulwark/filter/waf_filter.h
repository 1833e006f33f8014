#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "bulwark/detect/engine.h"
#include "bulwark/filter/forward_headers.h"
#include "bulwark/filter/policy.h"

namespace bulwark::filter {

// What the filter does with one request, decided from the policy, the client and (when it was
// inspected) the engine's verdict. Pure: no I/O, no metrics.
enum class WafAction { Pass, Log, Block, Deny };

struct WafPlan {
  Mode mode = Mode::Monitoring; // the mode for this host/path (overrides applied)
  bool deny = false;            // deny-listed client: 403 without inspection
  bool inspect = false;         // run the engine (mode not off, engine present, not allow-listed)
  uint8_t paranoia = 1;         // the paranoia level for this host/path (overrides applied)
};

using IpBytes = std::array<uint8_t, 16>;

// The client of a request: the socket peer, or the last X-Forwarded-For hop when the policy
// trusts the proxy in front of the pod to append it. Returns a view into `req` or `peer`.
std::string_view clientOf(const Policy& p, const RequestHead& req, std::string_view peer);
std::string_view clientOf(const Policy& p, const http1::Request& req, std::string_view peer);

// Before any body byte is read: deny list, mode for the target, whether to inspect.
WafPlan planRequest(const Policy& p, bool haveEngine, const std::optional<IpBytes>& client,
                    std::string_view host, std::string_view path);

// The one place a request meets the detection engine.
detect::Verdict inspectRequest(const detect::Engine& engine, const detect::RequestView& request);

// After inspection: Pass (no attack), Log (attack, not blocked in this mode) or Block.
// A protocol violation found by the proxy itself is an attack like any other (block mode only).
WafAction decide(const WafPlan& plan, const Policy& p, const std::optional<IpBytes>& client,
                 const detect::Verdict& verdict);

} // namespace bulwark::filter

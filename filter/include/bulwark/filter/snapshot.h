#pragma once

#include <memory>

#include "bulwark/common/result.h"
#include "bulwark/detect/engine.h"
#include "bulwark/filter/config.h"
#include "bulwark/filter/policy.h"

namespace bulwark::filter {

// Everything a request is handled with that a reload may change, swapped as one: the policy,
// the detection engine built from its inspection settings, and the request limits. A request
// takes one reference when it starts and keeps it to the end.
struct FilterSnapshot {
  std::shared_ptr<const Policy> policy;
  detect::EnginePtr engine; // never null
  Limits limits;
};

using FilterStore = SnapshotStore<FilterSnapshot>;

// The engine settings of a policy (body prefix, depth, argument count, what a limit does).
detect::EngineConfig engineConfigFor(const Policy& p);

// Builds the snapshot of a configuration (policy, a new engine, limits).
Result<std::shared_ptr<const FilterSnapshot>> buildSnapshot(const ProxyConfig& cfg);

} // namespace bulwark::filter

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
  std::shared_ptr<const std::string> blockPage; // custom 403 page for browsers; null = built-in
};

using FilterStore = SnapshotStore<FilterSnapshot>;

// The engine settings of a policy (body prefix, depth, argument count, what a limit does).
detect::EngineConfig engineConfigFor(const Policy& p);

// Builds the snapshot of a configuration (policy, a new engine, limits).
// A block page that cannot be read fails the build, unless `previous` is given (a reload): then
// the previous page is kept and `pageError` says why.
Result<std::shared_ptr<const FilterSnapshot>> buildSnapshot(const ProxyConfig& cfg,
                                                            const FilterSnapshot* previous = nullptr,
                                                            std::string* pageError = nullptr);

// Reads the block page of `cfg` (at most kMaxBlockPageBytes); null when none is configured.
inline constexpr size_t kMaxBlockPageBytes = 64 * 1024;
Result<std::shared_ptr<const std::string>> loadBlockPage(const ProxyConfig& cfg);

} // namespace bulwark::filter

#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/common/result.h"
#include "bulwark/filter/config.h"
#include "bulwark/filter/probes.h"

namespace bulwark::filter {

// An IPv4 or IPv6 network; IPv4 is kept as an IPv4-mapped IPv6 address so one compare serves
// both families.
struct Cidr {
  std::array<uint8_t, 16> addr{};
  uint8_t prefix = 0; // in IPv6 bits (an IPv4 /24 is stored as /120)

  static Result<Cidr> parse(std::string_view text);
  bool contains(const std::array<uint8_t, 16>& ip) const;
};

// Parses an IPv4 or IPv6 literal into the mapped 16-byte form; nullopt when invalid.
std::optional<std::array<uint8_t, 16>> parseIp(std::string_view text);

class IpList {
public:
  void add(const Cidr& c) { cidrs_.push_back(c); }
  bool contains(const std::array<uint8_t, 16>& ip) const;
  bool empty() const { return cidrs_.empty(); }
  size_t size() const { return cidrs_.size(); }

private:
  std::vector<Cidr> cidrs_;
};

// A mode and/or a paranoia level for requests whose path starts with `pathPrefix` (and whose
// Host matches `host`, when set). For each of the two, the first matching override that sets it
// wins.
struct ModeOverride {
  std::string pathPrefix;
  std::string host; // lower-case, without port; empty = any
  Mode mode = Mode::Monitoring;
  bool hasMode = true;
  uint8_t paranoiaLevel = 0; // 1-4; 0: not set by this override
};

// What happens to a request part of whose body cannot be inspected (longer than
// inspect_body_max_bytes, or compressed and longer than the buffered prefix): Block treats it
// like an attack (413 in block mode, an event in the others); Pass forwards it, counted.
enum class LimitAction { Pass, Block };

// The hot-reloadable part of the configuration: an immutable snapshot swapped atomically.
struct Policy {
  Mode mode = Mode::Monitoring;
  IpList allow; // never blocked by inspection
  IpList deny;  // always 403
  IpList gray;  // attacks blocked in safe_blocking mode
  bool trustForwardedFor = false; // take the client from the last X-Forwarded-For hop
  std::vector<ModeOverride> overrides;
  uint64_t inspectBodyBytes = 128 * 1024; // body prefix read and inspected before the app
  // Body bytes inspected in all: the prefix, then the rest window by window while it streams.
  // Past it on_limit applies; 0 = no cap (every byte is inspected).
  uint64_t inspectBodyMaxBytes = 64ULL << 20;
  uint32_t maxDepth = 32;
  uint32_t maxArgs = 1024;
  LimitAction onLimit = LimitAction::Block;
  // CPU time one inspection (the head with the buffered body prefix, or one streamed body
  // window) may take before on_limit applies to the request; 0 = unbounded.
  uint32_t inspectTimeBudgetMs = 100;
  uint8_t paranoiaLevel = 1; // detection paranoia level 1-4 (detect::RequestView::paranoiaLevel)
  std::string application; // event label ("" = none)
  std::string nodeGroup;   // event label ("" = none)
  ProbePaths probes;       // kubelet probe targets forwarded uninspected

  Mode modeFor(std::string_view host, std::string_view path) const;
  // The paranoia level for a request: the first matching override that sets one, else
  // paranoiaLevel.
  uint8_t paranoiaFor(std::string_view host, std::string_view path) const;
};

// Applies the "policy" object of the configuration file (see docs/proxy.md).
Status applyPolicyJson(std::string_view policyObjectJson, Policy& out);

// The policy of a configuration: its "policy" object plus the filter mode.
Result<std::shared_ptr<const Policy>> buildPolicy(const ProxyConfig& cfg);

// Holds the current immutable snapshot; reload swaps in a new one. Readers poll version()
// (one acquire load) and take a new reference only when it changed.
template <class T>
class SnapshotStore {
public:
  explicit SnapshotStore(std::shared_ptr<const T> p) : current_(std::move(p)) {}
  std::shared_ptr<const T> get() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  void set(std::shared_ptr<const T> p) {
    std::lock_guard lock(mutex_);
    current_ = std::move(p);
    version_.fetch_add(1, std::memory_order_release);
  }
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> current_;
  std::atomic<uint64_t> version_{1};
};

using PolicyStore = SnapshotStore<Policy>;

} // namespace bulwark::filter

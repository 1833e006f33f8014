#pragma once

#include <cstddef>
#include <cstdint>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/common/result.h"
#include "bulwark/detect/verdict.h"

namespace bulwark::detect {

struct Header {
  std::string_view name;
  std::string_view value;
};

// A request as the proxy sees it on the wire: nothing decoded yet.
struct RequestView {
  std::string_view method;
  std::string_view target; // raw request-target (origin-form usually)
  int versionMinor = 1;
  std::span<const Header> headers;
  std::string_view body; // possibly truncated to EngineConfig::maxBodyBytes by the caller
  bool bodyTruncated = false;
  // Paranoia level 1-4 (out-of-range values are clamped): which findings count and the score a
  // request needs to be an attack (verdict.h). PL1 is tuned for real traffic; probe rules
  // count from PL2.
  uint8_t paranoiaLevel = 1;
};

struct EngineConfig {
  size_t maxBodyBytes = 128 * 1024; // body bytes inspected; the rest is not looked at
  size_t maxDepth = 32;             // nesting of JSON/XML/multipart and decoding rounds
  size_t maxArgs = 1024;            // values (args, headers, JSON leaves...) inspected
  enum class OnLimit { Inspect, Block };
  OnLimit onLimit = OnLimit::Inspect; // Inspect: inspect what fits; Block: also flag the request
  bool stopAtFirst = false;           // return after the first finding (faster for blocking)
  // CPU time one inspect() may spend (thread CPU time, so a busy machine does not count
  // against it). Past it the values not yet inspected are skipped and the verdict says
  // budgetExceeded (and limitExceeded): the caller fails closed or open (on_limit). The clock
  // is read once per 16 KiB of values inspected, so small requests never read it; 0 = none.
  std::chrono::microseconds timeBudget{0};
};

class Engine {
public:
  // Compiles the rule databases; fails only if a built-in pattern does not compile.
  [[nodiscard]] static Result<std::shared_ptr<const Engine>> create(const EngineConfig& config);

  // Thread-safe: every thread gets its own vectorscan scratch space.
  Verdict inspect(const RequestView& request) const;

  const EngineConfig& config() const { return config_; }

  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  struct Impl;

private:
  Engine(const EngineConfig& config, std::unique_ptr<Impl> impl);

  EngineConfig config_;
  std::unique_ptr<Impl> impl_;
};

using EnginePtr = std::shared_ptr<const Engine>;

} // namespace bulwark::detect

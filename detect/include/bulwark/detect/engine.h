#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/common/result.h"

namespace bulwark::detect {

// Attack classes; each name is also a metric/event label, so the set is bounded.
#define BW_ATTACK_CLASSES(X)                                                                       \
  X(Sqli, "sqli")                                                                                  \
  X(Xss, "xss")                                                                                    \
  X(PathTraversal, "path-traversal")                                                               \
  X(Rce, "rce")                                                                                    \
  X(CodeInjection, "code-injection")                                                               \
  X(Ssti, "ssti")                                                                                  \
  X(Ssrf, "ssrf")                                                                                  \
  X(Xxe, "xxe")                                                                                    \
  X(Nosqli, "nosqli")                                                                              \
  X(Ldapi, "ldapi")                                                                                \
  X(Log4shell, "log4shell")                                                                        \
  X(Crlf, "crlf")                                                                                  \
  X(Protocol, "protocol")                                                                          \
  X(Scanner, "scanner")

enum class AttackClass : uint8_t {
#define BW_X(name, label) name,
  BW_ATTACK_CLASSES(BW_X)
#undef BW_X
      Count
};

std::string_view className(AttackClass cls);

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
};

struct Finding {
  AttackClass cls = AttackClass::Sqli;
  uint32_t ruleId = 0;
  std::string part;  // "path", "query:id", "body.json:user.name", "header:User-Agent", ...
  std::string value; // the matched value, decoded, truncated to 128 bytes
  std::string chain; // decoding steps that produced value, latest first: "base64 <- url"
};

struct Verdict {
  std::vector<Finding> findings;
  bool limitExceeded = false; // an inspection limit was hit (see EngineConfig::onLimit)
  bool blockForLimit = false; // limitExceeded and onLimit == Block

  bool attack() const { return !findings.empty() || blockForLimit; }
};

struct EngineConfig {
  size_t maxBodyBytes = 128 * 1024; // body bytes inspected; the rest is not looked at
  size_t maxDepth = 32;             // nesting of JSON/XML/multipart and decoding rounds
  size_t maxArgs = 1024;            // values (args, headers, JSON leaves...) inspected
  enum class OnLimit { Inspect, Block };
  OnLimit onLimit = OnLimit::Inspect; // Inspect: inspect what fits; Block: also flag the request
  bool stopAtFirst = false;           // return after the first finding (faster for blocking)
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

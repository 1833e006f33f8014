#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "bulwark/detect/engine.h"

// Known-exploit rules ("virtual patches"): one rule per widely exploited web vulnerability, each
// describing the vulnerable mechanism (an endpoint reached in a way it must not be, a parameter
// that reaches an interpreter, a header that changes authentication) over the whole request, so
// that it also fires for variants of the public exploit. Rule ids 15001..15999.
namespace bulwark::detect::internal {

// What a rule sees: the request with its path and query decoded and lower-cased.
struct CveRequest {
  std::string_view method;
  std::string_view rawPath; // as received, lower case
  std::string_view path;  // decoded (percent, overlong), lower case, not canonicalised
  std::string_view query; // decoded, lower case ('+' as space)
  std::span<const Header> headers;
  std::string_view body; // as received (bounded by the engine's body limit)
  std::string_view bodyLow; // lower-cased, percent-decoded prefix of the body (64 KiB at most)
  std::string_view contentType;
  // When not 0: a bit per header name present (nameBit), so that most lookups of a header the
  // request does not carry end without comparing names.
  uint64_t headerNames = 0;

  // Whether a framework session cookie name is a request parameter: -1 until computed (two
  // rules ask).
  mutable int8_t sessionParam = -1;

  // Header value by case-insensitive name (first one), empty when absent.
  std::string_view header(std::string_view name) const;

  // The headerNames bit of a name (case-insensitive, as header() compares).
  static uint64_t nameBit(std::string_view name) {
    if (name.empty()) {
      return 1;
    }
    const unsigned h = static_cast<unsigned>(name.size()) * 7u +
                       static_cast<unsigned char>(name.front() | 0x20) +
                       static_cast<unsigned char>(name.back() | 0x20) * 3u;
    return uint64_t{1} << (h & 63u);
  }
};

struct CveRule {
  uint32_t id;
  std::string_view cve; // "CVE-2021-41773"
  std::string_view what; // the mechanism, one line
  AttackClass cls;
  // Returns the part that carries the exploit ("path", "header:Content-Type", "body") or an
  // empty view when the request does not exploit the vulnerability.
  std::string_view (*check)(const CveRequest& req);
};

std::span<const CveRule> cveRules();

// The CVE a known-exploit rule id stands for ("" for any other id).
std::string_view cveOf(uint32_t ruleId);

// Builds the prefilter's literal database (once per process) now rather than on the first
// request, which would otherwise pay for the compilation.
void prepareKnownExploits();

// Runs every rule (no prefilter); calls found(rule, part) for each one that fires.
void checkKnownExploits(const CveRequest& req,
                        const std::function<void(const CveRule&, std::string_view)>& found);

// Builds the CveRequest (decoding path, query and body prefix where they hold escapes) and runs
// the rules that can fire on it. The prefilter (one literal scan over the parts, the header
// rules, a few direct conditions) decides which can fire; on most requests none can, and the
// parts are neither lower-cased nor copied. prefilter = false runs every rule: the prefilter
// changes the cost, never the result.
void checkKnownExploits(const RequestView& req, std::string_view rawPath, std::string_view query,
                        std::string_view contentType, std::string_view body,
                        const std::function<void(const CveRule&, std::string_view)>& found,
                        bool prefilter = true);

} // namespace bulwark::detect::internal

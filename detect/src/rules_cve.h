#pragma once

#include <array>
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
  // The headers the rules read, found in one pass over the request's headers (index()): a
  // rule's lookup is an array read.
  enum HeaderName : uint8_t {
    kHost,
    kCookie,
    kReferer,
    kNscUser,
    kConnection,
    kXBeResource,
    kXSilockTransaction,
    kXAnonResourceBackend,
    kSpringFunctionDefinition,
    kSpringRoutingExpression,
    kXMiddlewareSubrequest,
    kHeaderNameCount
  };
  // Lower case, one name per length (the index looks a name up by its length).
  static constexpr std::array<std::string_view, kHeaderNameCount> kHeaderNames = {
      "host",
      "cookie",
      "referer",
      "nsc_user",
      "connection",
      "x-beresource",
      "x-silock-transaction",
      "x-anonresource-backend",
      "spring.cloud.function.definition",
      "spring.cloud.function.routing-expression",
      "x-middleware-subrequest"};
  std::array<std::string_view, kHeaderNameCount> headerValue{};

  // Whether a framework session cookie name is a request parameter: -1 until computed (two
  // rules ask).
  mutable int8_t sessionParam = -1;

  // A header's value (the first of that name), empty when absent.
  std::string_view header(HeaderName name) const { return headerValue[name]; }

  // Fills headerValue from headers.
  void index();
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

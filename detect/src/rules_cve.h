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

// The three-byte sequences of a text, hashed into 4096 bits: a needle with a sequence that is
// not in the set is not in the text (a set bit says nothing; the text is searched then).
class TrigramSet {
public:
  void add(std::string_view text);
  bool mayContain(std::string_view needle) const;
  // The same test with the needle's slots computed beforehand (slot() at compile time, for
  // fixed literals).
  bool mayContainSlots(std::span<const uint16_t> needleSlots) const {
    for (const uint16_t k : needleSlots) {
      if ((bits_[k >> 6] & (uint64_t{1} << (k & 63))) == 0) {
        return false;
      }
    }
    return true;
  }

  static constexpr unsigned slot(unsigned char a, unsigned char b, unsigned char c) {
    return ((static_cast<unsigned>(a) * 0x9E37u) ^ (static_cast<unsigned>(b) * 0x85EBu) ^
            (static_cast<unsigned>(c) * 0xC2B3u)) &
           4095u;
  }

private:
  uint64_t bits_[64] = {};
};

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
  // When set: the trigrams of query and bodyLow, so that a parameter search can stop early.
  const TrigramSet* paramTrigrams = nullptr;

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

// Runs every rule; calls found(rule, part) for each one that fires.
void checkKnownExploits(const CveRequest& req,
                        const std::function<void(const CveRule&, std::string_view)>& found);

// Builds the CveRequest (decoding path, query and body prefix) and runs every rule.
void checkKnownExploits(const RequestView& req, std::string_view rawPath, std::string_view query,
                        std::string_view contentType, std::string_view body,
                        const std::function<void(const CveRule&, std::string_view)>& found);

} // namespace bulwark::detect::internal

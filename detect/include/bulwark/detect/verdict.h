#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/detect/part_kind.h"

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

// How much a finding says about an attack, strongest last:
// - Tokens: words of an attack language are present (PL3).
// - Probe: a half-written expression of the kind scanners send, or a strong finding in a part
//   where its language rarely reaches an interpreter (PL2).
// - Strong: a pattern that describes an attack technique, in a part where it applies (PL1).
// - Confirmed: the value, in one of its injection contexts, parses past a breakout and reaches
//   an instruction (PL1).
enum class Confidence : uint8_t { Tokens, Probe, Strong, Confirmed };

std::string_view confidenceName(Confidence c);

// The paranoia level from which a finding of this confidence counts.
constexpr uint8_t paranoiaOf(Confidence c) {
  return c == Confidence::Tokens ? 3 : c == Confidence::Probe ? 2 : 1;
}

// Evidence weight of a confidence, and the score a request needs at each paranoia level: at PL1
// one strong or confirmed finding blocks; at PL2 one probe; at PL3 a probe or two token
// findings of different classes; at PL4 one token finding.
constexpr int confidenceWeight(Confidence c) {
  return c == Confidence::Tokens ? 2 : c == Confidence::Probe ? 3 : 5;
}
constexpr int scoreThreshold(uint8_t paranoiaLevel) {
  return paranoiaLevel <= 1 ? 5 : paranoiaLevel == 2 ? 3 : paranoiaLevel == 3 ? 3 : 2;
}

struct Finding {
  AttackClass cls = AttackClass::Sqli;
  uint32_t ruleId = 0;
  std::string part;  // "path", "query:id", "body.json:user.name", "header:User-Agent", ...
  std::string value; // the matched value, decoded, truncated to 128 bytes
  PartKind kind = PartKind::BodyText;
  Confidence confidence = Confidence::Strong;
  uint8_t paranoia = 1; // the lowest paranoia level at which this finding counts
  std::string chain{}; // decoding steps that produced value, latest first: "base64 <- url"
};

struct Verdict {
  // Findings that count at the request's paranoia level (those of higher levels are dropped).
  std::vector<Finding> findings;
  int score = 0;          // sum over classes of the strongest finding's weight
  int threshold = 5;      // scoreThreshold(paranoiaLevel)
  uint8_t paranoiaLevel = 1;
  bool limitExceeded = false; // an inspection limit was hit (see EngineConfig::onLimit)
  bool blockForLimit = false; // limitExceeded and onLimit == Block
  bool budgetExceeded = false; // EngineConfig::timeBudget ran out: values were left uninspected

  bool attack() const { return score >= threshold || blockForLimit; }
};

} // namespace bulwark::detect

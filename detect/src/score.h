#pragma once

#include <cstdint>
#include <string_view>

#include "bulwark/detect/verdict.h"

// Evidence grading: what a detector hit means, given the rule and the part it was found in.
namespace bulwark::detect::internal {

struct Grade {
  Confidence confidence = Confidence::Strong;
  uint8_t paranoia = 1; // lowest paranoia level at which the finding counts; 0: never
};

// The confidence a rule's hit carries wherever it applies: syntax-confirmed detector results,
// strong technique patterns, probe patterns (PL2).
Confidence ruleConfidence(uint32_t id);

// The grade of a hit of rule `id` (class cls) on a value found in a part of kind `kind` under
// argument/header name `name`. `value` is the decoded value. Context lowers what a
// hit means: SSRF shapes in Referer/Origin are the page's own URL, CR/LF in a JSON string
// cannot reach a response header, an absolute path inside a JSON document is data.
Grade gradeFinding(AttackClass cls, uint32_t id, PartKind kind, std::string_view name,
                   std::string_view value);

// "scheme://...": a URL a browser would write in Referer (anything else there was written by
// another client).
bool absoluteUrl(std::string_view v);

} // namespace bulwark::detect::internal

#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "bulwark/detect/verdict.h"

// The registry of detection rule ids: one numbering for pattern rules (rules.cpp), code rules
// (the sqli, xss, shell, log4j and ldap detectors, engine checks, whole-request rules) and
// known-exploit rules (rules_cve.cpp), one row per id with its class and what it detects. The detectors emit bare
// ids; the registry gives them their meaning when an event is built or a finding is explained
// (never on the inspection path). Tests check that every id the engine can emit is registered
// with the class it is emitted with, and that no id is used twice.
namespace bulwark::detect {

// Where a rule is defined.
enum class RuleKind : uint8_t {
  Pattern,      // a vectorscan pattern in the rule table (detect/src/rules.cpp)
  Code,         // returned by a code detector, added by an engine check or a whole-request rule
  KnownExploit, // a rule of the known-exploit table (detect/src/rules_cve.cpp)
};

std::string_view ruleKindName(RuleKind kind); // "pattern", "code", "cve"

struct RuleInfo {
  uint32_t id;
  AttackClass cls;
  RuleKind kind;
  std::string_view description; // what a hit means, one line
};

// Every registered rule, sorted by id (ids are unique: checked at compile time).
std::span<const RuleInfo> ruleRegistry();

// The row of a rule id; nullptr when the id is not registered.
const RuleInfo* findRule(uint32_t id);

// The description of a rule id; empty when the id is not registered.
std::string_view ruleDescription(uint32_t id);

// The confidence a hit of this rule carries before its context is considered (the grading in
// score.cpp: syntax-confirmed detectors, strong technique patterns, probes). The part a hit is
// found in may lower it (see gradeFinding); paranoiaOf() gives the level from which it counts.
Confidence ruleBaseConfidence(uint32_t id);

} // namespace bulwark::detect

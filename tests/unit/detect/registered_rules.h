#pragma once

#include <gtest/gtest.h>

#include <string>

#include "bulwark/detect/engine.h"
#include "bulwark/detect/rule_registry.h"

namespace bulwark::detect {

// Returns the verdict after checking it against the rule registry: a finding whose rule id is
// not registered, or is registered with another attack class, fails the running test. The
// detect unit tests pass their verdicts through it, so every id their inputs make the engine
// emit is checked (the corpus is checked by bulwark_detect_registry_tests).
inline Verdict registered(Verdict v) {
  for (const auto& f : v.findings) {
    const RuleInfo* r = findRule(f.ruleId);
    if (r == nullptr) {
      ADD_FAILURE() << "rule id " << f.ruleId << " (" << className(f.cls) << ", part " << f.part
                    << ") is emitted but not in rule_registry.cpp";
    } else if (r->cls != f.cls) {
      ADD_FAILURE() << "rule id " << f.ruleId << " is registered as " << className(r->cls)
                    << " but emitted as " << className(f.cls);
    }
  }
  return v;
}

} // namespace bulwark::detect

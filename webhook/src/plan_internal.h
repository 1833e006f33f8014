#pragma once

// Shared between plan.cpp, render.cpp and inject.cpp: the JSON-level entry points (the
// AdmissionReview is parsed once) and small JSON helpers.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "bulwark/webhook/plan.h"

namespace bulwark::webhook::detail {

using json = nlohmann::json;

// May throw json::exception on pod shapes nlohmann cannot walk; callers catch it.
PlanDecision planFromPod(const json& pod, const InjectConfig& cfg);
json patchFor(const InjectionPlan& plan);

inline const json* member(const json& obj, std::string_view key) {
  if (!obj.is_object()) {
    return nullptr;
  }
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

inline std::string_view stringOr(const json* v, std::string_view dflt = "") {
  return v && v->is_string() ? std::string_view(v->get_ref<const std::string&>()) : dflt;
}

inline const json& arrayOf(const json& spec, std::string_view key) {
  static const json kEmpty = json::array();
  const json* c = member(spec, key);
  return c && c->is_array() ? *c : kEmpty;
}

} // namespace bulwark::webhook::detail

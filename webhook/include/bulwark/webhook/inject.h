#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/common/result.h"
#include "bulwark/webhook/config.h"

namespace bulwark::webhook {

// What injection decided for one pod. Pure data; no I/O happened to produce it.
struct Outcome {
  bool injected = false;
  std::string skipped;               // why nothing was injected (empty when injected)
  std::string patch;                 // RFC 6902 JSON Patch (array text); empty when none
  std::vector<std::string> warnings; // admission warnings, short and sanitized
  std::optional<std::string> denied; // strict mode: why the pod is rejected
};

// Computes the JSON Patch for a Pod (the AdmissionReview's request.object, as JSON text).
// Errors only when `podJson` is not a JSON object; never throws.
[[nodiscard]] Result<Outcome> injectPod(std::string_view podJson, const InjectConfig& cfg);

enum class ReviewResult { Injected, Skipped, Denied, BadRequest };

struct Reply {
  unsigned status = 200; // 200 with an AdmissionReview, or 400 with a plain-text reason
  std::string body;
  ReviewResult result = ReviewResult::BadRequest;
  size_t warnings = 0;
};

// AdmissionReview (admission.k8s.io/v1) in, AdmissionReview out. Never throws; a malformed
// body yields status 400 and a one-line reason.
[[nodiscard]] Reply review(std::string_view body, const InjectConfig& cfg);

std::string base64Encode(std::string_view data);

// Deepest nesting of arrays/objects in a JSON text (strings skipped); bounds recursion.
size_t jsonNestingDepth(std::string_view text);

inline constexpr size_t kMaxJsonDepth = 64;

} // namespace bulwark::webhook

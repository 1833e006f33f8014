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

// The offline injector (`bulwark-webhook inject`): a manifest as JSON — a Pod, a workload with a
// pod template (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job,
// CronJob) or a List of them — with each pod (template) mutated exactly as the webhook would
// (same plan and patch). Other objects pass unchanged. Warnings are prefixed with the object's
// kind/name. Errors when the text is not a JSON object or a pod template is not an object.
[[nodiscard]] Result<std::string> injectManifest(std::string_view manifestJson,
                                                 const InjectConfig& cfg,
                                                 std::vector<std::string>& warnings);

std::string base64Encode(std::string_view data);

// Deepest nesting of arrays/objects in a JSON text (strings skipped); bounds recursion.
size_t jsonNestingDepth(std::string_view text);

inline constexpr size_t kMaxJsonDepth = 64;

} // namespace bulwark::webhook

#include "bulwark/webhook/inject.h"

#include <algorithm>

#include "bulwark/webhook/plan.h"
#include "plan_internal.h"

namespace bulwark::webhook {
namespace {

using detail::json;
using detail::member;
using detail::stringOr;

// Plan, then render: the one code path of the webhook and the offline injector.
Outcome inject(const json& pod, const InjectConfig& cfg) {
  PlanDecision d = detail::planFromPod(pod, cfg);
  Outcome out;
  out.skipped = std::move(d.skipped);
  out.warnings = std::move(d.warnings);
  out.denied = std::move(d.denied);
  if (d.plan) {
    out.injected = true;
    out.patch = renderPatch(*d.plan);
  }
  return out;
}

void appendJsonString(std::string& out, std::string_view s) {
  out += json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

size_t jsonNestingDepth(std::string_view text) {
  size_t depth = 0;
  size_t deepest = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (inString) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        inString = false;
      }
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::string base64Encode(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const uint32_t n = (uint32_t(uint8_t(data[i])) << 16) | (uint32_t(uint8_t(data[i + 1])) << 8) |
                       uint32_t(uint8_t(data[i + 2]));
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == data.size()) {
    const uint32_t n = uint32_t(uint8_t(data[i])) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    const uint32_t n = (uint32_t(uint8_t(data[i])) << 16) | (uint32_t(uint8_t(data[i + 1])) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<Outcome> injectPod(std::string_view podJson, const InjectConfig& cfg) {
  if (jsonNestingDepth(podJson) > kMaxJsonDepth) {
    return BW_INVALID("pod: JSON nested deeper than " + std::to_string(kMaxJsonDepth));
  }
  json pod = json::parse(podJson, nullptr, false);
  if (!pod.is_object()) {
    return BW_INVALID("pod: not a JSON object");
  }
  try {
    return inject(pod, cfg);
  } catch (const json::exception& e) {
    return BW_INVALID(std::string("pod: ") + e.what());
  }
}

namespace {

// Mutates one object of a manifest in place; returns false when its pod template is malformed.
bool injectObject(json& obj, const InjectConfig& cfg, std::vector<std::string>& warnings) {
  const std::string kind(stringOr(member(obj, "kind")));
  const json* meta = member(obj, "metadata");
  const std::string name(meta ? stringOr(member(*meta, "name")) : "");
  const std::string ns(meta ? stringOr(member(*meta, "namespace")) : "");
  json* tmpl = nullptr;
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
      kind == "ReplicaSet" || kind == "ReplicationController" || kind == "Job") {
    tmpl = obj.contains("spec") && obj["spec"].is_object() ? &obj["spec"]["template"] : nullptr;
  } else if (kind == "CronJob") {
    json* spec = obj.contains("spec") && obj["spec"].is_object() ? &obj["spec"] : nullptr;
    json* job = spec && spec->contains("jobTemplate") ? &(*spec)["jobTemplate"] : nullptr;
    tmpl = job && job->is_object() && job->contains("spec") && (*job)["spec"].is_object()
               ? &(*job)["spec"]["template"]
               : nullptr;
  } else if (kind != "Pod") {
    return true;
  }
  json pod;
  if (kind == "Pod") {
    pod = obj;
  } else {
    if (!tmpl || !tmpl->is_object()) {
      return false;
    }
    json m = tmpl->value("metadata", json::object());
    if (!m.is_object()) {
      return false;
    }
    if (!ns.empty() && !m.contains("namespace")) {
      m["namespace"] = ns;
    }
    pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", m},
           {"spec", tmpl->value("spec", json::object())}};
  }
  const Outcome out = inject(pod, cfg);
  for (const auto& w : out.warnings) {
    warnings.push_back(kind + "/" + name + ": " + w);
  }
  if (out.denied) {
    warnings.push_back(kind + "/" + name + ": " + *out.denied);
    return true;
  }
  if (!out.injected) {
    warnings.push_back(kind + "/" + name + ": not injected: " + out.skipped);
    return true;
  }
  const json patched = pod.patch(json::parse(out.patch));
  if (kind == "Pod") {
    obj = patched;
  } else {
    json m = patched["metadata"];
    if (!tmpl->contains("metadata") || !(*tmpl)["metadata"].contains("namespace")) {
      m.erase("namespace");
    }
    (*tmpl)["metadata"] = m;
    (*tmpl)["spec"] = patched["spec"];
  }
  return true;
}

} // namespace

Result<std::string> injectManifest(std::string_view manifestJson, const InjectConfig& cfg,
                                   std::vector<std::string>& warnings) {
  if (jsonNestingDepth(manifestJson) > kMaxJsonDepth) {
    return BW_INVALID("manifest: JSON nested deeper than " + std::to_string(kMaxJsonDepth));
  }
  json doc = json::parse(manifestJson, nullptr, false);
  if (!doc.is_object()) {
    return BW_INVALID("manifest: not a JSON object (YAML: convert it first, e.g. kubectl create "
                      "--dry-run=client -o json -f FILE)");
  }
  try {
    if (stringOr(member(doc, "kind")) == "List" || stringOr(member(doc, "kind")).ends_with("List")) {
      if (!doc.contains("items") || !doc["items"].is_array()) {
        return BW_INVALID("manifest: a List without items");
      }
      for (auto& item : doc["items"]) {
        if (item.is_object() && !injectObject(item, cfg, warnings)) {
          return BW_INVALID("manifest: a pod template is not an object");
        }
      }
    } else if (!injectObject(doc, cfg, warnings)) {
      return BW_INVALID("manifest: the pod template is not an object");
    }
  } catch (const json::exception& e) {
    return BW_INVALID(std::string("manifest: ") + e.what());
  }
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Reply review(std::string_view body, const InjectConfig& cfg) {
  Reply reply;
  reply.status = 400;
  if (jsonNestingDepth(body) > kMaxJsonDepth) {
    reply.body = "AdmissionReview nested deeper than " + std::to_string(kMaxJsonDepth) + "\n";
    return reply;
  }
  const json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    reply.body = "body is not a JSON object\n";
    return reply;
  }
  if (stringOr(member(doc, "apiVersion")) != "admission.k8s.io/v1" ||
      stringOr(member(doc, "kind")) != "AdmissionReview") {
    reply.body = "expected apiVersion admission.k8s.io/v1, kind AdmissionReview\n";
    return reply;
  }
  const json* request = member(doc, "request");
  const std::string_view uid = request ? stringOr(member(*request, "uid")) : "";
  if (!request || !request->is_object() || uid.empty() || uid.size() > 256) {
    reply.body = "AdmissionReview has no request.uid\n";
    return reply;
  }

  Outcome outcome;
  const json* kind = member(*request, "kind");
  const bool isPod = kind && stringOr(member(*kind, "kind")) == "Pod" &&
                     stringOr(member(*kind, "group")).empty();
  const bool create = stringOr(member(*request, "operation")) == "CREATE";
  const bool subresource = !stringOr(member(*request, "subResource")).empty();
  const json* object = member(*request, "object");
  if (!isPod || !create || subresource) {
    outcome.skipped = "not a pod CREATE";
    reply.result = ReviewResult::Skipped;
  } else if (!object || !object->is_object()) {
    reply.body = "AdmissionReview request.object is not a Pod object\n";
    return reply;
  } else {
    try {
      outcome = inject(*object, cfg);
    } catch (const json::exception& e) {
      // Types we did not expect in a pod: admit unchanged rather than break the pod.
      outcome = Outcome{};
      outcome.skipped = "unexpected pod shape";
      outcome.warnings.push_back("bulwark: unexpected pod shape; not injected");
    }
    reply.result = outcome.denied  ? ReviewResult::Denied
                   : outcome.injected ? ReviewResult::Injected
                                      : ReviewResult::Skipped;
  }

  // The response, written by hand: the order is fixed and no copy of the pod is made.
  std::string& out = reply.body;
  out = R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":)";
  appendJsonString(out, uid);
  if (outcome.denied) {
    out += R"(,"allowed":false,"status":{"code":403,"reason":"Forbidden","message":)";
    appendJsonString(out, *outcome.denied);
    out += "}";
  } else {
    out += R"(,"allowed":true)";
    if (outcome.injected) {
      out += R"(,"patchType":"JSONPatch","patch":")" + base64Encode(outcome.patch) + "\"";
    }
  }
  if (!outcome.warnings.empty()) {
    out += R"(,"warnings":[)";
    for (size_t i = 0; i < outcome.warnings.size(); ++i) {
      out += i ? "," : "";
      appendJsonString(out, outcome.warnings[i]);
    }
    out += "]";
  }
  out += "}}";
  reply.status = 200;
  reply.warnings = outcome.warnings.size();
  return reply;
}

} // namespace bulwark::webhook

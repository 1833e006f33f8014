#include "bulwark/filter/probes.h"

#include <algorithm>

#include "bulwark/common/log.h"

namespace bulwark::filter {
namespace {

constexpr size_t kMaxProbeTarget = 2048;
constexpr size_t kMaxProbes = 64;
constexpr size_t kMaxLabel = 63;

std::string quoted(std::string_view v) {
  std::string out = "'";
  log::appendJsonEscaped(out, v.substr(0, 80));
  out += v.size() > 80 ? "...'" : "'";
  return out;
}

std::string_view trimSpaces(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

} // namespace

std::string ProbePaths::problem(std::string_view target) {
  if (target.empty()) {
    return "empty";
  }
  if (target.front() != '/') {
    return "does not start with '/'";
  }
  if (target.size() > kMaxProbeTarget) {
    return "longer than " + std::to_string(kMaxProbeTarget) + " characters";
  }
  for (const char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return "contains a space, control or non-ASCII character (a request-target carries them "
             "percent-encoded)";
    }
    if (c == '#') {
      return "contains '#' (a fragment is never sent)";
    }
  }
  return {};
}

bool ProbePaths::add(std::string_view target, std::string_view source,
                     std::vector<std::string>& warnings) {
  if (const std::string why = problem(target); !why.empty()) {
    warnings.push_back(std::string(source) + ": probe path " + quoted(target) + " ignored: " + why);
    return false;
  }
  if (std::find(paths_.begin(), paths_.end(), target) != paths_.end()) {
    return true;
  }
  if (paths_.size() >= kMaxProbes) {
    warnings.push_back(std::string(source) + ": more than " + std::to_string(kMaxProbes) +
                       " probe paths; " + quoted(target) + " ignored");
    return false;
  }
  paths_.emplace_back(target);
  return true;
}

ProbePaths ProbePaths::parse(std::string_view list, std::string_view source,
                             std::vector<std::string>& warnings) {
  ProbePaths out;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = trimSpaces(list.substr(0, comma));
    list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
    if (item.empty()) {
      continue; // "a,,b" and a trailing comma: nothing to match
    }
    out.add(item, source, warnings);
  }
  return out;
}

bool ProbePaths::matches(std::string_view method, std::string_view target, bool hasBody) const {
  if (paths_.empty() || hasBody || !(method == "GET" || method == "HEAD")) {
    return false;
  }
  return std::find(paths_.begin(), paths_.end(), target) != paths_.end();
}

bool validEventLabel(std::string_view value) {
  if (value.empty() || value.size() > kMaxLabel) {
    return false;
  }
  return std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

Status checkEventLabel(std::string_view value, std::string_view source) {
  if (validEventLabel(value)) {
    return {};
  }
  return BW_INVALID(std::string(source) + ": " + quoted(value) +
                    " is not an event label (1-63 characters of A-Z a-z 0-9 . _ -)");
}

} // namespace bulwark::filter

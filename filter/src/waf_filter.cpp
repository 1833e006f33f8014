#include "bulwark/filter/waf_filter.h"

#include <algorithm>

namespace bulwark::filter {
namespace {

std::string_view trimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool isForwardedFor(std::string_view name) {
  static constexpr std::string_view kName = "x-forwarded-for";
  return name.size() == kName.size() &&
         std::equal(name.begin(), name.end(), kName.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// The client from the last X-Forwarded-For value (`last`, empty when there is none).
std::string_view clientFrom(std::string_view last, std::string_view peer) {
  if (last.empty()) {
    return peer;
  }
  const auto comma = last.rfind(',');
  const std::string_view hop =
      trimOws(comma == std::string_view::npos ? last : last.substr(comma + 1));
  return parseIp(hop) ? hop : peer;
}

} // namespace

std::string_view clientOf(const Policy& p, const RequestHead& req, std::string_view peer) {
  if (!p.trustForwardedFor) {
    return peer;
  }
  std::string_view last;
  for (const auto& f : req) {
    if (isForwardedFor(f.name_string())) {
      last = f.value();
    }
  }
  return clientFrom(last, peer);
}

std::string_view clientOf(const Policy& p, const http1::Request& req, std::string_view peer) {
  if (!p.trustForwardedFor) {
    return peer;
  }
  std::string_view last;
  for (const auto& f : req.fields) {
    if (isForwardedFor(f.name)) {
      last = f.value;
    }
  }
  return clientFrom(last, peer);
}

WafPlan planRequest(const Policy& p, bool haveEngine, const std::optional<IpBytes>& client,
                    std::string_view host, std::string_view path) {
  WafPlan plan;
  plan.mode = p.overrides.empty() ? p.mode : p.modeFor(host, path);
  plan.paranoia = p.paranoiaFor(host, path);
  plan.deny = client && p.deny.contains(*client);
  plan.inspect = !plan.deny && plan.mode != Mode::Off && haveEngine &&
                 !(client && p.allow.contains(*client));
  return plan;
}

detect::Verdict inspectRequest(const detect::Engine& engine, const detect::RequestView& request) {
  return engine.inspect(request);
}

WafAction decide(const WafPlan& plan, const Policy& p, const std::optional<IpBytes>& client,
                 const detect::Verdict& verdict) {
  if (plan.deny) {
    return WafAction::Deny;
  }
  if (!verdict.attack()) {
    return WafAction::Pass;
  }
  const bool block = plan.mode == Mode::Block ||
                     (plan.mode == Mode::SafeBlocking && client && p.gray.contains(*client));
  return block ? WafAction::Block : WafAction::Log;
}

} // namespace bulwark::filter

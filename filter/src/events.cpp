#include "bulwark/filter/events.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <vector>

#include "bulwark/common/log.h"
#include "bulwark/detect/rule_registry.h"

namespace bulwark::filter {
namespace {

constexpr size_t kMaxPath = 512;
constexpr size_t kMaxValue = 256;
constexpr size_t kMaxFindings = 16;

void field(std::string& out, std::string_view key, std::string_view value, size_t max) {
  out += ",\"";
  out += key;
  out += "\":\"";
  log::appendJsonEscaped(out, value.substr(0, max));
  out += '"';
}

} // namespace

std::string_view actionName(EventAction a) {
  switch (a) {
  case EventAction::Logged:
    return "logged";
  case EventAction::Blocked:
    return "blocked";
  case EventAction::Denied:
    return "denied";
  }
  return "logged";
}

std::string formatAttackEvent(const AttackEvent& e) {
  std::string out;
  out.reserve(512);
  out += "{\"ts\":\"";
  out += log::nowRfc3339();
  out += "\",\"type\":\"attack\"";
  field(out, "request_id", e.requestId, 128);
  field(out, "client", e.client, 64);
  field(out, "method", e.method, 32);
  field(out, "host", e.host, 256);
  field(out, "path", e.path, kMaxPath);
  out += ",\"classes\":[";
  std::vector<std::string_view> classes;
  std::vector<uint32_t> rules;
  if (e.verdict != nullptr) {
    for (const auto& f : e.verdict->findings) {
      const auto name = detect::className(f.cls);
      if (std::find(classes.begin(), classes.end(), name) == classes.end()) {
        classes.push_back(name);
      }
      if (std::find(rules.begin(), rules.end(), f.ruleId) == rules.end()) {
        rules.push_back(f.ruleId);
      }
    }
    if (e.verdict->blockForLimit && classes.empty()) {
      classes.push_back("inspection-limit");
    }
  } else {
    classes.push_back("denylist");
  }
  for (size_t i = 0; i < classes.size(); ++i) {
    out += i ? ",\"" : "\"";
    out += classes[i];
    out += '"';
  }
  out += "],\"rule_ids\":[";
  for (size_t i = 0; i < rules.size(); ++i) {
    if (i) {
      out += ',';
    }
    out += std::to_string(rules[i]);
  }
  out += "],\"findings\":[";
  if (e.verdict != nullptr) {
    const size_t n = std::min(e.verdict->findings.size(), kMaxFindings);
    for (size_t i = 0; i < n; ++i) {
      const auto& f = e.verdict->findings[i];
      out += i ? ",{" : "{";
      out += "\"class\":\"";
      out += detect::className(f.cls);
      out += "\",\"rule_id\":";
      out += std::to_string(f.ruleId);
      // What the rule detects, from the rule registry (absent for ids it does not hold: the
      // HTTP parser's refusals, whose value names the reason).
      if (const std::string_view what = detect::ruleDescription(f.ruleId); !what.empty()) {
        field(out, "description", what, kMaxValue);
      }
      field(out, "part", f.part, kMaxValue);
      field(out, "part_kind", detect::partKindName(f.kind), 32);
      field(out, "confidence", detect::confidenceName(f.confidence), 16);
      out += ",\"paranoia_level\":";
      out += std::to_string(f.paranoia);
      field(out, "value", f.value, kMaxValue);
      if (!f.chain.empty()) {
        field(out, "chain", f.chain, kMaxValue); // decoding steps, latest first
      }
      out += '}';
    }
  }
  out += ']';
  if (e.verdict != nullptr) {
    out += ",\"score\":";
    out += std::to_string(e.verdict->score);
    out += ",\"threshold\":";
    out += std::to_string(e.verdict->threshold);
    out += ",\"paranoia_level\":";
    out += std::to_string(e.verdict->paranoiaLevel);
  }
  if (!e.limit.empty()) {
    field(out, "limit", e.limit, 32);
  }
  field(out, "action", actionName(e.action), 16);
  field(out, "mode", modeName(e.mode), 16);
  if (!e.application.empty()) {
    field(out, "application", e.application, 63);
  }
  if (!e.nodeGroup.empty()) {
    field(out, "node_group", e.nodeGroup, 63);
  }
  out += "}\n";
  return out;
}

void emitAttackEvent(const AttackEvent& e) {
  static std::mutex mutex;
  const std::string line = formatAttackEvent(e);
  std::lock_guard lock(mutex);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

} // namespace bulwark::filter

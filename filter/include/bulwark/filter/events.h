#pragma once

#include <string>
#include <string_view>

#include "bulwark/detect/engine.h"
#include "bulwark/filter/config.h"

namespace bulwark::filter {

enum class EventAction { Logged, Blocked, Denied };
std::string_view actionName(EventAction a);

struct AttackEvent {
  std::string_view requestId;
  std::string_view client;
  std::string_view method;
  std::string_view host;
  std::string_view path; // request-target as received (truncated when written)
  const detect::Verdict* verdict = nullptr; // null for a deny-list hit
  EventAction action = EventAction::Logged;
  Mode mode = Mode::Monitoring;
  std::string_view application{}; // event labels of this pod ("" = not set: left out)
  std::string_view nodeGroup{};
  // For a request that exceeded what the proxy can inspect (on_limit): which limit, e.g.
  // "inspect_body_max_bytes"; "" otherwise.
  std::string_view limit{};
};

// One JSON line per attack on stdout: time, request id, client, method, host, path, classes,
// rule ids, findings (class, rule id, part, matched value), action, mode, and the application
// and node group labels when set. Values are escaped and
// truncated, so a hostile request cannot forge or flood lines.
std::string formatAttackEvent(const AttackEvent& e);
void emitAttackEvent(const AttackEvent& e);

} // namespace bulwark::filter

#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bulwark/common/result.h"

namespace bulwark::filter {

// Kubelet HTTP probes that reach the proxy through capture (the webhook lists the pod's
// httpGet probe targets in BULWARK_PROBE_PATHS). A request matching one of them exactly, with
// GET or HEAD and no body, is forwarded without inspection, so a probe path that looks like an
// attack (/server-status?auto) never gets the pod restarted. Anything else sent to such a path
// (a query appended, a body, another method) is inspected like any request.
class ProbePaths {
public:
  // Why `target` cannot be a probe target ("" when it can): an origin-form request-target,
  // 1..2048 visible ASCII characters starting with '/', without '#'.
  static std::string problem(std::string_view target);

  // Parses a comma separated list (the environment form). Each bad entry adds a warning naming
  // `source` and is skipped; duplicates are kept once.
  static ProbePaths parse(std::string_view list, std::string_view source,
                          std::vector<std::string>& warnings);

  // Adds one target after validation; false (and a warning) when it is not a probe target.
  bool add(std::string_view target, std::string_view source, std::vector<std::string>& warnings);

  // Whether a request is a kubelet probe: GET or HEAD, no body, target exactly one of the list.
  bool matches(std::string_view method, std::string_view target, bool hasBody) const;

  bool empty() const { return paths_.empty(); }
  const std::vector<std::string>& paths() const { return paths_; }
  bool operator==(const ProbePaths&) const = default;

private:
  std::vector<std::string> paths_;
};

// Event labels (BULWARK_APPLICATION, BULWARK_NODE_GROUP): 1-63 characters of [A-Za-z0-9._-],
// the same rule the webhook applies to the annotations it injects them from.
bool validEventLabel(std::string_view value);

// An error naming `source` when `value` is not a valid event label.
Status checkEventLabel(std::string_view value, std::string_view source);

} // namespace bulwark::filter

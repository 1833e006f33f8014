#pragma once

// Capture plan cases shared by the golden tests (the e2e suite uses the "pod-v4v6" shape).

#include <ostream>
#include <string>
#include <vector>

#include "bulwark/capture/plan.h"

namespace bulwark::capture::testcases {

struct Case {
  std::string name;
  PlanInput input;
};

// GoogleTest prints the case by name, not as bytes.
inline void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

inline std::vector<Case> all() {
  std::vector<Case> cases;
  {
    PlanInput in;
    in.appPorts = {8080};
    in.podAddresses = {"198.18.0.2", "fd00:b::2"};
    cases.push_back({"pod-v4v6", in});
  }
  {
    PlanInput in;
    in.appPorts = {8443, 80, 8443};
    in.excludeCidrs = {"10.1.2.3/8", "fd00:dead::/32"};
    cases.push_back({"any-dst-two-ports-excluded-cidrs", in});
  }
  {
    PlanInput in;
    in.allPorts = true;
    in.excludePorts = {22, 15021};
    in.podAddresses = {"198.18.0.2"};
    cases.push_back({"all-ports-except", in});
  }
  {
    PlanInput in;
    in.appPorts = {80};
    in.ipv6 = false;
    in.skipUid = std::nullopt;
    in.proxyPort = 15001;
    cases.push_back({"ipv4-only-no-uid-guard", in});
  }
  return cases;
}

} // namespace bulwark::capture::testcases

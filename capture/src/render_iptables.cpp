#include <algorithm>

#include "bulwark/capture/render.h"

namespace bulwark::capture {
namespace {

std::string comment(std::string_view purpose) {
  return "-m comment --comment \"" + std::string(kCommentPrefix) + std::string(purpose) + "\"";
}

// iptables-save order: -s, -d, -i, -p, then matches, then -j.
std::string rule(std::string_view chain, const std::string& src, const std::string& dst,
                 const std::string& in, const std::string& proto, const std::string& matches,
                 std::string_view purpose, std::string_view target) {
  std::string out = "-A " + std::string(chain);
  for (const auto* part : {&src, &dst, &in, &proto, &matches}) {
    if (!part->empty()) {
      out += " " + *part;
    }
  }
  out += " " + comment(purpose) + " -j " + std::string(target);
  return out;
}

} // namespace

IptablesRules renderIptables(const Plan& plan, Family family) {
  IptablesRules r;
  r.family = family;
  const std::string inbound(kInboundChain);
  const std::string redirect(kRedirectChain);

  r.rules.push_back(rule(inbound, "", "", "-i lo", "", "", "skip-loopback", "RETURN"));
  for (const auto& c : Plan::ofFamily(plan.skipSources, family)) {
    r.rules.push_back(rule(inbound, "-s " + c.str(), "", "", "", "", "skip-proxy-source", "RETURN"));
  }
  for (const auto& c : Plan::ofFamily(plan.excludeCidrs, family)) {
    r.rules.push_back(rule(inbound, "-s " + c.str(), "", "", "", "", "skip-cidr", "RETURN"));
  }
  std::vector<std::string> dsts;
  for (const auto& c : Plan::ofFamily(plan.podAddresses, family)) {
    dsts.push_back("-d " + c.str());
  }
  // No pod addresses: any destination. Addresses of the other family only: nothing captured.
  if (plan.podAddresses.empty()) {
    dsts.push_back("");
  }
  if (plan.portMode == PortMode::Include) {
    for (const auto& d : dsts) {
      for (auto port : plan.appPorts) {
        r.rules.push_back(rule(inbound, "", d, "", "-p tcp",
                               "-m tcp --dport " + std::to_string(port), "app-port", redirect));
      }
    }
  } else if (!dsts.empty()) {
    for (auto port : plan.excludePorts) {
      r.rules.push_back(rule(inbound, "", "", "", "-p tcp",
                             "-m tcp --dport " + std::to_string(port), "skip-port", "RETURN"));
    }
    for (const auto& d : dsts) {
      r.rules.push_back(rule(inbound, "", d, "", "-p tcp", "", "all-ports", redirect));
    }
  }
  r.chains.push_back(inbound);
  r.hooks.push_back({"PREROUTING", comment("inbound") + " -j " + inbound});

  if (plan.skipUid) {
    // Locally generated packets never pass PREROUTING, so nothing in OUTPUT is captured; this
    // guard states it in the kernel and keeps any later local-capture rule off the proxy.
    const std::string output(kOutputChain);
    r.rules.push_back(rule(output, "", "", "", "",
                           "-m owner --uid-owner " + std::to_string(*plan.skipUid),
                           "skip-proxy-uid", "RETURN"));
    r.chains.push_back(output);
    r.hooks.push_back({"OUTPUT", comment("output") + " -j " + output});
  }

  r.rules.push_back(rule(redirect, "", "", "", "-p tcp", "", "redirect-to-proxy",
                         "REDIRECT --to-ports " + std::to_string(plan.proxyPort)));
  r.chains.push_back(redirect);

  std::sort(r.chains.begin(), r.chains.end());
  std::stable_sort(r.rules.begin(), r.rules.end(), [](const std::string& a, const std::string& b) {
    return a.substr(0, a.find(' ', 3)) < b.substr(0, b.find(' ', 3));
  });
  std::sort(r.hooks.begin(), r.hooks.end(),
            [](const IptablesHook& a, const IptablesHook& b) { return a.chain > b.chain; });
  return r;
}

std::string renderIptablesRestore(const IptablesRules& rules) {
  std::string out = "*" + std::string(kIptablesTable) + "\n";
  for (const auto& c : rules.chains) {
    out += ":" + c + " - [0:0]\n";
  }
  for (const auto& l : rules.rules) {
    out += l + "\n";
  }
  for (const auto& h : rules.hooks) {
    out += "-I " + h.chain + " 1 " + h.spec + "\n";
  }
  out += "COMMIT\n";
  return out;
}

} // namespace bulwark::capture

#include <algorithm>

#include "bulwark/capture/render.h"

namespace bulwark::capture {
namespace {

std::string purpose(std::string_view p) { return std::string(kCommentPrefix) + std::string(p); }

NftRule skipSource(const Cidr& c, std::string_view why) {
  NftRule r;
  r.nfproto = c.family;
  r.saddr = c;
  r.comment = purpose(why);
  return r;
}

std::string addr(const Cidr& c) { return c.isHost() ? c.addrStr() : c.str(); }

std::string_view ipKeyword(Family f) { return f == Family::V4 ? "ip" : "ip6"; }

} // namespace

NftTable buildNftTable(const Plan& plan) {
  NftTable t;
  NftChain pre;
  pre.name = "prerouting";
  pre.hook = "prerouting";

  NftRule lo;
  lo.iifname = "lo";
  lo.comment = purpose("skip-loopback");
  pre.rules.push_back(lo);

  const Family families[] = {Family::V4, Family::V6};
  for (auto f : families) {
    if (!plan.hasFamily(f)) {
      continue;
    }
    for (const auto& c : Plan::ofFamily(plan.skipSources, f)) {
      pre.rules.push_back(skipSource(c, "skip-proxy-source"));
    }
  }
  for (auto f : families) {
    if (!plan.hasFamily(f)) {
      continue;
    }
    for (const auto& c : Plan::ofFamily(plan.excludeCidrs, f)) {
      pre.rules.push_back(skipSource(c, "skip-cidr"));
    }
  }

  // Destinations: each pod address, or "any" (one rule for every enabled family).
  std::vector<NftRule> dsts;
  if (plan.podAddresses.empty()) {
    NftRule any;
    if (!(plan.ipv4 && plan.ipv6)) {
      any.nfproto = plan.ipv4 ? Family::V4 : Family::V6;
    }
    dsts.push_back(any);
  } else {
    for (const auto& c : plan.podAddresses) {
      if (!plan.hasFamily(c.family)) {
        continue;
      }
      NftRule d;
      d.nfproto = c.family;
      d.daddr = c;
      dsts.push_back(d);
    }
  }

  if (plan.portMode == PortMode::Include) {
    for (const auto& d : dsts) {
      for (auto port : plan.appPorts) {
        NftRule r = d;
        r.tcp = true;
        r.dport = port;
        r.verdict = NftVerdict::Redirect;
        r.redirectPort = plan.proxyPort;
        r.comment = purpose("app-port");
        pre.rules.push_back(r);
      }
    }
  } else if (!dsts.empty()) {
    for (auto port : plan.excludePorts) {
      NftRule r;
      r.tcp = true;
      r.dport = port;
      r.comment = purpose("skip-port");
      pre.rules.push_back(r);
    }
    for (const auto& d : dsts) {
      NftRule r = d;
      r.tcp = true;
      r.verdict = NftVerdict::Redirect;
      r.redirectPort = plan.proxyPort;
      r.comment = purpose("all-ports");
      pre.rules.push_back(r);
    }
  }
  t.chains.push_back(std::move(pre));

  if (plan.skipUid) {
    // Guard only: locally generated packets never pass prerouting (see render_iptables.cpp).
    NftChain out;
    out.name = "output";
    out.hook = "output";
    NftRule r;
    r.skuid = plan.skipUid;
    r.comment = purpose("skip-proxy-uid");
    out.rules.push_back(r);
    t.chains.push_back(std::move(out));
  }
  std::sort(t.chains.begin(), t.chains.end(),
            [](const NftChain& a, const NftChain& b) { return a.name < b.name; });
  return t;
}

std::string renderNftRule(const NftRule& r) {
  std::vector<std::string> parts;
  if (r.iifname) {
    parts.push_back("iifname \"" + *r.iifname + "\"");
  }
  if (r.nfproto && !r.saddr && !r.daddr) {
    parts.push_back("meta nfproto " + std::string(familyName(*r.nfproto)));
  }
  if (r.saddr) {
    parts.push_back(std::string(ipKeyword(r.saddr->family)) + " saddr " + addr(*r.saddr));
  }
  if (r.daddr) {
    parts.push_back(std::string(ipKeyword(r.daddr->family)) + " daddr " + addr(*r.daddr));
  }
  if (r.dport) {
    parts.push_back("tcp dport " + std::to_string(*r.dport));
  } else if (r.tcp) {
    parts.push_back("meta l4proto tcp");
  }
  if (r.skuid) {
    parts.push_back("meta skuid " + std::to_string(*r.skuid));
  }
  if (!r.unrecognized.empty()) {
    parts.push_back("# unrecognized: " + r.unrecognized);
  }
  parts.push_back(r.verdict == NftVerdict::Return
                      ? std::string("return")
                      : "redirect to :" + std::to_string(r.redirectPort));
  if (!r.comment.empty()) {
    parts.push_back("comment \"" + r.comment + "\"");
  }
  std::string out;
  for (const auto& p : parts) {
    out += (out.empty() ? "" : " ") + p;
  }
  return out;
}

std::string renderNft(const NftTable& t) {
  std::string out = "table inet " + t.name + " {\n";
  for (size_t i = 0; i < t.chains.size(); ++i) {
    const auto& c = t.chains[i];
    out += (i ? "\n" : "") + std::string("\tchain ") + c.name + " {\n";
    out += "\t\ttype " + c.type + " hook " + c.hook + " priority " + std::to_string(c.priority) +
           "; policy accept;\n";
    for (const auto& r : c.rules) {
      out += "\t\t" + renderNftRule(r) + "\n";
    }
    out += "\t}\n";
  }
  out += "}\n";
  return out;
}

} // namespace bulwark::capture

#include "bulwark/capture/plan.h"

#include <algorithm>
#include <charconv>

#include <arpa/inet.h>

namespace bulwark::capture {
namespace {

template <class T> void sortUnique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

Result<std::vector<Cidr>> parseList(const std::vector<std::string>& items, std::string_view what,
                                    bool hostsOnly) {
  std::vector<Cidr> out;
  for (const auto& item : items) {
    auto c = Cidr::parse(item);
    if (!c) {
      return tl::unexpected(std::move(c.error()).wrap(what));
    }
    if (hostsOnly && !c->isHost()) {
      return BW_INVALID(std::string(what) + ": '" + item + "' must be a single address");
    }
    out.push_back(*c);
  }
  sortUnique(out);
  return out;
}

} // namespace

std::string_view familyName(Family f) { return f == Family::V4 ? "ipv4" : "ipv6"; }

Result<Cidr> Cidr::parse(std::string_view text) {
  std::string addr(text);
  std::optional<unsigned> prefix;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    addr = std::string(text.substr(0, slash));
    auto p = text.substr(slash + 1);
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || ec != std::errc() || ptr != p.data() + p.size()) {
      return BW_INVALID("'" + std::string(text) + "' has an invalid prefix length");
    }
    prefix = v;
  }
  Cidr c;
  if (inet_pton(AF_INET, addr.c_str(), c.addr.data()) == 1) {
    c.family = Family::V4;
  } else if (inet_pton(AF_INET6, addr.c_str(), c.addr.data()) == 1) {
    c.family = Family::V6;
  } else {
    return BW_INVALID("'" + std::string(text) + "' is not an IPv4/IPv6 address or CIDR");
  }
  const unsigned bits = static_cast<unsigned>(c.addrLen() * 8);
  if (prefix && *prefix > bits) {
    return BW_INVALID("'" + std::string(text) + "' has a prefix longer than " +
                      std::to_string(bits));
  }
  c.prefix = static_cast<uint8_t>(prefix.value_or(bits));
  for (unsigned i = 0; i < c.addrLen(); ++i) {
    const unsigned keep = c.prefix > i * 8 ? std::min(8u, c.prefix - i * 8) : 0;
    c.addr[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return c;
}

std::string Cidr::addrStr() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == Family::V4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof(buf));
  return buf;
}

std::string Cidr::str() const { return addrStr() + "/" + std::to_string(prefix); }

std::vector<Cidr> Plan::ofFamily(const std::vector<Cidr>& list, Family f) {
  std::vector<Cidr> out;
  for (const auto& c : list) {
    if (c.family == f) {
      out.push_back(c);
    }
  }
  return out;
}

Result<Plan> buildPlan(const PlanInput& in) {
  Plan p;
  if (!in.ipv4 && !in.ipv6) {
    return BW_INVALID("neither IPv4 nor IPv6 is enabled");
  }
  p.ipv4 = in.ipv4;
  p.ipv6 = in.ipv6;
  if (in.proxyPort == 0) {
    return BW_INVALID("proxy port: 0 is not a port");
  }
  p.proxyPort = in.proxyPort;
  if (in.allPorts) {
    p.portMode = PortMode::AllExcept;
    p.excludePorts = in.excludePorts;
    // Never redirect the proxy's own ports, whatever was asked.
    p.excludePorts.push_back(in.proxyPort);
    p.excludePorts.push_back(names::kStatusPort);
    sortUnique(p.excludePorts);
    if (std::find(p.excludePorts.begin(), p.excludePorts.end(), 0) != p.excludePorts.end()) {
      return BW_INVALID("excluded port: 0 is not a port");
    }
  } else {
    p.appPorts = in.appPorts;
    sortUnique(p.appPorts);
    if (p.appPorts.empty()) {
      return BW_INVALID("no application port given (use --app-port N, or --app-port all)");
    }
    for (auto port : p.appPorts) {
      if (port == 0) {
        return BW_INVALID("application port: 0 is not a port");
      }
      if (port == in.proxyPort) {
        return BW_INVALID("application port " + std::to_string(port) +
                          " is the proxy port; capturing it would loop");
      }
    }
  }
  auto pods = parseList(in.podAddresses, "pod address", true);
  if (!pods) {
    return tl::unexpected(pods.error());
  }
  p.podAddresses = std::move(*pods);
  auto skip = parseList(in.skipSrc, "skipped source", false);
  if (!skip) {
    return tl::unexpected(skip.error());
  }
  p.skipSources = std::move(*skip);
  auto excl = parseList(in.excludeCidrs, "excluded CIDR", false);
  if (!excl) {
    return tl::unexpected(excl.error());
  }
  p.excludeCidrs = std::move(*excl);
  p.skipUid = in.skipUid;
  return p;
}

} // namespace bulwark::capture

#pragma once

// A capture plan: plain data describing which inbound connections are steered into the proxy.
// Renderers (render.h) turn it into iptables-restore text or an nftables model; appliers
// (apply.h) put it into the kernel. Nothing here touches the OS.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/common/names.h"
#include "bulwark/common/result.h"

namespace bulwark::capture {

enum class Family : uint8_t { V4, V6 };

std::string_view familyName(Family f); // "ipv4" / "ipv6"

// An IPv4 or IPv6 prefix; host bits are always zero.
struct Cidr {
  Family family = Family::V4;
  std::array<uint8_t, 16> addr{}; // network byte order; v4 uses the first 4 bytes
  uint8_t prefix = 32;

  // "198.18.0.1", "198.18.0.0/15", "fd00:b::1", "fd00:b::/64"; host bits are cleared.
  static Result<Cidr> parse(std::string_view text);
  size_t addrLen() const { return family == Family::V4 ? 4 : 16; }
  bool isHost() const { return prefix == addrLen() * 8; }
  std::string addrStr() const;
  std::string str() const; // always with the prefix: "127.0.0.6/32"
  auto operator<=>(const Cidr&) const = default;
};

enum class PortMode : uint8_t {
  Include,  // capture exactly appPorts
  AllExcept // capture every TCP port except excludePorts
};

struct Plan {
  std::vector<Cidr> podAddresses;   // destinations captured (host prefixes); empty = any
  PortMode portMode = PortMode::Include;
  std::vector<uint16_t> appPorts;     // Include mode: sorted, unique, never the proxy port
  std::vector<uint16_t> excludePorts; // AllExcept mode: sorted, unique, has proxy+status ports
  uint16_t proxyPort = names::kProxyPort;
  std::vector<Cidr> skipSources;     // never captured (the proxy's 127.0.0.6)
  std::optional<uint32_t> skipUid;   // locally generated traffic of this UID never captured
  std::vector<Cidr> excludeCidrs;    // client sources never captured
  bool ipv4 = true;
  bool ipv6 = true;

  bool hasFamily(Family f) const { return f == Family::V4 ? ipv4 : ipv6; }
  // The entries of `list` that belong to family f (order kept).
  static std::vector<Cidr> ofFamily(const std::vector<Cidr>& list, Family f);
  bool operator==(const Plan&) const = default;
};

// What the operator (flags / environment / webhook) asked for, unvalidated.
struct PlanInput {
  std::vector<uint16_t> appPorts = {names::kDefaultAppPort};
  bool allPorts = false;
  std::vector<uint16_t> excludePorts;
  uint16_t proxyPort = names::kProxyPort;
  std::vector<std::string> podAddresses;
  std::vector<std::string> skipSrc = {std::string(names::kProxySourceAddress)};
  std::optional<uint32_t> skipUid = names::kProxyUid;
  std::vector<std::string> excludeCidrs;
  bool ipv4 = true;
  bool ipv6 = true;
};

// Validates and normalizes (sorted, deduplicated lists): the single way to make a Plan.
[[nodiscard]] Result<Plan> buildPlan(const PlanInput& in);

} // namespace bulwark::capture

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bulwark/common/result.h"

namespace bulwark::net {

// An IP literal and a port: "198.18.0.1:8080" or "[fd00:b::1]:8080".
struct HostPort {
  std::string host; // without brackets
  uint16_t port = 0;
  bool v6 = false;

  std::string str() const { return v6 ? "[" + host + "]:" + std::to_string(port) : host + ":" + std::to_string(port); }
  bool operator==(const HostPort&) const = default;
};

// Parses ADDR:PORT with an IPv4 or bracketed IPv6 literal; `allowZeroPort` for "pick one".
Result<HostPort> parseHostPort(std::string_view text, bool allowZeroPort = false);

bool isIpv4Literal(std::string_view text);
bool isIpv6Literal(std::string_view text);

} // namespace bulwark::net

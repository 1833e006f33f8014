#include "bulwark/common/net.h"

#include <arpa/inet.h>

#include "bulwark/common/cli.h"

namespace bulwark::net {

bool isIpv4Literal(std::string_view text) {
  if (text.empty() || text.size() > 15) {
    return false;
  }
  std::string s(text);
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool isIpv6Literal(std::string_view text) {
  if (text.empty() || text.size() > 45) {
    return false;
  }
  std::string s(text);
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

Result<HostPort> parseHostPort(std::string_view text, bool allowZeroPort) {
  HostPort out;
  std::string_view portText;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return BW_INVALID("'" + std::string(text) + "' is not [IPv6]:PORT");
    }
    out.host = std::string(text.substr(1, close - 1));
    out.v6 = true;
    portText = text.substr(close + 2);
    if (!isIpv6Literal(out.host)) {
      return BW_INVALID("'" + out.host + "' is not an IPv6 address");
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return BW_INVALID("'" + std::string(text) + "' is not ADDR:PORT");
    }
    out.host = std::string(text.substr(0, colon));
    portText = text.substr(colon + 1);
    if (!isIpv4Literal(out.host)) {
      return BW_INVALID("'" + out.host + "' is not an IPv4 address (IPv6 needs [brackets])");
    }
  }
  const auto port = cli::parseUint(portText, allowZeroPort ? 0 : 1, 65535);
  if (!port) {
    return BW_INVALID("'" + std::string(portText) + "' is not a port (1-65535)");
  }
  out.port = static_cast<uint16_t>(*port);
  return out;
}

} // namespace bulwark::net

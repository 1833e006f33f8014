#include "bulwark/filter/orig_dst.h"

#include <algorithm>

#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <sys/socket.h>

#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

namespace bulwark::filter {

uint16_t resolveUpstreamPort(const PortSources& s) {
  if (s.configured) {
    return *s.configured;
  }
  const bool ownPort =
      std::find(s.listenPorts.begin(), s.listenPorts.end(), s.localPort) != s.listenPorts.end();
  if (s.originalDst && *s.originalDst != 0 &&
      std::find(s.listenPorts.begin(), s.listenPorts.end(), *s.originalDst) == s.listenPorts.end()) {
    return *s.originalDst;
  }
  if (!ownPort && s.localPort != 0) {
    return s.localPort;
  }
  return s.appPort;
}

std::optional<uint16_t> queryOriginalDstPort(int fd, bool ipv6) {
  if (ipv6) {
    sockaddr_in6 addr{};
    socklen_t len = sizeof addr;
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &addr, &len) != 0) {
      return std::nullopt;
    }
    return ntohs(addr.sin6_port);
  }
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &addr, &len) != 0) {
    return std::nullopt;
  }
  return ntohs(addr.sin_port);
}

} // namespace bulwark::filter

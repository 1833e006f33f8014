#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace bulwark::filter {

// Everything that can tell the proxy which app port a client meant.
struct PortSources {
  std::optional<uint16_t> configured;  // --upstream HOST:PORT given explicitly
  std::optional<uint16_t> originalDst; // SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST (REDIRECT capture)
  uint16_t localPort = 0;              // the accepted socket's local port (eBPF steering keeps it)
  std::span<const uint16_t> listenPorts; // the proxy's own ports
  uint16_t appPort = 80;               // fallback: the configured application port
};

// The one place that decides the upstream port of a connection:
// configured > original destination (if NAT changed it) > local port (if it is not one of the
// proxy's own ports, i.e. the connection was steered without NAT) > app port.
uint16_t resolveUpstreamPort(const PortSources& s);

// Reads the pre-NAT destination port of an accepted TCP socket; nullopt when the connection was
// not NATed (no conntrack entry or the kernel lacks the option).
std::optional<uint16_t> queryOriginalDstPort(int fd, bool ipv6);

} // namespace bulwark::filter

#include "bulwark/filter/orig_dst.h"

#include <array>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace bulwark::filter {
namespace {

constexpr std::array<uint16_t, 2> kListen = {26001, 26002};

PortSources base() {
  PortSources s;
  s.listenPorts = kListen;
  s.appPort = 8080;
  s.localPort = 26001;
  return s;
}

TEST(ResolveUpstreamPort, ConfiguredPortWins) {
  auto s = base();
  s.configured = 9000;
  s.originalDst = 8443;
  s.localPort = 7000;
  EXPECT_EQ(resolveUpstreamPort(s), 9000);
}

TEST(ResolveUpstreamPort, RedirectUsesOriginalDestination) {
  auto s = base();
  s.originalDst = 8443; // iptables/nftables REDIRECT 8443 -> 26001
  EXPECT_EQ(resolveUpstreamPort(s), 8443);
}

TEST(ResolveUpstreamPort, ConntrackWithoutNatReportsOwnPort) {
  auto s = base();
  s.originalDst = 26001; // not NATed: the original destination is the proxy port itself
  EXPECT_EQ(resolveUpstreamPort(s), 8080);
}

TEST(ResolveUpstreamPort, SteeredSocketKeepsLocalPort) {
  auto s = base();
  s.localPort = 3000; // eBPF sk_lookup: accepted socket still shows the app port
  EXPECT_EQ(resolveUpstreamPort(s), 3000);
}

TEST(ResolveUpstreamPort, ExplicitProxyPortFallsBackToAppPort) {
  auto s = base();
  s.localPort = 26002;
  EXPECT_EQ(resolveUpstreamPort(s), 8080);
}

TEST(ResolveUpstreamPort, ZeroOriginalIsIgnored) {
  auto s = base();
  s.originalDst = 0;
  EXPECT_EQ(resolveUpstreamPort(s), 8080);
}

// On a socket that was never NATed the query must not invent a port other than the real one.
TEST(QueryOriginalDst, UnNattedLoopbackSocket) {
  const int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(ls, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(ls, 1), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int c = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const int s = ::accept(ls, nullptr, nullptr);
  ASSERT_GE(s, 0);
  const auto port = queryOriginalDstPort(s, false);
  if (port) {
    EXPECT_EQ(*port, ntohs(a.sin_port)); // conntrack loaded: original == actual destination
  }
  EXPECT_EQ(queryOriginalDstPort(-1, false), std::nullopt);
  ::close(s);
  ::close(c);
  ::close(ls);
}

} // namespace
} // namespace bulwark::filter

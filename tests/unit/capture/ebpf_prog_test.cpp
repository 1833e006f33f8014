// The sk_lookup program itself, run by the kernel on synthetic lookups (BPF_PROG_TEST_RUN):
// a case table {description, lookup, expected verdict, selected socket, counted reason}, as
// the kernel's sk_lookup selftest and Katran's fixtures do. Needs root with CAP_BPF and
// CAP_NET_ADMIN: skipped locally without them, a failure under CI=true.

#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "bulwark/capture/ebpf.h"
#include "cases.h"

namespace bulwark::capture {
namespace {

bool effective(unsigned cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  return ::syscall(SYS_capget, &hdr, data) == 0 &&
         (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

#define BW_REQUIRE_BPF_PRIVILEGE()                                                            \
  do {                                                                                        \
    if (!probeEbpf().built) {                                                                 \
      GTEST_SKIP() << "built without the BPF program";                                        \
    }                                                                                         \
    if (!effective(39 /* CAP_BPF */) || !effective(CAP_NET_ADMIN)) {                          \
      const char* ci = std::getenv("CI");                                                     \
      if (ci != nullptr && std::string(ci) == "true") {                                       \
        FAIL() << "CI=true and CAP_BPF + CAP_NET_ADMIN are missing: run as root";             \
      }                                                                                       \
      GTEST_SKIP() << "needs CAP_BPF and CAP_NET_ADMIN (root)";                               \
    }                                                                                         \
  } while (0)

// A listening TCP socket on loopback, port chosen by the kernel; its SO_COOKIE.
struct Listener {
  UniqueFd fd;
  uint64_t cookie = 0;
  explicit Listener(Family f) {
    fd.reset(::socket(f == Family::V4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    if (f == Family::V6) {
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_addr = in6addr_loopback;
      EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    }
    EXPECT_EQ(::listen(fd.get(), 8), 0);
    socklen_t len = sizeof cookie;
    EXPECT_EQ(::getsockopt(fd.get(), SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
  }
};

struct Case {
  std::string what;
  SkLookupInput in;
  int verdict;
  int socket; // 0 none, 4 the v4 listener, 6 the v6 listener
  std::string reason;
};

uint64_t reasonCount(Steering& s, std::string_view label) {
  auto n = s.counters();
  EXPECT_TRUE(n);
  const auto& labels = ebpfReasonLabels();
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == label) {
      return (*n)[i];
    }
  }
  ADD_FAILURE() << "no reason " << label;
  return 0;
}

void runCases(Steering& s, const std::vector<Case>& cases, const Listener& l4,
              const Listener& l6) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const uint64_t before = reasonCount(s, c.reason);
    auto r = s.testRun(c.in);
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->verdict, c.verdict);
    EXPECT_EQ(r->cookie, c.socket == 4 ? l4.cookie : c.socket == 6 ? l6.cookie : 0u);
    EXPECT_EQ(reasonCount(s, c.reason), before + 1) << c.reason;
  }
}

constexpr int kDrop = 0;
constexpr int kPass = 1;
constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;

SkLookupInput v4(std::string remote, std::string local, uint16_t port, uint8_t proto = kTcp) {
  return {Family::V4, proto, std::move(remote), 40000, std::move(local), port};
}
SkLookupInput v6(std::string remote, std::string local, uint16_t port, uint8_t proto = kTcp) {
  return {Family::V6, proto, std::move(remote), 40000, std::move(local), port};
}

Plan plan() {
  PlanInput in;
  in.appPorts = {8080};
  in.podAddresses = {"198.18.0.2", "fd00:b::2"};
  in.excludeCidrs = {"198.19.0.0/16", "fd00:b:0:0:1::/80"};
  return *buildPlan(in);
}

TEST(EbpfProgramTest, DecisionTable) {
  BW_REQUIRE_BPF_PRIVILEGE();
  auto s = loadSteering();
  ASSERT_TRUE(s) << s.error().describe();
  Steering& st = **s;
  Listener l4(Family::V4), l6(Family::V6);

  // Before any configuration nothing is touched.
  runCases(st, {{"unconfigured", v4("198.18.0.1", "198.18.0.2", 8080), kPass, 0,
                 "not_configured"}},
           l4, l6);

  ASSERT_TRUE(st.configure(ebpfConfig(plan(), true)));
  ASSERT_TRUE(st.setListener(l4.fd.get(), Family::V4));
  ASSERT_TRUE(st.setListener(l6.fd.get(), Family::V6));
  EXPECT_TRUE(st.hasListener(Family::V4));
  EXPECT_FALSE(st.setListener(l6.fd.get(), Family::V4)) << "family mismatch refused";
  auto back = st.readConfig();
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, ebpfConfig(plan(), true));

  runCases(st,
           {
               {"v4 client to the pod's app port: steered to the v4 listener",
                v4("198.18.0.1", "198.18.0.2", 8080), kPass, 4, "steered"},
               {"v6 client: steered to the v6 listener", v6("fd00:b::1", "fd00:b::2", 8080),
                kPass, 6, "steered"},
               {"UDP is left alone", v4("198.18.0.1", "198.18.0.2", 8080, kUdp), kPass, 0,
                "not_tcp"},
               {"another port", v4("198.18.0.1", "198.18.0.2", 9090), kPass, 0, "not_app_port"},
               {"the proxy port itself", v4("198.18.0.1", "198.18.0.2", 26001), kPass, 0,
                "not_app_port"},
               {"another local address", v4("198.18.0.1", "198.18.0.3", 8080), kPass, 0,
                "not_pod_address"},
               {"v6: another local address", v6("fd00:b::1", "fd00:b::3", 8080), kPass, 0,
                "not_pod_address"},
               {"the proxy's 127.0.0.6 to the pod address", v4("127.0.0.6", "198.18.0.2", 8080),
                kPass, 0, "loopback"},
               {"the proxy's connection to the app on loopback",
                v4("127.0.0.6", "127.0.0.1", 8080), kPass, 0, "loopback"},
               {"v6 loopback", v6("::1", "::1", 8080), kPass, 0, "loopback"},
               {"v4-mapped loopback source", v6("::ffff:127.0.0.6", "fd00:b::2", 8080), kPass,
                0, "loopback"},
               {"the pod to its own address", v4("198.18.0.2", "198.18.0.2", 8080), kPass, 0,
                "pod_itself"},
               {"the pod to its own v6 address",
                v6("fd00:b::2", "fd00:b::2", 8080), kPass, 0, "pod_itself"},
               {"excluded client range", v4("198.19.7.7", "198.18.0.2", 8080), kPass, 0,
                "skipped_source"},
               {"excluded v6 client range", v6("fd00:b::1:0:0:5", "fd00:b::2", 8080), kPass, 0,
                "skipped_source"},
               {"just outside the excluded range", v4("198.20.0.1", "198.18.0.2", 8080), kPass,
                4, "steered"},
           },
           l4, l6);

  // Proxy gone: its socket leaves the map by itself; fail-closed drops, fail-open passes.
  l4.fd.reset();
  l4.cookie = 0;
  EXPECT_FALSE(st.hasListener(Family::V4));
  runCases(st, {{"no v4 listener, fail-closed", v4("198.18.0.1", "198.18.0.2", 8080), kDrop, 0,
                 "no_listener_drop"},
                {"v6 still steered", v6("fd00:b::1", "fd00:b::2", 8080), kPass, 6, "steered"}},
           l4, l6);
  ASSERT_TRUE(st.configure(ebpfConfig(plan(), false)));
  runCases(st, {{"no v4 listener, fail-open", v4("198.18.0.1", "198.18.0.2", 8080), kPass, 0,
                 "no_listener_pass"}},
           l4, l6);

  // --app-port all except 22, IPv4 only, any address.
  PlanInput all;
  all.allPorts = true;
  all.excludePorts = {22};
  all.ipv6 = false;
  ASSERT_TRUE(st.configure(ebpfConfig(*buildPlan(all), true)));
  runCases(st,
           {{"all ports: 9090 captured (no v4 listener now)", v4("198.18.0.1", "10.0.0.9", 9090),
             kDrop, 0, "no_listener_drop"},
            {"all ports except 22", v4("198.18.0.1", "10.0.0.9", 22), kPass, 0, "not_app_port"},
            {"status port never", v4("198.18.0.1", "10.0.0.9", 10246), kPass, 0,
             "not_app_port"},
            {"IPv6 off", v6("fd00:b::1", "fd00:b::2", 9090), kPass, 0, "not_pod_address"}},
           l4, l6);
}

} // namespace
} // namespace bulwark::capture

// eBPF capture, kernel side: the libbpf skeleton of bpf/bw_sk_lookup.bpf.c behind Steering
// (RAII: one destroy path), the feature probe and the netns program query.

#include <arpa/inet.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "bulwark/capture/ebpf.h"
#include "bulwark/common/log.h"

#ifdef BULWARK_HAVE_EBPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "bw_steer_bpf.skel.h"
extern "C" {
#include "bw_steer.h"
}
#endif

namespace bulwark::capture {
namespace {

const log::Logger kLog("ebpf");

// capget(2): whether `cap` is in this process's effective set.
bool hasCap(unsigned cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) {
    return false;
  }
  return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

// The "Seccomp:" field of /proc/self/status: 0 none, 1 strict, 2 filter; -1 unknown.
int seccompMode() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Seccomp:", 0) == 0) {
      const auto pos = line.find_first_of("0123456789");
      return pos == std::string::npos ? -1 : line[pos] - '0';
    }
  }
  return -1;
}

// Whether the bpf() system call itself is reachable: an unknown command reaches the kernel's
// dispatcher (EINVAL) unless something in front of it refuses the call. With CAP_BPF effective
// that something is a seccomp filter (a runtime profile without bpf()) or a security module.
// Returns the errno of the refusal, 0 when the call got through.
int bpfSyscallRefused() {
#ifdef SYS_bpf
  errno = 0;
  const long r = ::syscall(SYS_bpf, 0x7fffffff, nullptr, 0);
  const int e = errno;
  return r < 0 && (e == EPERM || e == EACCES || e == ENOSYS) ? e : 0;
#else
  return 0;
#endif
}

[[maybe_unused]] std::string bpfRefusedWhy(int e) {
  const std::string err = std::strerror(e);
  if (seccompMode() == 2) {
    return "the bpf() system call is refused (" + err +
           ") although CAP_BPF and CAP_NET_ADMIN are effective: a seccomp filter is active "
           "(Seccomp: 2 in /proc/self/status). The runtime's RuntimeDefault profile must allow "
           "bpf() for CAP_BPF (containerd 1.7 and late 1.6 releases, Docker 23 do; older "
           "profiles only for CAP_SYS_ADMIN): update the runtime or give bulwark-hold a "
           "Localhost seccomp profile that allows bpf()";
  }
  return "the bpf() system call is refused (" + err +
         ") although CAP_BPF and CAP_NET_ADMIN are effective and no seccomp filter is active: "
         "a security module (AppArmor, SELinux) or the kernel configuration denies it";
}

#ifndef CAP_BPF
constexpr unsigned kCapBpf = 39;
#else
constexpr unsigned kCapBpf = CAP_BPF;
#endif

} // namespace

std::string EbpfFeatures::missing() const {
  std::string out;
  auto add = [&](const std::string& what) { out += (out.empty() ? "" : "; ") + what; };
  if (!built) {
    add("this bulwark-init was built without the BPF program (clang, bpftool, libbpf-dev)");
    return out;
  }
  if (!capBpf) {
    add(capBpf.error().message());
  }
  if (!capNetAdmin) {
    add(capNetAdmin.error().message());
  }
  if (!btf) {
    add(btf.error().message());
  }
  if (!progType) {
    add(progType.error().describe());
  }
  if (!skAssign) {
    add(skAssign.error().describe());
  }
  return out;
}

#ifdef BULWARK_HAVE_EBPF
namespace {

__attribute__((format(printf, 2, 0))) int libbpfPrint(enum libbpf_print_level level,
                                                      const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !kLog.enabled(log::Level::Debug)) {
    return 0;
  }
  char buf[1024];
  const int n = std::vsnprintf(buf, sizeof(buf), fmt, args);
  std::string msg(buf, n > 0 ? std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1) : 0);
  while (!msg.empty() && msg.back() == '\n') {
    msg.pop_back();
  }
  if (level == LIBBPF_WARN) {
    kLog.warn("libbpf", {{"detail", msg}});
  } else {
    kLog.debug("libbpf", {{"detail", msg}});
  }
  return 0;
}

void installPrint() {
  static const bool once = [] {
    libbpf_set_print(libbpfPrint);
    return true;
  }();
  (void)once;
}

std::string hexTag(const unsigned char* tag) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 8; ++i) {
    out += digits[tag[i] >> 4];
    out += digits[tag[i] & 15];
  }
  return out;
}

Result<uint32_t> objId(int fd, std::string_view what) {
  // bpf_prog_info, bpf_map_info and bpf_link_info all start with type/id fields; ask for the
  // right struct per kind.
  (void)what;
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
    return BW_ERR(errnoCode(errno), "bpf info of " + std::string(what));
  }
  return info.id;
}

template <class Fn> Status eachKey(int mapFd, size_t keySize, Fn fn) {
  std::vector<unsigned char> key(keySize), next(keySize);
  void* prev = nullptr;
  while (bpf_map_get_next_key(mapFd, prev, next.data()) == 0) {
    fn(next.data());
    key = next;
    prev = key.data();
  }
  if (errno != ENOENT) {
    return BW_ERR(errnoCode(errno), "bpf map iteration");
  }
  return {};
}

// Makes the map's key set exactly `want` (value 1 for each key): adds first, then deletes.
Status syncMap(int mapFd, size_t keySize, const std::vector<std::vector<unsigned char>>& want) {
  const uint8_t one = 1;
  for (const auto& k : want) {
    if (k.size() != keySize || bpf_map_update_elem(mapFd, k.data(), &one, BPF_ANY) != 0) {
      return BW_ERR(errnoCode(k.size() != keySize ? EINVAL : errno), "ebpf: map update");
    }
  }
  std::vector<std::vector<unsigned char>> stale;
  if (auto st = eachKey(mapFd, keySize, [&](const unsigned char* k) {
        std::vector<unsigned char> key(k, k + keySize);
        if (std::find(want.begin(), want.end(), key) == want.end()) {
          stale.push_back(std::move(key));
        }
      });
      !st) {
    return st;
  }
  for (auto& k : stale) {
    if (bpf_map_delete_elem(mapFd, k.data()) != 0 && errno != ENOENT) {
      return BW_ERR(errnoCode(errno), "ebpf: map delete");
    }
  }
  return {};
}

Cidr cidrOf(Family f, const void* addr, uint8_t prefix) {
  Cidr c;
  c.family = f;
  std::memcpy(c.addr.data(), addr, f == Family::V4 ? 4 : 16);
  c.prefix = prefix;
  return c;
}

class SkeletonSteering : public Steering {
public:
  explicit SkeletonSteering(bw_steer_bpf* skel) : skel_(skel) {}
  ~SkeletonSteering() override {
    if (link_ != nullptr) {
      bpf_link__destroy(link_);
    }
    bw_steer_bpf__destroy(skel_);
  }
  SkeletonSteering(const SkeletonSteering&) = delete;
  SkeletonSteering& operator=(const SkeletonSteering&) = delete;

  Status configure(const EbpfConfig& c) override {
    if (c.ports.size() > BW_MAX_PORTS || c.podAddresses.size() > BW_MAX_ADDRS ||
        c.skipSources.size() > BW_MAX_SKIP) {
      return BW_INVALID("ebpf: too many ports (max " + std::to_string(BW_MAX_PORTS) +
                        "), pod addresses (max " + std::to_string(BW_MAX_ADDRS) +
                        ") or skipped sources (max " + std::to_string(BW_MAX_SKIP) + ")");
    }
    using Keys = std::vector<std::vector<unsigned char>>;
    auto bytes = [](const auto& k) {
      const auto* p = reinterpret_cast<const unsigned char*>(&k);
      return std::vector<unsigned char>(p, p + sizeof k);
    };
    Keys ports, pods4, pods6, skip4, skip6;
    for (uint16_t p : c.ports) {
      ports.push_back(bytes(static_cast<__u16>(p)));
    }
    for (const auto& a : c.podAddresses) {
      if (a.family == Family::V4) {
        __u32 k;
        std::memcpy(&k, a.addr.data(), 4);
        pods4.push_back(bytes(k));
      } else {
        bw_addr6 k{};
        std::memcpy(k.addr, a.addr.data(), 16);
        pods6.push_back(bytes(k));
      }
    }
    for (const auto& a : c.skipSources) {
      if (a.family == Family::V4) {
        bw_lpm4 k{};
        k.prefixlen = a.prefix;
        std::memcpy(&k.addr, a.addr.data(), 4);
        skip4.push_back(bytes(k));
      } else {
        bw_lpm6 k{};
        k.prefixlen = a.prefix;
        std::memcpy(k.addr, a.addr.data(), 16);
        skip6.push_back(bytes(k));
      }
    }
    // Each map: add what is wanted first, then delete what is not, so a connection never
    // meets a map that lacks an entry both the old and the new configuration have.
    const std::pair<bpf_map*, const Keys*> maps[] = {
        {skel_->maps.bw_ports, &ports},   {skel_->maps.bw_pod_addrs4, &pods4},
        {skel_->maps.bw_pod_addrs6, &pods6}, {skel_->maps.bw_skip4, &skip4},
        {skel_->maps.bw_skip6, &skip6}};
    for (const auto& [map, want] : maps) {
      if (auto st = syncMap(bpf_map__fd(map), bpf_map__key_size(map), *want); !st) {
        return tl::unexpected(std::move(st.error()).wrap(bpf_map__name(map)));
      }
    }
    bw_config cfg{};
    cfg.flags = BW_CFG_CONFIGURED | (c.failClosed ? BW_CFG_FAIL_CLOSED : 0) |
                (c.allPorts ? BW_CFG_ALL_PORTS : 0) | (c.anyAddress ? BW_CFG_ANY_ADDR : 0) |
                (c.ipv4 ? BW_CFG_V4 : 0) | (c.ipv6 ? BW_CFG_V6 : 0);
    cfg.proxy_port = c.proxyPort;
    __u32 zero = 0;
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.bw_config), &zero, &cfg, BPF_ANY) != 0) {
      return BW_ERR(errnoCode(errno), "ebpf: bw_config update");
    }
    return {};
  }

  Result<EbpfConfig> readConfig() override {
    __u32 zero = 0;
    bw_config cfg{};
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.bw_config), &zero, &cfg) != 0) {
      return BW_ERR(errnoCode(errno), "ebpf: bw_config lookup");
    }
    EbpfConfig c;
    c.failClosed = (cfg.flags & BW_CFG_FAIL_CLOSED) != 0;
    c.allPorts = (cfg.flags & BW_CFG_ALL_PORTS) != 0;
    c.anyAddress = (cfg.flags & BW_CFG_ANY_ADDR) != 0;
    c.ipv4 = (cfg.flags & BW_CFG_V4) != 0;
    c.ipv6 = (cfg.flags & BW_CFG_V6) != 0;
    c.proxyPort = static_cast<uint16_t>(cfg.proxy_port);
    Status st = eachKey(bpf_map__fd(skel_->maps.bw_ports), sizeof(__u16),
                        [&](const unsigned char* k) {
                          __u16 p;
                          std::memcpy(&p, k, sizeof p);
                          c.ports.push_back(p);
                        });
    if (st) {
      st = eachKey(bpf_map__fd(skel_->maps.bw_pod_addrs4), sizeof(__u32),
                   [&](const unsigned char* k) { c.podAddresses.push_back(cidrOf(Family::V4, k, 32)); });
    }
    if (st) {
      st = eachKey(bpf_map__fd(skel_->maps.bw_pod_addrs6), sizeof(bw_addr6),
                   [&](const unsigned char* k) {
                     c.podAddresses.push_back(cidrOf(Family::V6, k, 128));
                   });
    }
    if (st) {
      st = eachKey(bpf_map__fd(skel_->maps.bw_skip4), sizeof(bw_lpm4),
                   [&](const unsigned char* k) {
                     bw_lpm4 key;
                     std::memcpy(&key, k, sizeof key);
                     c.skipSources.push_back(
                         cidrOf(Family::V4, &key.addr, static_cast<uint8_t>(key.prefixlen)));
                   });
    }
    if (st) {
      st = eachKey(bpf_map__fd(skel_->maps.bw_skip6), sizeof(bw_lpm6),
                   [&](const unsigned char* k) {
                     bw_lpm6 key;
                     std::memcpy(&key, k, sizeof key);
                     c.skipSources.push_back(
                         cidrOf(Family::V6, key.addr, static_cast<uint8_t>(key.prefixlen)));
                   });
    }
    if (!st) {
      return tl::unexpected(st.error());
    }
    std::sort(c.ports.begin(), c.ports.end());
    std::sort(c.podAddresses.begin(), c.podAddresses.end());
    std::sort(c.skipSources.begin(), c.skipSources.end());
    return c;
  }

  Status attach(int netnsFd) override {
    if (link_ != nullptr) {
      return {};
    }
    bpf_link* l = bpf_program__attach_netns(skel_->progs.bw_steer, netnsFd);
    if (l == nullptr) {
      return BW_ERR(errnoCode(errno), "ebpf: attach sk_lookup to the network namespace");
    }
    link_ = l;
    return {};
  }

  bool attached() const override { return link_ != nullptr; }

  int linkFd() const override { return link_ != nullptr ? bpf_link__fd(link_) : -1; }

  Status detach() override {
    if (link_ == nullptr) {
      return {};
    }
    if (bpf_link__detach(link_) != 0) {
      return BW_ERR(errnoCode(errno), "ebpf: detach the sk_lookup link");
    }
    bpf_link__destroy(link_);
    link_ = nullptr;
    return {};
  }

  Status setListener(int fd, Family family) override {
    int domain = 0, type = 0, listening = 0;
    socklen_t len = sizeof(int);
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
        ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) {
      return BW_ERR(errnoCode(errno), "ebpf: not a socket");
    }
    const int want = family == Family::V4 ? AF_INET : AF_INET6;
    if (domain != want || type != SOCK_STREAM || !listening) {
      return BW_ERR(errnoCode(EINVAL), "ebpf: not a listening TCP socket of family " +
                                           std::string(familyName(family)));
    }
    __u32 key = family == Family::V4 ? BW_SOCK_V4 : BW_SOCK_V6;
    __u64 value = static_cast<__u64>(fd);
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.bw_proxy_socks), &key, &value, BPF_ANY) !=
        0) {
      return BW_ERR(errnoCode(errno), "ebpf: insert the proxy socket into bw_proxy_socks");
    }
    return {};
  }

  bool hasListener(Family family) override {
    __u32 key = family == Family::V4 ? BW_SOCK_V4 : BW_SOCK_V6;
    __u64 cookie = 0;
    return bpf_map_lookup_elem(bpf_map__fd(skel_->maps.bw_proxy_socks), &key, &cookie) == 0;
  }

  Result<std::vector<uint64_t>> counters() override {
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) {
      return BW_ERR(errnoCode(-cpus), "ebpf: number of possible CPUs");
    }
    std::vector<uint64_t> out(BW_R_MAX, 0);
    std::vector<__u64> per(static_cast<size_t>(cpus));
    for (__u32 r = 0; r < BW_R_MAX; ++r) {
      if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.bw_stats), &r, per.data()) != 0) {
        return BW_ERR(errnoCode(errno), "ebpf: bw_stats lookup");
      }
      for (auto v : per) {
        out[r] += v;
      }
    }
    return out;
  }

  Result<SteerInfo> info() override {
    SteerInfo s;
    bpf_prog_info pi{};
    __u32 len = sizeof(pi);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(skel_->progs.bw_steer), &pi, &len) != 0) {
      return BW_ERR(errnoCode(errno), "ebpf: program info");
    }
    s.progId = pi.id;
    s.progTag = hexTag(pi.tag);
    if (link_ != nullptr) {
      bpf_link_info li{};
      len = sizeof(li);
      if (bpf_obj_get_info_by_fd(bpf_link__fd(link_), &li, &len) != 0) {
        return BW_ERR(errnoCode(errno), "ebpf: link info");
      }
      s.linkId = li.id;
    }
    auto socks = objId(bpf_map__fd(skel_->maps.bw_proxy_socks), "bw_proxy_socks");
    auto stats = objId(bpf_map__fd(skel_->maps.bw_stats), "bw_stats");
    auto config = objId(bpf_map__fd(skel_->maps.bw_config), "bw_config");
    if (!socks || !stats || !config) {
      return tl::unexpected(!socks ? socks.error() : !stats ? stats.error() : config.error());
    }
    s.socksMapId = *socks;
    s.statsMapId = *stats;
    s.configMapId = *config;
    return s;
  }

  Result<SkLookupResult> testRun(const SkLookupInput& in) override {
    auto local = Cidr::parse(in.local);
    auto remote = Cidr::parse(in.remote);
    if (!local || !remote || local->family != in.family || remote->family != in.family) {
      return BW_INVALID("testRun: addresses must be literals of the lookup's family");
    }
    bpf_sk_lookup ctx{};
    ctx.family = in.family == Family::V4 ? AF_INET : AF_INET6;
    ctx.protocol = in.protocol;
    ctx.remote_port = htons(in.remotePort);
    ctx.local_port = in.localPort;
    if (in.family == Family::V4) {
      std::memcpy(&ctx.remote_ip4, remote->addr.data(), 4);
      std::memcpy(&ctx.local_ip4, local->addr.data(), 4);
    } else {
      std::memcpy(ctx.remote_ip6, remote->addr.data(), 16);
      std::memcpy(ctx.local_ip6, local->addr.data(), 16);
    }
    bpf_sk_lookup out{};
    bpf_test_run_opts opts{}; // LIBBPF_OPTS is a C compound literal; fill it by hand
    opts.sz = sizeof(opts);
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
    opts.ctx_out = &out;
    opts.ctx_size_out = sizeof(out);
    if (bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.bw_steer), &opts) != 0) {
      return BW_ERR(errnoCode(errno), "ebpf: BPF_PROG_TEST_RUN");
    }
    return SkLookupResult{static_cast<int>(opts.retval), out.cookie};
  }

private:
  bw_steer_bpf* skel_;
  bpf_link* link_ = nullptr;
};

} // namespace

Result<SteeringPtr> loadSteering() {
  installPrint();
  bw_steer_bpf* skel = bw_steer_bpf__open();
  if (skel == nullptr) {
    return BW_ERR(errnoCode(errno), "ebpf: open the BPF object");
  }
  if (bw_steer_bpf__load(skel) != 0) {
    const int e = errno;
    bw_steer_bpf__destroy(skel);
    return BW_ERR(errnoCode(e), "ebpf: load the sk_lookup program (needs CAP_BPF and "
                                "CAP_NET_ADMIN; the verifier log is at --log-level debug)");
  }
  return SteeringPtr(new SkeletonSteering(skel));
}

Result<std::string> expectedProgTag() {
  auto s = loadSteering();
  if (!s) {
    return tl::unexpected(s.error());
  }
  auto i = (*s)->info();
  if (!i) {
    return tl::unexpected(i.error());
  }
  return i->progTag;
}

Result<std::vector<uint32_t>> queryNetnsSkLookup(int netnsFd) {
  __u32 ids[64] = {};
  __u32 count = 64;
  __u32 flags = 0;
  if (bpf_prog_query(netnsFd, BPF_SK_LOOKUP, 0, &flags, ids, &count) != 0) {
    return BW_ERR(errnoCode(errno), "ebpf: query the network namespace's sk_lookup programs");
  }
  return std::vector<uint32_t>(ids, ids + std::min<__u32>(count, 64));
}

bool ebpfInBuild() { return true; }

EbpfFeatures probeEbpf() {
  installPrint();
  EbpfFeatures f;
  f.built = true;
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    f.btf = BW_ERR(errnoCode(errno), "no kernel BTF (/sys/kernel/btf/vmlinux)");
  }
  // bpf_capable(): CAP_BPF, or CAP_SYS_ADMIN on kernels before it existed.
  if (!hasCap(kCapBpf) && !hasCap(CAP_SYS_ADMIN)) {
    f.capBpf = BW_ERR(errnoCode(EPERM), "CAP_BPF missing");
  }
  if (!hasCap(CAP_NET_ADMIN)) {
    f.capNetAdmin = BW_ERR(errnoCode(EPERM), "CAP_NET_ADMIN missing");
  }
  if (!f.capBpf || !f.capNetAdmin) {
    const auto why = std::make_error_code(std::errc::operation_not_permitted);
    f.progType = BW_ERR(why, "sk_lookup program type not probed (capabilities missing)");
    f.skAssign = BW_ERR(why, "bpf_sk_assign not probed (capabilities missing)");
    return f;
  }
  if (const int e = bpfSyscallRefused(); e != 0) {
    f.progType = BW_ERR(errnoCode(e), bpfRefusedWhy(e));
    f.skAssign = BW_ERR(errnoCode(e), "bpf_sk_assign not probed (bpf() refused)");
    return f;
  }
  const int t = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SK_LOOKUP, nullptr);
  if (t != 1) {
    f.progType = BW_ERR(errnoCode(t < 0 ? -t : EOPNOTSUPP),
                        "the kernel does not load BPF_PROG_TYPE_SK_LOOKUP programs");
    f.skAssign = BW_ERR(errnoCode(EOPNOTSUPP), "bpf_sk_assign not probed (no sk_lookup)");
    return f;
  }
  const int h = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SK_LOOKUP, BPF_FUNC_sk_assign, nullptr);
  if (h != 1) {
    f.skAssign = BW_ERR(errnoCode(h < 0 ? -h : EOPNOTSUPP),
                        "bpf_sk_assign is not available to sk_lookup programs");
  }
  return f;
}

#else // no BPF toolchain at build time

Result<SteeringPtr> loadSteering() {
  return BW_ERR(std::make_error_code(std::errc::not_supported),
                "ebpf: this build has no BPF program (built without clang/bpftool/libbpf)");
}

Result<std::string> expectedProgTag() {
  return BW_ERR(std::make_error_code(std::errc::not_supported), "ebpf: not in this build");
}

Result<std::vector<uint32_t>> queryNetnsSkLookup(int) {
  return BW_ERR(std::make_error_code(std::errc::not_supported), "ebpf: not in this build");
}

bool ebpfInBuild() { return false; }

EbpfFeatures probeEbpf() {
  EbpfFeatures f;
  f.built = false;
  (void)hasCap;
  (void)seccompMode;
  (void)bpfSyscallRefused;
  return f;
}

#endif

} // namespace bulwark::capture

#pragma once

// eBPF capture: an sk_lookup program (bpf/bw_sk_lookup.bpf.c) attached to the pod's network
// namespace hands new connections for the app ports to the proxy's listening socket, no NAT.
//
// Privilege separation: `bulwark-init hold` (CAP_BPF + CAP_NET_ADMIN) loads and attaches the
// program, owns the link and the socket map, and receives the proxy's listening sockets over a
// Unix socket (SCM_RIGHTS). The init step (`apply|verify|cleanup --mode ebpf`) talks to the
// holder through HolderClient; the holder's kernel side is Steering.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bulwark/capture/apply.h"
#include "bulwark/capture/plan.h"
#include "bulwark/common/fdpass.h"
#include "bulwark/common/result.h"

namespace bulwark::capture {

// ---- the configuration the program reads (pure data) ----------------------------------------

struct EbpfConfig {
  bool failClosed = true; // no proxy socket: SK_DROP (refused) instead of SK_PASS (to the app)
  bool allPorts = false;  // ports = excluded ports (else the captured ones)
  bool anyAddress = true; // podAddresses empty: every local address
  bool ipv4 = true;
  bool ipv6 = true;
  uint16_t proxyPort = names::kProxyPort;
  std::vector<uint16_t> ports;    // sorted
  std::vector<Cidr> podAddresses; // host prefixes, sorted
  std::vector<Cidr> skipSources;  // 127.0.0.6 and excluded client ranges, sorted
  bool operator==(const EbpfConfig&) const = default;
};

[[nodiscard]] EbpfConfig ebpfConfig(const Plan& plan, bool failClosed);

// Deterministic text (the dry run, and what verify diffs).
[[nodiscard]] std::string renderEbpf(const EbpfConfig& cfg);

// JSON form for the holder protocol.
[[nodiscard]] std::string ebpfConfigToJson(const EbpfConfig& cfg);
[[nodiscard]] Result<EbpfConfig> ebpfConfigFromJson(std::string_view text);

// The reason labels of the program's counters, in map-index order (bpf/include/bw_reasons.h).
const std::vector<std::string_view>& ebpfReasonLabels();

// ---- feature probe ----------------------------------------------------------------------------

// What eBPF steering needs, each probed (never inferred from the kernel version).
struct EbpfFeatures {
  bool built = false;   // this binary has the BPF object
  Status btf;           // /sys/kernel/btf/vmlinux readable
  Status capBpf;        // CAP_BPF (or CAP_SYS_ADMIN) effective
  Status capNetAdmin;   // CAP_NET_ADMIN effective
  Status progType;      // BPF_PROG_TYPE_SK_LOOKUP loads
  Status skAssign;      // bpf_sk_assign callable from it
  // Empty when everything is there, else one line naming what is missing.
  std::string missing() const;
};

[[nodiscard]] EbpfFeatures probeEbpf();

// Whether this build carries the BPF program (clang, bpftool and libbpf were there).
bool ebpfInBuild();

// ---- the holder's kernel side (libbpf skeleton, RAII) ----------------------------------------

struct SteerInfo {
  uint32_t progId = 0;
  std::string progTag; // 16 hex digits
  uint32_t linkId = 0;
  uint32_t socksMapId = 0;
  uint32_t statsMapId = 0;
  uint32_t configMapId = 0;
};

// One lookup for BPF_PROG_TEST_RUN (the program's behaviour, checked without traffic).
struct SkLookupInput {
  Family family = Family::V4;
  uint8_t protocol = 6; // IPPROTO_TCP
  std::string remote;   // address literal
  uint16_t remotePort = 40000;
  std::string local;
  uint16_t localPort = 0;
};

struct SkLookupResult {
  int verdict = -1;    // SK_DROP 0, SK_PASS 1
  uint64_t cookie = 0; // SO_COOKIE of the selected socket, 0 when none
};

class Steering {
public:
  virtual ~Steering() = default;
  // Writes the whole configuration (maps first, the config word last).
  virtual Status configure(const EbpfConfig& cfg) = 0;
  // The configuration as the kernel's maps hold it now.
  virtual Result<EbpfConfig> readConfig() = 0;
  // Attaches to the network namespace behind `netnsFd` (bpf_link); idempotent.
  virtual Status attach(int netnsFd) = 0;
  virtual bool attached() const = 0;
  // The link's descriptor (-1 when not attached): the holder hands a duplicate to the proxy,
  // whose reference keeps steering alive if the holder dies.
  virtual int linkFd() const = 0;
  // Detaches the link even where other processes still hold references to it (cleanup).
  virtual Status detach() = 0;
  // Inserts a listening TCP socket into its family's slot (replacing the previous one).
  virtual Status setListener(int fd, Family family) = 0;
  virtual bool hasListener(Family family) = 0;
  // Per-reason counters summed over CPUs, index = reason (ebpfReasonLabels()).
  virtual Result<std::vector<uint64_t>> counters() = 0;
  virtual Result<SteerInfo> info() = 0;
  // Runs the program once on a synthetic lookup (BPF_PROG_TEST_RUN); counters move as for a
  // real one.
  virtual Result<SkLookupResult> testRun(const SkLookupInput& in) = 0;
};
using SteeringPtr = std::unique_ptr<Steering>;

// Opens and loads the program (nothing attached yet). Needs CAP_BPF + CAP_NET_ADMIN.
[[nodiscard]] Result<SteeringPtr> loadSteering();

// The tag the kernel computes for the program this binary carries (loads it, attaches nothing).
[[nodiscard]] Result<std::string> expectedProgTag();

// Program ids attached for sk_lookup to the network namespace behind `netnsFd`.
[[nodiscard]] Result<std::vector<uint32_t>> queryNetnsSkLookup(int netnsFd);

// ---- talking to the holder ------------------------------------------------------------------

struct HolderStatus {
  bool attached = false;
  SteerInfo info;
  std::optional<EbpfConfig> config; // as read back from the kernel's maps
  bool listenerV4 = false;
  bool listenerV6 = false;
  uint64_t handoffs = 0;
  std::vector<std::pair<std::string, uint64_t>> counters; // reason label, count
};

class HolderClient {
public:
  virtual ~HolderClient() = default;
  // nullopt: no holder answers (not running).
  virtual Result<std::optional<HolderStatus>> status() = 0;
  virtual Result<ApplyReport> apply(const EbpfConfig& cfg) = 0;
  virtual Result<ApplyReport> cleanup() = 0;
};
using HolderClientPtr = std::unique_ptr<HolderClient>;

// Over the holder's control socket (`<run dir>/control.sock`); waits up to `wait` for it to
// appear (the holder sidecar may still be starting).
HolderClientPtr makeHolderClient(std::string controlPath, std::chrono::milliseconds wait);

// Checks what verify needs from the kernel itself (not the holder's word).
class EbpfKernel {
public:
  virtual ~EbpfKernel() = default;
  virtual Result<std::vector<uint32_t>> attachedPrograms() = 0; // this netns, sk_lookup
  virtual Result<std::string> expectedTag() = 0;
};
using EbpfKernelPtr = std::unique_ptr<EbpfKernel>;
EbpfKernelPtr makeEbpfKernel();

ApplierPtr makeEbpfApplier(HolderClient& holder, EbpfKernel& kernel, bool failClosed);

// ---- holder protocol (JSON, one SOCK_SEQPACKET message each way) ------------------------------

inline constexpr std::string_view kSteerSocketName = "steer.sock";     // proxy: handoff, status
inline constexpr std::string_view kControlSocketName = "control.sock"; // init: apply, cleanup
[[nodiscard]] std::string statusToJson(const HolderStatus& s);
[[nodiscard]] Result<HolderStatus> statusFromJson(std::string_view text);
// Prometheus text of the holder's counters (bulwark_ebpf_*).
[[nodiscard]] std::string renderEbpfMetrics(const HolderStatus& s);

} // namespace bulwark::capture

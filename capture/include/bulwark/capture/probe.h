#pragma once

// What the kernel and this process allow, and the capture mode that follows from it.

#include <optional>
#include <string>
#include <string_view>

#include "bulwark/capture/apply.h"
#include "bulwark/capture/ebpf.h"
#include "bulwark/capture/ops.h"
#include "bulwark/common/result.h"

namespace bulwark::capture {

enum class Mode : uint8_t { Auto, Ebpf, Nftables, Iptables, Nfqueue, None };

std::string_view modeName(Mode m);
Result<Mode> parseMode(std::string_view text);

// The modes this build can apply, as "auto|ebpf|nftables|iptables|none" (ebpf only where the
// BPF program is built in; nfqueue is parsed but never built): what --help offers.
std::string modeChoices();

// Whether CAP_NET_ADMIN (or capability number `cap`) is in this process's effective set
// (capget(2); no libcap).
bool hasCapNetAdmin();
bool hasEffectiveCap(unsigned cap);

struct BackendChoice {
  IptablesBackend backend = IptablesBackend::Nft;
  std::string why;
};

// Which iptables backend the node uses: the one that already holds more rules (v4 + v6 nat,
// filter, mangle, raw: what the *-save tools print), as istio and linkerd decide; on a tie the
// backend `iptables` itself links to; else whichever tools are installed.
Result<BackendChoice> detectIptablesBackend(CommandRunner& runner);

struct ProbeResult {
  bool netAdmin = false;
  Status nftables;                      // why nftables cannot be used, when it cannot
  Result<BackendChoice> iptables = BackendChoice{}; // error: why iptables cannot be used
  EbpfFeatures ebpf;                    // default: not built, nothing probed
  bool ebpfHolder = false;              // a `bulwark-init hold` answers on its control socket
  std::string ebpfHolderWhy = "not probed";
};

struct ModeChoice {
  Mode mode = Mode::None;
  std::string why;
  std::optional<IptablesBackend> backend; // iptables mode
};

// `forcedBackend` skips backend detection (--iptables-backend legacy|nft).
ProbeResult probeEnvironment(NetlinkOps& nl, CommandRunner& runner,
                             std::optional<IptablesBackend> forcedBackend);

// The mode to use for `requested`. An error is one line naming what is missing and what works
// instead (always `--mode none` and the proxy port).
Result<ModeChoice> chooseMode(Mode requested, const ProbeResult& probe);

// The one-line hint appended to capture errors.
std::string noCaptureHint();

} // namespace bulwark::capture

#include "bulwark/capture/probe.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>

#include "bulwark/common/names.h"

namespace bulwark::capture {
namespace {

constexpr std::array<std::pair<Mode, std::string_view>, 6> kModes = {{{Mode::Auto, "auto"},
                                                                      {Mode::Ebpf, "ebpf"},
                                                                      {Mode::Nftables, "nftables"},
                                                                      {Mode::Iptables, "iptables"},
                                                                      {Mode::Nfqueue, "nfqueue"},
                                                                      {Mode::None, "none"}}};

// Rules of every table in a *-save dump ("-A" lines).
size_t countRules(std::string_view text) {
  size_t n = 0;
  size_t pos = 0;
  while ((pos = text.find("\n-A ", pos)) != std::string_view::npos) {
    ++n;
    pos += 4;
  }
  return n + (text.substr(0, 3) == "-A " ? 1 : 0);
}

} // namespace

std::string_view modeName(Mode m) {
  for (const auto& [mode, name] : kModes) {
    if (mode == m) {
      return name;
    }
  }
  return "?";
}

Result<Mode> parseMode(std::string_view text) {
  for (const auto& [mode, name] : kModes) {
    if (name == text) {
      return mode;
    }
  }
  return BW_INVALID("unknown capture mode '" + std::string(text) + "' (" + modeChoices() + ")");
}

std::string modeChoices() {
  std::string out;
  for (const auto& [mode, name] : kModes) {
    if (mode == Mode::Nfqueue || (mode == Mode::Ebpf && !ebpfInBuild())) {
      continue; // not in this build: never offered (still parsed, for a clear error)
    }
    out += (out.empty() ? "" : "|") + std::string(name);
  }
  return out;
}

bool hasEffectiveCap(unsigned cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (cap >= 64 || ::syscall(SYS_capget, &hdr, data) != 0) {
    return false;
  }
  return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

bool hasCapNetAdmin() { return hasEffectiveCap(CAP_NET_ADMIN); }

std::string noCaptureHint() {
  return "grant NET_ADMIN to the init container, or use --mode none and send clients to the "
         "proxy port " +
         std::to_string(names::kProxyPort) + " (container port '" +
         std::string(names::kProxyPortName) + "')";
}

Result<BackendChoice> detectIptablesBackend(CommandRunner& runner) {
  struct Seen {
    IptablesBackend backend;
    bool present = false;
    size_t rules = 0;
  };
  Seen seen[] = {{IptablesBackend::Legacy}, {IptablesBackend::Nft}};
  for (auto& s : seen) {
    const auto v4 = iptablesTool(s.backend, Family::V4, "save");
    if (!runner.available(v4) || !runner.available(iptablesTool(s.backend, Family::V4,
                                                                "restore"))) {
      continue;
    }
    s.present = true;
    for (auto f : {Family::V4, Family::V6}) {
      auto res = runner.run({iptablesTool(s.backend, f, "save")}, {});
      if (res && res->exitCode == 0) {
        s.rules += countRules(res->out);
      }
    }
  }
  auto& legacy = seen[0];
  auto& nft = seen[1];
  if (!legacy.present && !nft.present) {
    return BW_ERR(errnoCode(ENOENT), "no iptables tools (iptables-legacy-restore or "
                                     "iptables-nft-restore) found in PATH");
  }
  auto counts = "legacy " + std::to_string(legacy.rules) + " rules, nft " +
                std::to_string(nft.rules) + " rules";
  if (legacy.present && nft.present && legacy.rules != nft.rules) {
    const auto& win = legacy.rules > nft.rules ? legacy : nft;
    return BackendChoice{win.backend, "the node's rules are there (" + counts + ")"};
  }
  if (legacy.present && nft.present) {
    auto res = runner.run({"iptables", "--version"}, {});
    if (res && res->exitCode == 0 && res->out.find("legacy") != std::string::npos) {
      return BackendChoice{IptablesBackend::Legacy, "no rules yet (" + counts +
                                                        "); `iptables` is the legacy one"};
    }
    return BackendChoice{IptablesBackend::Nft,
                         "no rules yet (" + counts + "); nft is the default backend"};
  }
  const auto& only = legacy.present ? legacy : nft;
  return BackendChoice{only.backend, "only the " + std::string(backendName(only.backend)) +
                                         " tools are installed"};
}

ProbeResult probeEnvironment(NetlinkOps& nl, CommandRunner& runner,
                             std::optional<IptablesBackend> forcedBackend) {
  ProbeResult p;
  p.netAdmin = hasCapNetAdmin();
  p.nftables = nl.probe();
  if (forcedBackend) {
    const auto tool = iptablesTool(*forcedBackend, Family::V4, "restore");
    if (runner.available(tool)) {
      p.iptables = BackendChoice{*forcedBackend, "requested with --iptables-backend"};
    } else {
      p.iptables = BW_ERR(errnoCode(ENOENT), tool + " not found in PATH");
    }
  } else {
    p.iptables = detectIptablesBackend(runner);
  }
  return p;
}

Result<ModeChoice> chooseMode(Mode requested, const ProbeResult& probe) {
  switch (requested) {
  case Mode::None:
    return ModeChoice{Mode::None, "requested: no capture, clients use the proxy port", {}};
  case Mode::Ebpf:
    if (auto miss = probe.ebpf.missing(); !miss.empty()) {
      const bool perm = probe.ebpf.built && (!probe.ebpf.capBpf || !probe.ebpf.capNetAdmin);
      return BW_ERR(perm ? errnoCode(EPERM) : std::make_error_code(std::errc::not_supported),
                    "ebpf capture unavailable: " + miss +
                        "; grant BPF and NET_ADMIN, or use --mode nftables|iptables, or "
                        "--mode none and send clients to the proxy port " +
                        std::to_string(names::kProxyPort));
    }
    return ModeChoice{Mode::Ebpf, "requested", {}};
  case Mode::Nfqueue:
    return BW_ERR(std::make_error_code(std::errc::not_supported),
                  "--mode " + std::string(modeName(requested)) +
                      " is not available in this build; use --mode nftables or iptables, or "
                      "--mode none and send clients to the proxy port " +
                      std::to_string(names::kProxyPort));
  default:
    break;
  }
  if (!probe.netAdmin) {
    return BW_ERR(errnoCode(EPERM),
                  "capture (" + std::string(modeName(requested)) +
                      ") needs CAP_NET_ADMIN, which this process lacks; " + noCaptureHint());
  }
  if (requested == Mode::Nftables) {
    if (!probe.nftables) {
      return BW_ERR(probe.nftables.error().code(),
                    "nftables unavailable: " + probe.nftables.error().describe() +
                        "; try --mode iptables, or " + noCaptureHint());
    }
    return ModeChoice{Mode::Nftables, "requested", {}};
  }
  if (requested == Mode::Iptables) {
    if (!probe.iptables) {
      return BW_ERR(probe.iptables.error().code(),
                    "iptables unavailable: " + probe.iptables.error().describe() +
                        "; try --mode nftables, or " + noCaptureHint());
    }
    return ModeChoice{Mode::Iptables, "requested; backend " +
                                          std::string(backendName(probe.iptables->backend)) +
                                          ": " + probe.iptables->why,
                      probe.iptables->backend};
  }
  // auto: eBPF when every feature probe passed and a holder answers; nftables, else iptables.
  std::string noEbpf = probe.ebpf.missing();
  if (noEbpf.empty() && probe.ebpfHolder) {
    return ModeChoice{Mode::Ebpf,
                      "auto: kernel BTF, sk_lookup programs, bpf_sk_assign, CAP_BPF and "
                      "CAP_NET_ADMIN present and the eBPF holder answers",
                      {}};
  }
  if (noEbpf.empty()) {
    noEbpf = "no eBPF holder: " + probe.ebpfHolderWhy;
  }
  if (probe.nftables) {
    return ModeChoice{Mode::Nftables, "auto: eBPF unavailable (" + noEbpf +
                                          "); nf_tables answers netlink",
                      {}};
  }
  if (probe.iptables) {
    return ModeChoice{Mode::Iptables,
                      "auto: eBPF unavailable (" + noEbpf + "); nftables unavailable (" +
                          probe.nftables.error().describe() + "); iptables " +
                          std::string(backendName(probe.iptables->backend)) + ": " +
                          probe.iptables->why,
                      probe.iptables->backend};
  }
  return BW_ERR(probe.nftables.error().code(),
                "no capture mode works here: nftables: " + probe.nftables.error().describe() +
                    "; iptables: " + probe.iptables.error().describe() + "; " + noCaptureHint());
}

} // namespace bulwark::capture

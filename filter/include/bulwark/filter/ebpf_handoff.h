#pragma once

// eBPF capture, proxy side: hands the proxy's listening sockets to the privileged holder
// (`bulwark-init hold`) over its Unix socket, so the holder's sk_lookup program can steer the
// pod's inbound connections to them. The proxy needs no BPF capability for this.

#include <memory>
#include <string>
#include <vector>

namespace bulwark::filter {

class EbpfHandoff {
public:
  virtual ~EbpfHandoff() = default;
  // The holder's counters as Prometheus text (empty when the holder does not answer quickly).
  virtual std::string metrics() = 0;
};
using EbpfHandoffPtr = std::unique_ptr<EbpfHandoff>;

// Connects to `socketPath` and sends `listenerFds` (one per listen address; the holder keeps
// one per family) in the background: retries with backoff (50 ms doubling to 2 s) while the
// holder is not up, sends again whenever the holder restarts or asks for it, and stops on
// destruction. Returns null when `socketPath` is empty (hand-off disabled).
EbpfHandoffPtr startEbpfHandoff(const std::string& socketPath, std::vector<int> listenerFds);

} // namespace bulwark::filter

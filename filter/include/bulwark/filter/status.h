#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "bulwark/common/net.h"
#include "bulwark/common/result.h"

namespace bulwark::filter {

// The status server (:10246): /healthz, /readyz, /metrics on a thread of its own, so a busy
// data path never makes the kubelet's probes time out.
class StatusServer {
public:
  struct Hooks {
    std::function<bool()> listening;      // false while draining
    std::function<std::string()> metrics; // Prometheus text
    net::HostPort app;                    // readiness: the app must accept TCP connections
  };

  static Result<std::unique_ptr<StatusServer>> create(const net::HostPort& listen, Hooks hooks);
  ~StatusServer();
  void start();
  void stop();

private:
  struct Impl;
  explicit StatusServer(std::unique_ptr<Impl> impl);
  static void spawnAcceptLoop(Impl& impl);
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

// Whether a TCP connect to `app` succeeds within `timeoutMs` (blocking; status thread only).
bool tcpReachable(const net::HostPort& app, int timeoutMs);

} // namespace bulwark::filter

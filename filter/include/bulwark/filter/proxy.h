#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "bulwark/common/result.h"
#include "bulwark/detect/engine.h"
#include "bulwark/filter/config.h"
#include "bulwark/filter/policy.h"
#include "bulwark/filter/snapshot.h"

namespace bulwark::filter {

class Worker;
class Admission;

// The data path: N worker threads, each with its own io_context, SO_REUSEPORT listen sockets,
// app-connection pool and timeout sweep (no cross-thread state on the hot path).
class ProxyServer {
public:
  // Binds every listen address (errors are returned, nothing is left bound on failure).
  // Requests are handled with the store's current snapshot (policy, engine, limits).
  static Result<std::unique_ptr<ProxyServer>> create(const ProxyConfig& cfg,
                                                     const FilterStore& store);
  ~ProxyServer();
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  void start();
  // Starts the drain window: /readyz fails, listeners stay open, responses carry
  // `Connection: close` and idle keep-alive connections are closed. Thread-safe.
  void beginDrain();
  // Ends the drain window: queued connections are taken, then the listeners close; in-flight
  // requests finish. Thread-safe.
  void stopAccepting();
  bool draining() const { return draining_.load(); }
  // Waits until every client connection has closed or `deadline` passed, then stops the workers.
  void waitDrained(std::chrono::steady_clock::time_point deadline);
  void stop();

  int64_t activeConnections() const;
  // One listening socket per listen address (the first worker's member of each SO_REUSEPORT
  // group), for the eBPF capture's hand-off; owned by the server.
  std::vector<int> listenerFds() const;
  // The client connection cap in force (limits.max_connections or the derived default).
  uint32_t maxConnections() const;
  const ProxyConfig& config() const { return cfg_; }

private:
  ProxyServer(const ProxyConfig& cfg, const FilterStore& store);

  ProxyConfig cfg_;
  const FilterStore& store_;
  std::vector<uint16_t> listenPorts_;
  std::unique_ptr<Admission> admission_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> draining_{false};
};

} // namespace bulwark::filter

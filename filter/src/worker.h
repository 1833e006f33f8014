#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "asio_util.h"
#include "bulwark/filter/config.h"
#include "bulwark/filter/snapshot.h"
#include "bulwark/filter/stats.h"
#include "deadlines.h"
#include "upstream_pool.h"

namespace bulwark::filter {

// The completion of a spawned coroutine. Untrusted bytes never throw by design; an exception
// that still escapes is an internal error: logged with the connection id and counted, and the
// caller closes what it owned. Out of memory aborts loudly: no state is safe to continue from.
void reportEscaped(const std::exception_ptr& e, InternalError where, uint64_t conn);

// The last-resort net of an event-loop thread: an exception that escaped a handler is logged
// and counted, and the loop resumes (asio allows run() again after a handler threw).
void runGuarded(asio::io_context& ctx);

// One thread of the data path: its io_context, SO_REUSEPORT acceptors, app-connection pool and
// the timeout sweep over its connections.
class Worker {
public:
  Worker(const ProxyConfig& cfg, const std::vector<uint16_t>& listenPorts,
         const FilterStore& store)
      : cfg_(cfg), listenPorts_(listenPorts), store_(store),
        pool_(cfg.pool.maxIdlePerThread, cfg.pool.idle), sweepTimer_(ctx_) {}

  // This thread's reference to the current snapshot, refreshed when a reload swapped it.
  const std::shared_ptr<const FilterSnapshot>& snapshot() {
    const uint64_t v = store_.version();
    if (v != version_) {
      snapshot_ = store_.get();
      version_ = v;
    }
    return snapshot_;
  }

  asio::io_context& ctx() { return ctx_; }
  const ProxyConfig& cfg() const { return cfg_; }
  const std::vector<uint16_t>& listenPorts() const { return listenPorts_; }
  UpstreamPool& pool() { return pool_; }
  bool draining() const { return draining_; }
  std::vector<tcp::acceptor>& acceptors() { return acceptors_; }
  void track(Conn& c) { conns_.push_back(c); }

  void start();
  // Runs on the worker thread: accept what is already queued (those clients connected before
  // the drain began and must be served), then close the listen sockets.
  void drain();
  void spawnSession(tcp::socket s);

private:
  void spawnAcceptLoop(tcp::acceptor& a);
  void spawnSweepLoop();
  awaitable<void> acceptLoop(tcp::acceptor& acceptor);
  awaitable<void> sweepLoop();

  asio::io_context ctx_{1};
  const ProxyConfig& cfg_;
  const std::vector<uint16_t>& listenPorts_;
  const FilterStore& store_;
  std::shared_ptr<const FilterSnapshot> snapshot_;
  uint64_t version_ = 0;
  std::vector<tcp::acceptor> acceptors_;
  ConnList conns_;
  UpstreamPool pool_;
  asio::steady_timer sweepTimer_;
  Clock::time_point lastPoolSweep_{};
  bool draining_ = false;
};

} // namespace bulwark::filter

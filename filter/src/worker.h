#pragma once

#include <cstdint>
#include <exception>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
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

// Overload protection shared by the workers: a global cap on client connections and an
// optional cap per source address. A connection is admitted at accept (or closed at once and
// counted); its Conn gives the place back when it is destroyed.
class Admission {
public:
  explicit Admission(uint32_t defaultMax) : defaultMax_(defaultMax) {}
  // Admits `c` from `source` under `lim`, or says which cap refused it.
  std::optional<ConnReject> admit(Conn& c, const asio::ip::address& source, const Limits& lim);
  void release(Conn& c);
  int64_t active() const { return active_.load(std::memory_order_relaxed); }
  uint32_t effectiveMax(const Limits& lim) const {
    return lim.maxConnections != 0 ? lim.maxConnections : defaultMax_;
  }

private:
  struct KeyHash {
    size_t operator()(const std::array<uint8_t, 16>& k) const noexcept;
  };
  const uint32_t defaultMax_;
  std::atomic<int64_t> active_{0};
  std::mutex mu_;
  std::unordered_map<std::array<uint8_t, 16>, uint32_t, KeyHash> perSource_;
};

// The default connection cap: half the open-file limit (each client connection may hold an app
// connection too), less a reserve for listeners, logs and the status server.
uint32_t defaultMaxConnections();

// One thread of the data path: its io_context, SO_REUSEPORT acceptors, app-connection pool and
// the timeout sweep over its connections' deadline wheel.
class Worker {
public:
  Worker(const ProxyConfig& cfg, const std::vector<uint16_t>& listenPorts,
         const FilterStore& store, Admission& admission)
      : cfg_(cfg), listenPorts_(listenPorts), store_(store), admission_(admission),
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
  void track(Conn& c) { wheel_.track(c); }

  // Sessions that keep reading for a moment after a response instead of parking at once (the
  // next keep-alive request usually follows within a round trip). Capped so that a burst of
  // connections that each make one request still parks them, and idle memory stays small.
  bool mayLinger() const { return lingering_ < kMaxLingering; }
  void lingerStarted() { ++lingering_; }
  void lingerEnded() { --lingering_; }

  // Body relay buffers (kBodyBufferSize each) are kept for the next request: allocating and
  // freeing 32 KiB per response costs more than the rest of a small exchange's allocations.
  // At most kSpareBodyBuffers wait here; a burst's others are freed.
  std::unique_ptr<char[]> takeBodyBuffer(size_t size) {
    if (!spareBodyBufs_.empty()) {
      auto b = std::move(spareBodyBufs_.back());
      spareBodyBufs_.pop_back();
      return b;
    }
    return std::make_unique_for_overwrite<char[]>(size);
  }
  void giveBodyBuffer(std::unique_ptr<char[]> b) {
    if (b && spareBodyBufs_.size() < kSpareBodyBuffers) {
      spareBodyBufs_.push_back(std::move(b));
    }
  }

  void start();
  // Runs on the worker thread. The drain window: keep accepting, answer with
  // `Connection: close`, close keep-alive connections once idle.
  void drain();
  // Runs on the worker thread: accept what is already queued (those clients connected before
  // the listeners close and must be served), then close the listen sockets.
  void stopAccepting();

private:
  void spawnAcceptLoop(tcp::acceptor& a);
  void spawnSweepLoop();
  awaitable<void> acceptLoop(tcp::acceptor& acceptor);
  awaitable<void> sweepLoop();
  void admitAndSpawn(tcp::socket s);
  void trimMemory();

  // Declared before ctx_: sessions destroyed with the io_context give their buffers back here.
  static constexpr size_t kSpareBodyBuffers = 16;
  static constexpr uint32_t kMaxLingering = 64;
  uint32_t lingering_ = 0;
  std::vector<std::unique_ptr<char[]>> spareBodyBufs_;
  // Only this thread uses its sockets (other threads post to it): no locking per descriptor.
  asio::io_context ctx_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  const ProxyConfig& cfg_;
  const std::vector<uint16_t>& listenPorts_;
  const FilterStore& store_;
  Admission& admission_;
  std::shared_ptr<const FilterSnapshot> snapshot_;
  uint64_t version_ = 0;
  std::vector<tcp::acceptor> acceptors_;
  DeadlineWheel wheel_;
  UpstreamPool pool_;
  asio::steady_timer sweepTimer_;
  Clock::time_point lastPoolSweep_{};
  bool draining_ = false;
};

} // namespace bulwark::filter

#include "worker.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <malloc.h>
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include "bulwark/common/listener.h"
#include "bulwark/common/log.h"
#include "bulwark/filter/proxy.h"
#include "session.h"

namespace bulwark::filter {
namespace {

using namespace std::chrono_literals;

const log::Logger kLog("proxy");

constexpr auto kSweepInterval = 100ms;
constexpr auto kDrainIdleGrace = 1s;
// Free memory goes back to the system when the connection count has fallen this far from its
// last high-water mark (and to at most half of it): a burst of slow clients must not leave the
// pod at its peak RSS.
constexpr int64_t kTrimAfterDrop = 256;
std::atomic<int64_t> gConnHighWater{0};
std::atomic<bool> gTrimPending{false};
std::atomic<int64_t> gTrimSeen{0}; // the connection count at the last look while a trim waits

std::array<uint8_t, 16> sourceKey(const asio::ip::address& a) {
  if (a.is_v6()) {
    return a.to_v6().to_bytes();
  }
  return asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()).to_bytes();
}

void logEscaped(InternalError where, uint64_t conn, const char* what) {
  stats().internalError(where);
  kLog.error("internal error; connection closed",
             {{"where", std::string(internalErrorName(where))},
              {"conn", std::to_string(conn)},
              {"error", what}});
}

} // namespace

Conn::~Conn() {
  if (admission_ != nullptr) {
    admission_->release(*this);
  }
  if (live_) {
    stats().connectionsActive.sub();
  }
}

size_t Admission::KeyHash::operator()(const std::array<uint8_t, 16>& k) const noexcept {
  uint64_t a = 0;
  uint64_t b = 0;
  std::memcpy(&a, k.data(), 8);
  std::memcpy(&b, k.data() + 8, 8);
  return std::hash<uint64_t>{}(a * 0x9e3779b97f4a7c15ULL ^ b);
}

std::optional<ConnReject> Admission::admit(Conn& c, const asio::ip::address& source,
                                           const Limits& lim) {
  const int64_t max = effectiveMax(lim);
  if (active_.fetch_add(1, std::memory_order_relaxed) >= max) {
    active_.fetch_sub(1, std::memory_order_relaxed);
    return ConnReject::max_connections;
  }
  if (lim.maxConnectionsPerSource != 0) {
    const auto key = sourceKey(source);
    std::lock_guard lock(mu_);
    uint32_t& n = perSource_[key];
    if (n >= lim.maxConnectionsPerSource) {
      if (n == 0) {
        perSource_.erase(key);
      }
      active_.fetch_sub(1, std::memory_order_relaxed);
      return ConnReject::max_connections_per_source;
    }
    ++n;
    c.source_ = key;
    c.sourceCounted_ = true;
  }
  c.admission_ = this;
  return std::nullopt;
}

void Admission::release(Conn& c) {
  active_.fetch_sub(1, std::memory_order_relaxed);
  if (c.sourceCounted_) {
    std::lock_guard lock(mu_);
    auto it = perSource_.find(c.source_);
    if (it != perSource_.end() && --it->second == 0) {
      perSource_.erase(it);
    }
  }
  c.admission_ = nullptr;
}

uint32_t defaultMaxConnections() {
  struct rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return 10000;
  }
  // Use what the hard limit allows: the soft limit is often left at 1024.
  if (rl.rlim_cur < rl.rlim_max) {
    struct rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      rl = raised;
    }
  }
  const uint64_t files = rl.rlim_cur == RLIM_INFINITY ? 2000000 : rl.rlim_cur;
  const uint64_t reserve = 128;
  const uint64_t n = files > 2 * reserve ? (files - reserve) / 2 : 64;
  return static_cast<uint32_t>(std::min<uint64_t>(n, 1000000));
}

void reportEscaped(const std::exception_ptr& e, InternalError where, uint64_t conn) {
  if (!e) {
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "bulwark-proxy: out of memory in %s (connection %llu); aborting\n",
                 std::string(internalErrorName(where)).c_str(),
                 static_cast<unsigned long long>(conn));
    std::abort();
  } catch (const std::exception& x) {
    logEscaped(where, conn, x.what());
  } catch (...) {
    logEscaped(where, conn, "unknown exception");
  }
}

void runGuarded(asio::io_context& ctx) {
  for (;;) {
    try {
      ctx.run();
      return;
    } catch (...) {
      reportEscaped(std::current_exception(), InternalError::worker, 0);
    }
  }
}

void Worker::start() {
  for (auto& a : acceptors_) {
    spawnAcceptLoop(a);
  }
  spawnSweepLoop();
}

void Worker::drain() { draining_ = true; }

void Worker::stopAccepting() {
  draining_ = true;
  for (auto& a : acceptors_) {
    error_code ec;
    a.non_blocking(true, ec);
    for (int i = 0; i < 100000 && !ec; ++i) {
      tcp::socket s(ctx_);
      a.accept(s, ec);
      if (!ec) {
        admitAndSpawn(std::move(s));
      }
    }
    a.close(ec);
  }
}

// A loop that died of an exception is counted and started again: a dead accept loop would
// leave its SO_REUSEPORT socket queueing connections nobody accepts, a dead sweep no timeouts.
void Worker::spawnAcceptLoop(tcp::acceptor& a) {
  asio::co_spawn(ctx_, acceptLoop(a), [this, &a](const std::exception_ptr& e) {
    if (e) {
      reportEscaped(e, InternalError::accept, 0);
      if (a.is_open() && !draining_) {
        spawnAcceptLoop(a);
      }
    }
  });
}

void Worker::spawnSweepLoop() {
  asio::co_spawn(ctx_, sweepLoop(), [this](const std::exception_ptr& e) {
    if (e) {
      reportEscaped(e, InternalError::sweep, 0);
      spawnSweepLoop();
    }
  });
}

awaitable<void> Worker::acceptLoop(tcp::acceptor& acceptor) {
  for (;;) {
    error_code ec;
    tcp::socket s = co_await acceptor.async_accept(BW_EC);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        co_return;
      }
      // EMFILE/ENFILE and friends: back off instead of spinning.
      kLog.warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer t(ctx_, 50ms);
      co_await t.async_wait(BW_EC);
      continue;
    }
    admitAndSpawn(std::move(s));
  }
}

// Past a connection cap the socket is closed at once (no byte read, nothing allocated) and
// counted; the clients already connected keep being served. An admitted connection is parked
// until its first bytes arrive: no session, coroutine or buffer exists for it before.
void Worker::admitAndSpawn(tcp::socket s) {
  error_code ec;
  const auto remote = s.remote_endpoint(ec);
  if (ec) {
    return; // already gone
  }
  const Limits& lim = snapshot()->limits;
  auto conn = ParkedConn::make(*this, std::move(s));
  if (const auto why = admission_.admit(*conn, remote.address(), lim)) {
    stats().connReject(*why);
    conn->closeAll();
    return;
  }
  if (!conn->setUp()) {
    conn->closeAll();
    return;
  }
  track(*conn);
  conn->wait();
}

// Hands free heap pages back to the system once the connection count has dropped well below
// its last high-water mark, when the drop has settled (the count fell no further between two
// sweeps: the closing connections' last buffers are free by then). One worker does it; the
// others see the mark reset.
void Worker::trimMemory() {
  const int64_t active = admission_.active();
  int64_t mark = gConnHighWater.load(std::memory_order_relaxed);
  while (active > mark &&
         !gConnHighWater.compare_exchange_weak(mark, active, std::memory_order_relaxed)) {
  }
  if (mark - active >= kTrimAfterDrop && active <= mark / 2 &&
      gConnHighWater.compare_exchange_strong(mark, active, std::memory_order_relaxed)) {
    gTrimSeen.store(active, std::memory_order_relaxed);
    gTrimPending.store(true, std::memory_order_relaxed);
    return;
  }
  if (gTrimPending.load(std::memory_order_relaxed)) {
    const int64_t seen = gTrimSeen.exchange(active, std::memory_order_relaxed);
    if (active >= seen && gTrimPending.exchange(false, std::memory_order_relaxed)) {
      ::malloc_trim(0);
      stats().memoryTrims.inc();
    }
  }
}

awaitable<void> Worker::sweepLoop() {
  for (;;) {
    error_code ec;
    sweepTimer_.expires_after(kSweepInterval);
    co_await sweepTimer_.async_wait(BW_EC);
    const auto now = Clock::now();
    wheel_.advance(now, [](Conn& c) { c.expire(false); });
    if (draining_) { // the drain window only: every connection is looked at
      wheel_.forEach([&](Conn& c) {
        if (c.idle_ && now - c.idleSince_ >= kDrainIdleGrace) {
          c.expire(true);
        }
      });
    }
    trimMemory();
    if (now - lastPoolSweep_ >= 1s) {
      pool_.sweep(now);
      lastPoolSweep_ = now;
    }
    if (draining_ && wheel_.empty()) {
      pool_.clear();
    }
  }
}

// ---------------------------------------------------------------------------------------------
ProxyServer::ProxyServer(const ProxyConfig& cfg, const FilterStore& store)
    : cfg_(cfg), store_(store) {}

ProxyServer::~ProxyServer() { stop(); }

Result<std::unique_ptr<ProxyServer>> ProxyServer::create(const ProxyConfig& cfg,
                                                        const FilterStore& store) {
  std::unique_ptr<ProxyServer> s(new ProxyServer(cfg, store));
  s->admission_ = std::make_unique<Admission>(defaultMaxConnections());
  stats().maxConnections.set(s->admission_->effectiveMax(store.get()->limits));
  unsigned n = cfg.threads;
  if (n == 0) {
    n = std::max(1u, std::thread::hardware_concurrency());
  }
  std::vector<net::HostPort> listen;
  for (const auto& hp : cfg.listen) {
    if (auto st = net::probeFree(hp); !st) {
      const auto code = st.error().code().value();
      if (hp.v6 && cfg.listenIsDefault && (code == EAFNOSUPPORT || code == EADDRNOTAVAIL)) {
        kLog.warn("IPv6 is not available here; listening on IPv4 only", {{"listen", hp.str()}});
        continue;
      }
      return tl::unexpected(st.error());
    }
    listen.push_back(hp);
    s->listenPorts_.push_back(hp.port);
  }
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(s->cfg_, s->listenPorts_, s->store_, *s->admission_);
    for (const auto& hp : listen) {
      auto a = net::openListener(w->ctx(), hp, {.backlog = 4096, .reusePort = true});
      if (!a) {
        return tl::unexpected(a.error());
      }
      w->acceptors().push_back(std::move(*a));
    }
    s->workers_.push_back(std::move(w));
  }
  return s;
}

void ProxyServer::start() {
  for (auto& w : workers_) {
    w->start();
    threads_.emplace_back([ctx = &w->ctx()] { runGuarded(*ctx); });
  }
}

void ProxyServer::beginDrain() {
  if (draining_.exchange(true)) {
    return;
  }
  stats().draining.set(1);
  for (auto& w : workers_) {
    asio::post(w->ctx(), [w = w.get()] { w->drain(); });
  }
}

std::vector<int> ProxyServer::listenerFds() const {
  std::vector<int> fds;
  if (!workers_.empty()) {
    for (auto& a : workers_.front()->acceptors()) {
      fds.push_back(a.native_handle());
    }
  }
  return fds;
}

void ProxyServer::stopAccepting() {
  beginDrain();
  for (auto& w : workers_) {
    asio::post(w->ctx(), [w = w.get()] { w->stopAccepting(); });
  }
}

int64_t ProxyServer::activeConnections() const { return stats().connectionsActive.value(); }

uint32_t ProxyServer::maxConnections() const {
  return admission_->effectiveMax(store_.get()->limits);
}

void ProxyServer::waitDrained(Clock::time_point deadline) {
  // Give the workers a moment to close their listen sockets before counting.
  std::this_thread::sleep_for(20ms);
  while (Clock::now() < deadline && activeConnections() > 0) {
    std::this_thread::sleep_for(20ms);
  }
}

void ProxyServer::stop() {
  for (auto& w : workers_) {
    w->ctx().stop();
  }
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
}

} // namespace bulwark::filter

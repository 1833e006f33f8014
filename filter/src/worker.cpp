#include "worker.h"

#include <cstdio>
#include <cstdlib>
#include <thread>

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

void logEscaped(InternalError where, uint64_t conn, const char* what) {
  stats().internalError(where);
  kLog.error("internal error; connection closed",
             {{"where", std::string(internalErrorName(where))},
              {"conn", std::to_string(conn)},
              {"error", what}});
}

} // namespace

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

void Worker::drain() {
  draining_ = true;
  for (auto& a : acceptors_) {
    error_code ec;
    a.non_blocking(true, ec);
    for (int i = 0; i < 100000 && !ec; ++i) {
      tcp::socket s(ctx_);
      a.accept(s, ec);
      if (!ec) {
        spawnSession(std::move(s));
      }
    }
    a.close(ec);
  }
}

void Worker::spawnSession(tcp::socket s) {
  auto session = std::make_shared<Session>(*this, std::move(s));
  track(*session);
  asio::co_spawn(ctx_, Session::run(session), [session](const std::exception_ptr& e) {
    reportEscaped(e, InternalError::session, session->id());
    session->closeAll();
  });
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
    spawnSession(std::move(s));
  }
}

awaitable<void> Worker::sweepLoop() {
  for (;;) {
    error_code ec;
    sweepTimer_.expires_after(kSweepInterval);
    co_await sweepTimer_.async_wait(BW_EC);
    const auto now = Clock::now();
    for (auto& c : conns_) {
      if (c.deadline_ <= now) {
        c.expire(false);
      } else if (draining_ && c.idle_ && now - c.idleSince_ >= kDrainIdleGrace) {
        c.expire(true);
      }
    }
    if (now - lastPoolSweep_ >= 1s) {
      pool_.sweep(now);
      lastPoolSweep_ = now;
    }
    if (draining_ && conns_.empty()) {
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
    auto w = std::make_unique<Worker>(s->cfg_, s->listenPorts_, s->store_);
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

int64_t ProxyServer::activeConnections() const { return stats().connectionsActive.value(); }

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

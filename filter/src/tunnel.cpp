#include <array>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/write.hpp>

#include "bulwark/common/log.h"
#include "session.h"

namespace bulwark::filter {
namespace {

const log::Logger kLog("proxy");

} // namespace

// Bidirectional byte relay after a 101 or for a connection that is not HTTP/1.x: one pump per
// direction, the second spawned with a completion handler that closes the session if it fails.
awaitable<void> Session::tunnel() {
  error_code ec;
  arm(TimeoutKind::tunnel, to_.tunnelIdle);
  if (cbuf_.size() > 0) {
    co_await asio::async_write(upstream_, cbuf_.data(), BW_EC);
    cbuf_.consume(cbuf_.size());
    if (ec) {
      co_return;
    }
  }
  if (ubuf_.size() > 0) {
    co_await asio::async_write(client_, ubuf_.data(), BW_EC);
    stats().response_bytes_total.inc(ubuf_.size());
    ubuf_.consume(ubuf_.size());
    if (ec) {
      co_return;
    }
  }
  tunnelDone_.expires_at(Clock::time_point::max());
  otherPumpRunning_ = true;
  asio::co_spawn(w_.ctx(), pumpDetached(shared_from_this()),
                 [self = shared_from_this()](const std::exception_ptr& e) {
                   if (e) {
                     reportEscaped(e, InternalError::tunnel, self->id());
                     self->closeAll();
                     self->otherPumpRunning_ = false;
                     self->tunnelDone_.cancel();
                   }
                 });
  co_await pump(client_, upstream_, true);
  if (otherPumpRunning_) {
    co_await tunnelDone_.async_wait(BW_EC);
  }
}

awaitable<void> Session::pumpDetached(std::shared_ptr<Session> self) {
  co_await self->pump(self->upstream_, self->client_, false);
  self->otherPumpRunning_ = false;
  self->tunnelDone_.cancel();
}

awaitable<void> Session::pump(tcp::socket& from, tcp::socket& to, bool fromClient) {
  std::array<char, 16384> buf;
  error_code ec;
  for (;;) {
    const size_t n = co_await from.async_read_some(asio::buffer(buf), BW_EC);
    if (ec) {
      if (ec == asio::error::eof && !expired_) {
        error_code ignored;
        to.shutdown(tcp::socket::shutdown_send, ignored); // half-close travels on
      } else {
        if (expired_ && kind_ == TimeoutKind::tunnel && !tunnelTimeoutCounted_) {
          tunnelTimeoutCounted_ = true;
          stats().timeout(TimeoutKind::tunnel);
        }
        closeAll();
      }
      co_return;
    }
    (fromClient ? stats().request_bytes_total : stats().response_bytes_total).inc(n);
    arm(TimeoutKind::tunnel, to_.tunnelIdle);
    co_await asio::async_write(to, asio::buffer(buf.data(), n), BW_EC);
    if (ec) {
      closeAll();
      co_return;
    }
    arm(TimeoutKind::tunnel, to_.tunnelIdle);
  }
}

// A connection that is not HTTP/1.x: counted, then tunnelled to the app (non_http: pass) or
// closed.
awaitable<void> Session::passThrough() {
  const Mode mode = snap_->policy->mode;
  if (notHttp_ == Uninspected::http2 &&
      cfg_.http2PriorKnowledge == Http2PriorKnowledge::Refuse &&
      (mode == Mode::Block || mode == Mode::SafeBlocking)) {
    // HTTP/2 cannot be inspected yet: refused rather than tunnelled blind. GOAWAY, last stream
    // 0, error HTTP_1_1_REQUIRED (0xd): a client may retry over HTTP/1.1.
    stats().badRequest(http1::HeadError::Http2PriorKnowledge);
    kLog.info("HTTP/2 prior-knowledge connection refused",
              {{"conn", std::to_string(id_)}, {"client", peerIp_}, {"mode", std::string(modeName(mode))}});
    static constexpr unsigned char kGoaway[] = {
        0, 0, 8, 7, 0, 0, 0, 0, 0, // frame header: length 8, type GOAWAY, flags 0, stream 0
        0, 0, 0, 0,                // last stream id
        0, 0, 0, 0xd};             // error code HTTP_1_1_REQUIRED
    error_code ec;
    arm(TimeoutKind::send, to_.send);
    co_await asio::async_write(client_, asio::buffer(kGoaway), BW_EC);
    co_return;
  }
  stats().uninspected[static_cast<size_t>(notHttp_)].inc();
  if (cfg_.nonHttp == NonHttpAction::Close) {
    kLog.debug("closing a non-HTTP connection", {{"client", peerIp_}});
    co_return;
  }
  bool reused = false;
  // Never a pooled connection: raw bytes need a connection of their own.
  if (co_await connectUpstream(reused, /*allowPool=*/false) != 0) {
    co_return;
  }
  co_await tunnel();
}

} // namespace bulwark::filter

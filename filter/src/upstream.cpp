#include <mutex>

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include "bulwark/common/log.h"
#include "bulwark/filter/forward_headers.h"
#include "reactor_hint.h"
#include "session.h"
#include "session_const.h"

namespace bulwark::filter {
namespace {

const log::Logger kLog("proxy");
// One read of the app's response head (and whatever body bytes come with it).
constexpr size_t kResponseRead = 4096;

bool isHttpError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::need_buffer).category();
}

} // namespace

void Session::appHead(const Exchange& x) {
  const http1::Request& req = req_;
  // The Host of an HTTP/1.0 request without one: the address the client connected to.
  std::string defaultHost;
  if (x.info->authority.empty() && req.find(http::field::host) == nullptr) {
    const auto addr = local_.address();
    defaultHost = (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
                  std::to_string(local_.port());
  }
  requestHeadForApp(req,
                    {.requestId = requestId_,
                     .peerIp = peerIp_,
                     .target = x.info->absoluteForm ? std::string_view(x.info->originTarget)
                                                    : req.target,
                     .defaultHost = defaultHost,
                     .hostOverride = x.info->authority,
                     .chunked = x.info->chunked,
                     .contentLength = x.info->contentLength,
                     .upgrade = x.upgrade},
                    upHead_);
}

// Connect (or reuse), send the head and relay the body; a pooled connection that turns out to
// be dead before any answer is replaced once, when the request can be sent again (no body).
awaitable<bool> Session::forward(Exchange& x) {
  appHead(x);
  const std::string_view upHead = upHead_;
  const bool chunked = x.info->chunked;
  error_code ec;
  // A small body that arrived whole with its head (the common POST) goes out in the head's
  // write, as an inspected prefix does: one send to the app instead of two.
  if (x.hasBody && x.prefixLen == 0 && !chunked && !body_.done() &&
      x.info->contentLength.value_or(0) <= kBodyBufferSize &&
      cbuf_.size() >= x.info->contentLength.value_or(0)) {
    const size_t len = x.info->contentLength.value_or(0);
    if (prefix_.size() < len) {
      prefix_.resize(len);
    }
    const std::span<char> room(prefix_.data(), len);
    BodyOutcome b = BodyOutcome::Done;
    if (!decodeBuffered(room, x.prefixLen, true, b)) {
      b = co_await readBody(room, x.prefixLen, true);
    }
    if (b != BodyOutcome::Done) {
      co_return false; // not reached: the bytes are buffered and a length body cannot fail
    }
  }
  for (int attempt = 0;; ++attempt) {
    // A pooled connection is taken without a coroutine frame; a new one is connected.
    bool reused = takePooled(x.hasBody);
    if (const unsigned st = reused ? 0 : co_await connectUpstream(reused, false, x.hasBody);
        st != 0) {
      co_await sendError(st, st == 504 ? "app connect timeout" : "app unreachable");
      co_return false;
    }
    if (!x.continueSent && x.info->expectContinue && x.hasBody && !x.http10) {
      if (!co_await sendContinue()) {
        co_return false;
      }
      x.continueSent = true;
    }
    arm(TimeoutKind::upstream, to_.upstreamRead);
    // The app has nothing to send before it got the request: its answer is read on the event
    // that brings it, without a receive tried (and failing) at once (reactor_hint.h).
    nothingToReadUntilNextEvent(upstream_);
    // The head, with the inspected body prefix in the same write (and the terminator if that
    // was all).
    const bool whole = x.prefixLen > 0 || (x.hasBody && body_.done());
    if (!sendFramed(upstream_, upHead, prefix_.data(), whole ? x.prefixLen : 0,
                    whole && chunked, whole && chunked && body_.done(), ec)) {
      co_await writeRest(upstream_, ec);
    }
    if (ec) {
      closeUpstream();
      if (reused && attempt == 0 && !expired_ && !x.hasBody) {
        continue;
      }
      stats().upstreamError(expired_ ? UpstreamError::timeout : UpstreamError::closed);
      co_await sendError(expired_ ? 504 : 502, "app closed the connection");
      co_return false;
    }
    if (x.hasBody && !body_.done()) {
      BodyOutcome b = BodyOutcome::Done;
      if (stream_ && stream_->active) {
        b = co_await relayInspectedBody(chunked);
      } else {
        b = co_await relayRequestBody(chunked);
      }
      if (b == BodyOutcome::Blocked) {
        // The app got part of the body and never gets the rest: it is closed, not reused.
        closeUpstream();
        co_await sendBlocked();
        co_return false;
      }
      if (b == BodyOutcome::UpstreamFailed) {
        x.upstreamUsable = false;
        x.keepAlive = false; // the rest of the body is still on the client connection
      } else if (b != BodyOutcome::Done) {
        // The app waits for a body that will not come: it is closed, the client answered.
        closeUpstream();
        co_await answerBodyFailure(b);
        co_return false;
      }
    }

    co_await readResponseHead(x.isHead, ec);
    if (!ec) {
      break;
    }
    const bool timedOut = expired_;
    closeUpstream();
    if (reused && attempt == 0 && !x.hasBody && !timedOut &&
        (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::eof)) {
      continue;
    }
    if (timedOut) {
      stats().timeout(TimeoutKind::upstream);
      stats().upstreamError(UpstreamError::timeout);
      co_await sendError(504, "app did not answer in time");
    } else {
      stats().upstreamError(isHttpError(ec) && ec != http::error::end_of_stream
                                ? UpstreamError::bad_response
                                : UpstreamError::closed);
      co_await sendError(502, "app closed the connection or sent a malformed response");
    }
    co_return false;
  }
  // Interim responses and a protocol switch go through relayResponse; a final response (the
  // common case) is relayed from here, without that coroutine's frame.
  if (const unsigned st = resParser_->get().result_int(); st < 200 || st == 101) {
    co_return co_await relayResponse(x);
  }
  const FinalResponse f = clientHead(x);
  if (!co_await relayResponseBody(downHead_, f.bodyless, f.chunkedOut, x.upstreamUsable)) {
    co_return false;
  }
  co_return finishResponse(x, f);
}

// A fresh response parser and the app's next response head (a HEAD answer has no body). Only
// the head: the body is decoded by resBody_.
awaitable<void> Session::readResponseHead(bool isHead, error_code& ec) {
  resParser_.reset();
  resArena_.release();
  resParser_.emplace(std::piecewise_construct, std::make_tuple(),
                     std::make_tuple(std::pmr::polymorphic_allocator<char>(&resArena_)));
  resParser_->header_limit(kUpstreamHeadLimit);
  resParser_->body_limit(UINT64_MAX);
  if (isHead) {
    resParser_->skip(true);
  }
  arm(TimeoutKind::upstream, to_.upstreamRead);
  // The read loop of http::async_read_header, without its composed operations (their handler
  // and executor bookkeeping cost more than the parse of a small head).
  ec = {};
  while (!resParser_->is_header_done()) {
    if (ubuf_.size() > 0) {
      const size_t used = resParser_->put(ubuf_.data(), ec);
      ubuf_.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
      } else if (ec) {
        co_return;
      } else {
        continue;
      }
    }
    if (ubuf_.size() >= kUpstreamHeadLimit) {
      ec = http::error::header_limit;
      co_return;
    }
    const size_t n = co_await upstream_.async_read_some(ubuf_.prepare(kResponseRead), BW_EC);
    if (ec == asio::error::eof) {
      if (resParser_->got_some()) {
        ec = {};
        resParser_->put_eof(ec); // a head cut short: partial_message
        if (!ec) {
          ec = http::error::partial_message;
        }
      } else {
        ec = http::error::end_of_stream;
      }
      co_return;
    }
    if (ec) {
      co_return;
    }
    ubuf_.commit(n);
  }
}

// Forwards interim responses, then the final one: head rewritten for this hop, body streamed.
awaitable<bool> Session::relayResponse(Exchange& x) {
  error_code ec;
  for (;;) {
    const unsigned status = resParser_->get().result_int();
    if (status >= 200 || status == 101) {
      break;
    }
    if (status != 100 && !x.http10) { // 100 is answered by the proxy itself
      const std::string interim =
          responseHeadForClient(resParser_->get(), {.requestId = requestId_,
                                                    .keepLength = !resParser_->chunked()});
      arm(TimeoutKind::send, to_.send);
      co_await asio::async_write(client_, asio::buffer(interim), BW_EC);
      if (ec) {
        closeUpstream();
        co_return false;
      }
    }
    co_await readResponseHead(x.isHead, ec);
    if (ec) {
      const bool timedOut = expired_;
      closeUpstream();
      stats().upstreamError(timedOut ? UpstreamError::timeout : UpstreamError::closed);
      co_await sendError(timedOut ? 504 : 502, "app failed after an interim response");
      co_return false;
    }
  }

  const auto& res = resParser_->get();
  const unsigned status = res.result_int();
  if (status == 101) {
    if (!x.upgrade) {
      closeUpstream();
      stats().upstreamError(UpstreamError::bad_response);
      co_await sendError(502, "app switched protocols without an upgrade request");
      co_return false;
    }
    const std::string h = responseHeadForClient(
        res, {.requestId = requestId_, .keepUpgrade = true, .keepLength = !resParser_->chunked()});
    arm(TimeoutKind::send, to_.send);
    co_await asio::async_write(client_, asio::buffer(h), BW_EC);
    finishRequest(status);
    if (!ec) {
      co_await tunnel();
    }
    co_return false;
  }

  const FinalResponse f = clientHead(x);
  if (!co_await relayResponseBody(downHead_, f.bodyless, f.chunkedOut, x.upstreamUsable)) {
    co_return false;
  }
  co_return finishResponse(x, f);
}

// The final response's head for the client (into downHead_) and how its body is framed.
Session::FinalResponse Session::clientHead(const Exchange& x) {
  FinalResponse f;
  f.status = resParser_->get().result_int();
  f.bodyless = x.isHead || f.status == 204 || f.status == 304;
  f.closeAfter = !x.keepAlive || w_.draining();
  if (!f.bodyless && !resParser_->content_length()) {
    if (x.http10) {
      f.closeAfter = true; // close-delimited for an HTTP/1.0 client
    } else {
      f.chunkedOut = true;
    }
  }
  responseHeadForClient(resParser_->get(),
                        {.requestId = requestId_,
                         .keepLength = !resParser_->chunked(),
                         .chunkedOut = f.chunkedOut,
                         .closeAfter = f.closeAfter,
                         .http10 = x.http10},
                        downHead_);
  return f;
}

// After the final response went out: counted, the app connection pooled or closed. Returns
// whether the client connection stays open.
bool Session::finishResponse(const Exchange& x, const FinalResponse& f) {
  finishRequest(f.status);
  if (x.upstreamUsable && resParser_->keep_alive() && ubuf_.size() == 0 && upstream_.is_open()) {
    w_.pool().put(upstreamEp_, std::move(upstream_));
    upstream_ = tcp::socket(w_.ctx());
  } else {
    closeUpstream();
  }
  // When a drain began after the head went out, the connection stays until it is idle for a
  // moment (the sweep closes it) or the next request, answered with Connection: close.
  return !f.closeAfter;
}

// Returns 0 on success, else the status to answer (502 refused/unreachable, 504 timeout).
bool Session::takePooled(bool withBody) {
  if (w_.pool().take(upstreamEp_, upstream_, withBody)) {
    stats().upstream_reused_total.inc();
    return true;
  }
  return false;
}

awaitable<unsigned> Session::connectUpstream(bool& reused, bool allowPool, bool withBody) {
  if (allowPool && takePooled(withBody)) {
    reused = true;
    co_return 0;
  }
  error_code ec;
  upstream_ = tcp::socket(w_.ctx());
  upstream_.open(upstreamEp_.protocol(), ec);
  if (ec) {
    stats().upstreamError(UpstreamError::connect);
    co_return 502;
  }
  if (!cfg_.sourceAddress.empty() && upstreamEp_.address().is_v4() &&
      upstreamEp_.address().is_loopback()) {
    const int one = 1;
    ::setsockopt(upstream_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                 sizeof one);
    upstream_.bind({asio::ip::make_address(cfg_.sourceAddress), 0}, ec);
    if (ec) {
      static std::once_flag warned;
      std::call_once(warned, [&] {
        kLog.warn("cannot use the proxy source address; connecting from the default address",
                  {{"source_address", cfg_.sourceAddress}, {"error", ec.message()}});
      });
      ec.clear();
    }
  }
  arm(TimeoutKind::upstream, to_.upstreamConnect);
  co_await upstream_.async_connect(upstreamEp_, BW_EC);
  if (ec) {
    const bool timedOut = expired_;
    closeUpstream();
    if (timedOut) {
      stats().timeout(TimeoutKind::upstream);
      stats().upstreamError(UpstreamError::timeout);
      co_return 504;
    }
    stats().upstreamError(UpstreamError::connect);
    kLog.debug("app connect failed", {{"upstream", upstreamEp_.address().to_string() + ":" +
                                                       std::to_string(upstreamEp_.port())},
                                      {"error", ec.message()}});
    co_return 502;
  }
  stats().upstream_connections_total.inc();
  upstream_.set_option(tcp::no_delay(true), ec);
  co_return 0;
}

} // namespace bulwark::filter

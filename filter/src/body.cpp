#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <span>

#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/write.hpp>

#include "bulwark/common/log.h"
#include "bulwark/filter/events.h"
#include "session.h"
#include "session_const.h"

namespace bulwark::filter {
namespace {

const log::Logger kLog("proxy");

// Windows are at least this large, whatever inspect_body_bytes says (a window is one engine call).
constexpr size_t kMinWindow = 16 * 1024;

bool iequalsAscii(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Sends what the socket takes now (MSG_DONTWAIT, never SIGPIPE). Returns the bytes sent; `ec` is
// set for an error other than "would block" (EAGAIN, EINTR: nothing sent, no error).
size_t sendNow(tcp::socket& to, std::span<const asio::const_buffer> bufs, error_code& ec) {
  ec = {};
  std::array<iovec, 8> iov{};
  const size_t n = std::min(bufs.size(), iov.size());
  for (size_t i = 0; i < n; ++i) {
    iov[i].iov_base = const_cast<void*>(bufs[i].data()); // sendmsg does not write to it
    iov[i].iov_len = bufs[i].size();
  }
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = n;
  const ssize_t r = ::sendmsg(to.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (r >= 0) {
    return static_cast<size_t>(r);
  }
  if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    ec = error_code(errno, asio::error::get_system_category());
  }
  return 0;
}

} // namespace

char* Session::bodyBuffer() {
  if (!bodyBuf_) {
    bodyBuf_ = w_.takeBodyBuffer(kBodyBufferSize); // not zeroed: only what was written is sent
  }
  return bodyBuf_.get();
}

// The room for up to `limit` body bytes in prefix_ (the inspected prefix).
std::span<char> Session::prefixRoom(uint64_t limit) {
  // Only as much room as this body can use: a small JSON POST does not cost the whole limit.
  if (const auto cl = req_.contentLength) {
    limit = std::min(limit, *cl);
  }
  if (prefix_.size() < limit) {
    prefix_.resize(limit);
  }
  return std::span(prefix_.data(), limit);
}

// Decodes what cbuf_ holds into `out` from `got` on. True when the read is over (`b` says how):
// then readBody, which starts with the same, need not run (nor its coroutine frame exist).
bool Session::decodeBuffered(std::span<char> out, size_t& got, bool fill, BodyOutcome& b) {
  if (cbuf_.size() == 0) {
    return false;
  }
  const auto st = body_.decode(view(cbuf_), out.subspan(got));
  cbuf_.consume(st.consumed);
  stats().request_bytes_total.inc(st.consumed);
  got += st.produced;
  if (body_.error() != http1::BodyDecoder::Error::None) {
    b = BodyOutcome::ClientError;
    return true;
  }
  if (body_.done() || got == out.size() || (!fill && got > 0)) {
    b = BodyOutcome::Done;
    return true;
  }
  return false;
}

// Decodes request body bytes into `out` from `got` on: what cbuf_ holds, then more from the
// client, until `out` is full or the body ends (`fill`), or until some payload arrived
// (streaming). Every wait for the client is bounded by the body timeout.
awaitable<Session::BodyOutcome> Session::readBody(std::span<char> out, size_t& got, bool fill) {
  error_code ec;
  for (;;) {
    if (BodyOutcome b; decodeBuffered(out, got, fill, b)) {
      co_return b;
    }
    arm(TimeoutKind::body, to_.body);
    const size_t n = co_await client_.async_read_some(cbuf_.prepare(kReadChunk), BW_EC);
    if (ec) {
      co_return expired_ ? BodyOutcome::ClientTimeout : BodyOutcome::ClientGone;
    }
    cbuf_.commit(n);
  }
}

awaitable<void> Session::answerBodyFailure(BodyOutcome b) {
  if (b == BodyOutcome::ClientError) {
    using E = http1::BodyDecoder::Error;
    const E e = body_.error();
    if (e == E::BodyTooLarge) {
      co_await sendError(413, "request body too large");
      co_return;
    }
    const http1::HeadError reason = e == E::TrailerTooLarge ? http1::HeadError::TrailerTooLarge
                                    : e == E::BadTrailer    ? http1::HeadError::BadTrailer
                                                            : http1::HeadError::BadChunk;
    stats().badRequest(reason);
    kLog.info("request body refused", {{"conn", std::to_string(id_)},
                                       {"request_id", requestId_},
                                       {"client", peerIp_},
                                       {"reason", std::string(http1::bodyErrorLabel(e))}});
    co_await sendError(http1::headErrorStatus(reason), http1::bodyErrorLabel(e));
  } else if (b == BodyOutcome::ClientTimeout) {
    stats().timeout(TimeoutKind::body);
    co_await sendError(408, "request body not received in time");
  }
}

// Streams the request body to the app in bounded pieces, re-framed (chunked stays chunked;
// chunk extensions and trailer fields are not forwarded).
awaitable<Session::BodyOutcome> Session::relayRequestBody(bool chunked) {
  error_code ec;
  char* buf = bodyBuffer();
  while (!body_.done()) {
    size_t n = 0;
    const BodyOutcome b = co_await readBody(std::span(buf, kBodyBufferSize), n, false);
    if (b != BodyOutcome::Done) {
      co_return b;
    }
    const bool last = body_.done();
    if (n == 0 && !(last && chunked)) {
      continue;
    }
    arm(TimeoutKind::upstream, to_.upstreamRead);
    if (!sendFramed(upstream_, {}, buf, n, chunked, last && chunked, ec)) {
      co_await writeRest(upstream_, ec);
    }
    if (ec) {
      co_return BodyOutcome::UpstreamFailed;
    }
  }
  co_return BodyOutcome::Done;
}

// After the body prefix passed inspection (`plan`, the first verdict was no attack): whether the
// rest of the body is inspected window by window while it streams, or is over what can be
// inspected (on_limit). A Content-Length over the cap is known now, before the app is contacted.
WafAction Session::planBodyStream(const Exchange& x, const WafPlan& plan,
                                  const std::optional<IpBytes>& clientIp,
                                  std::string_view client, std::string_view host,
                                  std::string_view target) {
  const Policy& p = *snap_->policy;
  if (!x.hasBody || body_.done() || p.inspectBodyBytes == 0) {
    return WafAction::Pass;
  }
  auto s = std::make_unique<BodyStream>();
  s->plan = plan;
  s->clientIp = clientIp;
  s->client = client;
  s->host = host.substr(0, 256);
  s->target = target.substr(0, 512);
  s->method = req_.method;
  bool encoded = false;
  for (const auto& f : req_.fields) {
    if (iequalsAscii(f.name, "content-type")) {
      s->contentType = f.value.substr(0, 256);
    } else if (iequalsAscii(f.name, "content-encoding") &&
               !iequalsAscii(f.value, "identity")) {
      encoded = true;
    }
  }
  s->inspected = x.prefixLen;
  stream_ = std::move(s);
  const uint64_t cap = p.inspectBodyMaxBytes;
  if (encoded) {
    // A compressed stream cannot be decoded window by window: the rest is not inspectable.
    return bodyLimit("content_encoding");
  }
  if (cap != 0 && x.info->contentLength && *x.info->contentLength > cap &&
      p.onLimit == LimitAction::Block &&
      (plan.mode == Mode::Block ||
       (plan.mode == Mode::SafeBlocking && clientIp && p.gray.contains(*clientIp)))) {
    // It will be refused at the cap anyway: refuse it before the app is contacted. (In the
    // other cases the body is inspected up to the cap, where on_limit applies.)
    return bodyLimit("inspect_body_max_bytes");
  }
  stream_->active = true;
  stream_->windows.reset(prefix_, std::max<size_t>(p.inspectBodyBytes, kMinWindow),
                         std::string_view(prefix_.data(), x.prefixLen), x.prefixLen);
  return WafAction::Pass;
}

// Part of the body cannot be inspected (`limit` says why): counted, and on_limit decides.
// Block (block mode, or safe_blocking for a gray client): an event and 413. Otherwise an event
// (action logged) unless on_limit is pass. Either way no more windows are inspected.
WafAction Session::bodyLimit(std::string_view limit) {
  BodyStream& s = *stream_;
  s.active = false;
  stats().body_limit_total.inc();
  stats().inspectionLimit.inc();
  const Policy& p = *snap_->policy;
  if (p.onLimit == LimitAction::Pass) {
    return WafAction::Pass;
  }
  detect::Verdict v;
  v.limitExceeded = true;
  v.blockForLimit = true;
  v.paranoiaLevel = s.plan.paranoia;
  v.threshold = detect::scoreThreshold(s.plan.paranoia);
  const WafAction action = decide(s.plan, p, s.clientIp, v);
  const bool block = action == WafAction::Block;
  if (block) {
    s.limitHit = true;
    stats().body_limit_blocked_total.inc();
  }
  emitAttackEvent({.requestId = requestId_, .client = s.client, .method = s.method,
                   .host = s.host, .path = s.target, .verdict = &v,
                   .action = block ? EventAction::Blocked : EventAction::Logged,
                   .mode = s.plan.mode, .application = p.application,
                   .nodeGroup = p.nodeGroup, .limit = limit});
  return action;
}

// Streams the request body to the app like relayRequestBody, inspecting it first: each window
// (the overlap of the one before and the fresh bytes) goes through the engine before its fresh
// bytes are forwarded, until the body ends, an attack is found, or inspect_body_max_bytes is
// reached. Blocked: the rest of the body never reaches the app (the caller closes the app
// connection and answers the client). After an attack that is only logged, or past a cap that
// does not block, the rest is relayed uninspected.
awaitable<Session::BodyOutcome> Session::relayInspectedBody(bool chunked) {
  error_code ec;
  BodyStream& s = *stream_;
  const Policy& policy = *snap_->policy;
  const uint64_t cap = policy.inspectBodyMaxBytes;
  while (s.active && !body_.done()) {
    BodyWindows& w = s.windows;
    size_t n = 0;
    const BodyOutcome b = co_await readBody(w.space(), n, true);
    if (b != BodyOutcome::Done) {
      co_return b;
    }
    w.commit(n);
    const bool last = body_.done();
    if (w.fresh().empty() && !(last && chunked)) {
      continue;
    }
    if (!w.fresh().empty()) {
      const std::array<detect::Header, 1> ct{detect::Header{"content-type", s.contentType}};
      thread_local std::string text;
      const detect::RequestView view{
          .method = s.method,
          .target = "/",
          .headers = std::span(ct.data(), s.contentType.empty() ? 0 : 1),
          .body = textOfWindow(w.window(), text),
          .paranoiaLevel = s.plan.paranoia};
      detect::Verdict verdict = inspectRequest(*snap_->engine, view);
      stats().body_windows_inspected_total.inc();
      s.inspected += w.fresh().size();
      if (verdict.budgetExceeded && !verdict.attack()) {
        // The window could not be inspected whole in its CPU time: on_limit decides.
        stats().inspect_budget_total.inc();
        if (bodyLimit("inspect_time_budget_ms") == WafAction::Block) {
          co_return BodyOutcome::Blocked;
        }
      }
      const WafAction action = decide(s.plan, policy, s.clientIp, verdict);
      if (action == WafAction::Block || action == WafAction::Log) {
        const std::string where = "body@" + std::to_string(w.freshOffset());
        for (auto& f : verdict.findings) {
          f.part = f.part == "body" ? where : where + ":" + f.part;
        }
        const bool block = action == WafAction::Block;
        countAttack(verdict, block);
        emitAttackEvent({.requestId = requestId_, .client = s.client, .method = s.method,
                         .host = s.host, .path = s.target, .verdict = &verdict,
                         .action = block ? EventAction::Blocked : EventAction::Logged,
                         .mode = s.plan.mode, .application = policy.application,
                         .nodeGroup = policy.nodeGroup});
        if (block) {
          co_return BodyOutcome::Blocked; // this window's fresh bytes are not forwarded
        }
        s.active = false; // one event per request; the rest streams uninspected
      } else if (cap != 0 && s.inspected >= cap && !last) {
        if (bodyLimit("inspect_body_max_bytes") == WafAction::Block) {
          co_return BodyOutcome::Blocked;
        }
      }
    }
    arm(TimeoutKind::upstream, to_.upstreamRead);
    if (!sendFramed(upstream_, {}, w.fresh().data(), w.fresh().size(), chunked,
                    last && chunked, ec)) {
      co_await writeRest(upstream_, ec);
    }
    if (ec) {
      co_return BodyOutcome::UpstreamFailed;
    }
    w.advance();
  }
  if (!body_.done()) {
    co_return co_await relayRequestBody(chunked);
  }
  co_return BodyOutcome::Done;
}

// Writes [prefix][chunk-size CRLF]data[CRLF][0 CRLF CRLF] in one gather write, tried at once:
// most writes fit in the socket's send buffer, so one non-blocking sendmsg does it without an
// asynchronous operation (whose completion would be queued and resumed through the scheduler)
// and without a coroutine frame. Returns false when part of it is left for writeRest (a full
// buffer, EAGAIN); true when all was sent or `ec` is set.
bool Session::sendFramed(tcp::socket& to, std::string_view prefix, const char* data, size_t n,
                         bool chunked, bool terminate, error_code& ec) {
  ec = {};
  auto& bufs = framed_.bufs;
  size_t count = 0;
  if (!prefix.empty()) {
    bufs[count++] = asio::buffer(prefix);
  }
  if (chunked && n > 0) {
    const int len = std::snprintf(framed_.sizeLine, sizeof framed_.sizeLine, "%zx\r\n", n);
    bufs[count++] = asio::buffer(framed_.sizeLine, static_cast<size_t>(len));
  }
  if (n > 0) {
    bufs[count++] = asio::buffer(data, n);
  }
  if (chunked && n > 0) {
    bufs[count++] = asio::buffer("\r\n", 2);
  }
  if (terminate) {
    bufs[count++] = asio::buffer("0\r\n\r\n", 5);
  }
  if (count == 0) {
    return true;
  }
  const size_t sent = sendNow(to, std::span(bufs.data(), count), ec);
  if (ec) {
    return true;
  }
  std::span<asio::const_buffer> rest(bufs.data(), count);
  size_t skip = sent;
  while (!rest.empty() && skip >= rest.front().size()) {
    skip -= rest.front().size();
    rest = rest.subspan(1);
  }
  if (rest.empty()) {
    return true;
  }
  rest.front() += skip;
  framed_.rest = rest;
  return false;
}

// What sendFramed left, through async_write (the buffers it points to are the caller's).
awaitable<void> Session::writeRest(tcp::socket& to, error_code& ec) {
  co_await asio::async_write(to, framed_.rest, BW_EC);
}

// Forwards interim responses, then the final one: head rewritten for this hop, body streamed.
// The response body towards the client, after `head`: the proxy's own bounded decoder (a
// trailer section over the limit from the app is a bad response, not an exception); trailer
// fields from the app are not forwarded. Returns false when the client connection must close.
awaitable<bool> Session::relayResponseBody(std::string_view head, bool bodyless, bool chunkedOut,
                                           bool& upstreamUsable) {
  error_code ec;
  if (bodyless) {
    resBody_ = http1::BodyDecoder::none();
  } else if (resParser_->chunked()) {
    resBody_ = http1::BodyDecoder::chunked(
        {.maxLine = 4096, .maxTrailerBytes = kUpstreamHeadLimit, .maxTrailers = 100});
  } else if (const auto cl = resParser_->content_length()) {
    resBody_ = http1::BodyDecoder::length(*cl);
  } else {
    resBody_ = http1::BodyDecoder::untilClose();
  }
  char* buf = resBody_.done() ? nullptr : bodyBuffer();
  std::string_view pendingHead = head;
  for (;;) {
    size_t n = 0;
    if (ubuf_.size() > 0 && !resBody_.done()) {
      const auto st = resBody_.decode(view(ubuf_), std::span(buf, kBodyBufferSize));
      ubuf_.consume(st.consumed);
      n = st.produced;
      if (resBody_.error() != http1::BodyDecoder::Error::None) {
        // Close, so the client sees a truncated response rather than a wrong one.
        stats().upstreamError(UpstreamError::bad_response);
        kLog.warn("malformed response body from the app; connection closed",
                  {{"conn", std::to_string(id_)},
                   {"request_id", requestId_},
                   {"reason", std::string(http1::bodyErrorLabel(resBody_.error()))}});
        closeUpstream();
        if (!pendingHead.empty()) {
          co_await sendError(502, "app sent a malformed response body");
        }
        co_return false;
      }
    } else if (!resBody_.done()) {
      if (!pendingHead.empty()) {
        // About to wait for the app: send the head now (streaming responses must not stall).
        arm(TimeoutKind::send, to_.send);
        co_await asio::async_write(client_, asio::buffer(pendingHead), BW_EC);
        stats().response_bytes_total.inc(pendingHead.size());
        pendingHead = {};
        if (ec) {
          closeUpstream();
          co_return false;
        }
      }
      arm(TimeoutKind::upstream, to_.upstreamRead);
      const size_t got = co_await upstream_.async_read_some(ubuf_.prepare(kBodyBufferSize), BW_EC);
      if (ec == asio::error::eof && resBody_.framing() == http1::BodyDecoder::Framing::UntilClose) {
        resBody_.endOfInput();
        upstreamUsable = false;
      } else if (ec) {
        // The head (and maybe part of the body) is gone already: all we can do is close.
        if (expired_) {
          stats().timeout(TimeoutKind::upstream);
        }
        stats().upstreamError(expired_ ? UpstreamError::timeout : UpstreamError::closed);
        closeUpstream();
        co_return false;
      } else {
        ubuf_.commit(got);
        continue;
      }
    }
    const bool last = resBody_.done();
    if (n > 0 || last || !pendingHead.empty()) {
      arm(TimeoutKind::send, to_.send);
      if (!sendFramed(client_, pendingHead, buf, n, chunkedOut, last && chunkedOut, ec)) {
        co_await writeRest(client_, ec);
      }
      stats().response_bytes_total.inc(pendingHead.size() + n);
      pendingHead = {};
      if (ec) {
        if (expired_) {
          stats().timeout(TimeoutKind::send);
        }
        closeUpstream();
        co_return false;
      }
    }
    if (last) {
      co_return true;
    }
  }
}

} // namespace bulwark::filter

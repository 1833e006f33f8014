#include "session.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/write.hpp>

#include "bulwark/common/log.h"
#include "bulwark/filter/events.h"
#include "bulwark/filter/forward_headers.h"
#include "bulwark/filter/local_reply.h"
#include "reactor_hint.h"
#include "session_const.h"

namespace bulwark::filter {
namespace {

using namespace std::chrono_literals;

const log::Logger kLog("proxy");
// A request head is read into a buffer of kHeadRead bytes; a read that fills it is followed by
// another of up to kMaxHeadRead (the socket may hold more). The buffer exists only while the
// connection is served: a parked connection keeps just the bytes it received.
constexpr size_t kHeadRead = 4096;
constexpr size_t kMaxHeadRead = 64 * 1024;
// After a response the session keeps reading for about this long before it parks: a client
// that sends its next request within it is served without the park/wake-up round (a peek, a
// new session and its coroutine), as nginx keeps its buffers for a busy connection.
constexpr auto kLinger = std::chrono::milliseconds(150);
// The largest response read buffer a lingering session keeps (a head read is 4 KiB).
constexpr size_t kKeepResponseBuffer = 8 * 1024;

// Splits validated trailer lines ("name: value\r\n"...) into fields for inspection.
void addTrailerFields(std::string_view lines, std::vector<detect::Header>& out) {
  while (!lines.empty()) {
    const size_t eol = lines.find("\r\n");
    const std::string_view line = lines.substr(0, eol);
    lines.remove_prefix(eol == std::string_view::npos ? lines.size() : eol + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    out.push_back({line.substr(0, colon), value});
  }
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Session

Session::Session(ParkedConn& p)
    : w_(p.w_), cfg_(w_.cfg()), to_(cfg_.timeouts), client_(std::move(p.client_)),
      upstream_(w_.ctx()), local_(p.local_), upstreamEp_(p.upstreamEp_),
      peerIp_(std::move(p.peerIp_)), tunnelDone_(w_.ctx()), id_(p.id_) {
  if (p.partialLen_ > 0) {
    const auto room = cbuf_.prepare(p.partialLen_);
    std::memcpy(room.data(), p.partial_, p.partialLen_);
    cbuf_.commit(p.partialLen_);
  }
  p.handOver(*this);
  scanned_ = p.scanned_;
  first_ = p.first_;
  served_ = p.served_;
  drainClose_ = p.drainClose_;
}

Session::~Session() { w_.giveBodyBuffer(std::move(bodyBuf_)); }

void Session::activate(std::shared_ptr<Session> self) {
  auto& ctx = self->w_.ctx();
  asio::co_spawn(ctx, self->serve(), [self](const std::exception_ptr& e, bool keep) {
    if (e) {
      reportEscaped(e, InternalError::session, self->id());
      self->closeAll();
      return;
    }
    if (keep && self->client_.is_open()) {
      ParkedConn::make(*self)->wait();
      return;
    }
    self->closeAll();
  });
}

void Session::closeAll() {
  error_code ignored;
  client_.close(ignored);
  upstream_.close(ignored);
}

std::chrono::milliseconds Session::idleLeft() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(idleSince_ + to_.idle -
                                                               Clock::now());
}

void Session::expire(bool drainClose) {
  if (lingering_ && !drainClose) {
    // The linger time passed: the read is cancelled and the connection parks with what is
    // left of its idle timeout (or is closed when that is spent too).
    const auto left = idleLeft();
    if (left.count() > 0) {
      parkNow_ = true;
      arm(TimeoutKind::idle, left);
      error_code ignored;
      client_.cancel(ignored);
      return;
    }
  }
  deadline_ = Clock::time_point::max();
  expired_ = true;
  drainClose_ = drainClose;
  error_code ignored;
  client_.cancel(ignored);
  upstream_.cancel(ignored);
}

// Serves requests while bytes are there to read. Returns true when the connection is to wait
// for more (parked: nothing but the socket and a partial head is kept), false when it ends.
awaitable<bool> Session::serve() {
  bool mayRead = true; // the socket was readable when the session was made
  for (;;) {
    requestId_.clear(); // a refusal of the next request never reuses the previous one's id
    headRequest_ = false;
    // Woken by the sweep: the deadline passed while parked.
    const HeadOutcome r =
        mayRead && expired_ ? HeadOutcome::Timeout : co_await readHead(mayRead);
    if (r == HeadOutcome::Park) {
      co_return true;
    }
    const bool silent = first_ && cbuf_.size() == 0; // never sent a byte: closed without a reply
    first_ = false;
    scanned_ = 0;
    if (r == HeadOutcome::Closed) {
      co_return false;
    }
    if (r == HeadOutcome::Timeout) {
      if (drainClose_) {
        co_return false;
      }
      stats().timeout(kind_);
      if (kind_ == TimeoutKind::header && !silent) {
        co_await sendError(408, "request head not received in time");
      }
      co_return false;
    }
    if (r == HeadOutcome::NotHttp) {
      co_await passThrough();
      co_return false;
    }
    if (r == HeadOutcome::Invalid) {
      co_await refuseMalformed();
      co_await lingeringClose();
      co_return false;
    }
    if (!co_await handleRequest()) {
      co_await lingeringClose();
      co_return false;
    }
    if (served_ < 2) {
      ++served_;
    }
    // Waiting for a next request: the idle timeout runs, a drain may close it; the next head
    // gets header_ms from its first byte.
    idle_ = true;
    idleSince_ = Clock::now();
    arm(TimeoutKind::idle, to_.idle);
  }
}

// Reads until a complete request head is buffered in cbuf_. On the first request of a
// connection, also decides whether the client speaks HTTP/1.x at all. Reads at most once
// (when `mayRead`: the socket was readable); when more bytes are needed after that, returns
// Park and the connection waits for them without a coroutine or a read buffer.
awaitable<Session::HeadOutcome> Session::readHead(bool& mayRead) {
  error_code ec;
  bool sniffed = !first_;
  snap_ = w_.snapshot(); // this request's policy, engine and limits
  const Limits& lim = snap_->limits;
  for (;;) {
    // Empty lines between requests are tolerated (RFC 9112 2.2).
    while (cbuf_.size() >= 2 && view(cbuf_).substr(0, 2) == "\r\n") {
      cbuf_.consume(2);
    }
    const std::string_view data = view(cbuf_);
    if (!data.empty() && !(data.size() == 1 && data[0] == '\r')) {
      if (idle_) {
        // The head's first byte: its deadline runs from here (from accept for the first one)
        // and is not moved by the bytes that follow.
        idle_ = false;
        if (!first_) {
          arm(TimeoutKind::header, to_.header);
        }
      }
      if (!sniffed) {
        const auto s = http1::sniffProtocol(data, lim);
        if (s == http1::Sniff::Http) {
          sniffed = true;
        } else if (s != http1::Sniff::NeedMore) {
          notHttp_ = s == http1::Sniff::Tls            ? Uninspected::tls
                     : s == http1::Sniff::Http2Preface ? Uninspected::http2
                                                       : Uninspected::unknown;
          co_return HeadOutcome::NotHttp;
        }
      }
      if (sniffed) {
        const auto scan = http1::scanHead(data, scanned_, lim);
        if (scan.state == http1::HeadScan::State::Complete) {
          headLen_ = scan.length;
          co_return HeadOutcome::Head;
        }
        if (scan.state == http1::HeadScan::State::Invalid) {
          headError_ = scan.error;
          co_return HeadOutcome::Invalid;
        }
        scanned_ = scan.scanned;
      }
    }
    if (!mayRead) {
      // Between keep-alive requests, wait for the next one for a moment before parking: from
      // the second request on (a connection that made one request and went quiet parks at
      // once, so a burst of those costs no sessions).
      if (!(idle_ && served_ >= 2 && cbuf_.size() == 0 && w_.mayLinger() && !w_.draining())) {
        co_return HeadOutcome::Park;
      }
      // The linger never extends the idle timeout (empty lines do not keep a connection).
      const auto left = idleLeft();
      if (left.count() <= 0) {
        co_return HeadOutcome::Timeout;
      }
      req_ = {}; // nothing of the last exchange is kept while waiting
      if (reqHead_.capacity() > kHeadRead) {
        std::string().swap(reqHead_); // a large head is not kept
      }
      resParser_.reset();
      resArena_.release();
      // Empty here. A response read buffer of ordinary size is kept for the next exchange
      // (lingering sessions are capped per worker, so this is bounded); one that grew for a
      // body relay is freed.
      if (ubuf_.capacity() > kKeepResponseBuffer) {
        ubuf_.shrink_to_fit();
      }
      w_.giveBodyBuffer(std::move(bodyBuf_));
      lingering_ = true;
      w_.lingerStarted();
      arm(TimeoutKind::idle, std::min<std::chrono::milliseconds>(kLinger, left));
      // When the last read emptied the socket, this one is performed on the next readiness
      // event (no receive tried at once, reactor_hint.h), and then it may say the same.
      const bool onEvent = readWaitsForEvent(client_);
      const size_t n = co_await client_.async_read_some(cbuf_.prepare(kHeadRead), BW_EC);
      if (!ec && onEvent && n < kHeadRead) {
        nothingToReadUntilNextEvent(client_);
      }
      lingering_ = false;
      w_.lingerEnded();
      const bool park = parkNow_;
      parkNow_ = false;
      if (ec) {
        if (park && !expired_) {
          co_return HeadOutcome::Park;
        }
        co_return expired_ ? HeadOutcome::Timeout : HeadOutcome::Closed;
      }
      cbuf_.commit(n);
      mayRead = n == kHeadRead;
      continue;
    }
    // The socket is readable: one non-blocking receive, without an asynchronous operation. A
    // read that fills its buffer is followed by another; one that does not has emptied the
    // socket, which the reactor is told (the next read waits for the next event instead of
    // being tried at once: nothing else ran in between, so no event can have been missed).
    const size_t want = cbuf_.size() < kHeadRead ? kHeadRead : kMaxHeadRead;
    const auto room = cbuf_.prepare(want);
    const ssize_t got = ::recv(client_.native_handle(), room.data(), want, MSG_DONTWAIT);
    if (got > 0) {
      cbuf_.commit(static_cast<size_t>(got));
      mayRead = static_cast<size_t>(got) == want;
      if (!mayRead) {
        nothingToReadUntilNextEvent(client_);
      }
      continue;
    }
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      mayRead = false; // woken without bytes after all: wait for them (linger or park)
      continue;
    }
    co_return HeadOutcome::Closed; // end of stream or a socket error
  }
}

// One request/response exchange. Returns whether the client connection stays open.
awaitable<bool> Session::handleRequest() {
  const Limits& lim = snap_->limits;
  // The head is copied out of the read buffer: its fields are used while the body is read.
  reqHead_.assign(view(cbuf_).substr(0, headLen_));
  const std::string_view head = reqHead_;
  const auto check = http1::checkRequestHead(head, lim, reqFields_);
  if (check.error != http1::HeadError::None) {
    headError_ = check.error;
    co_await refuseMalformed();
    co_return false;
  }
  const http1::HeadInfo& info = check.info;
  if (lim.maxBodyBytes != 0 && info.contentLength.value_or(0) > lim.maxBodyBytes) {
    co_await sendError(413, "request body larger than limits.max_body_bytes");
    co_return false;
  }

  // The checked head is not parsed again: the checks refuse all Beast's request parser refuses
  // but a Connection or Proxy-Connection value that is not a token list, refused here. Bodies
  // and trailers are decoded by the proxy's own bounded decoder.
  if (!http1::readRequest(info, reqFields_, req_)) {
    headError_ = http1::HeadError::BadRequestLine;
    co_await refuseMalformed();
    co_return false;
  }
  stats().dropped_header_fields_total.inc(info.droppedFields.size());
  cbuf_.consume(head.size());
  stats().request_bytes_total.inc(head.size());
  if (info.chunked) {
    body_ = http1::BodyDecoder::chunked(
        {.maxLine = 4096,
         .maxTrailerBytes = std::min<size_t>(lim.maxHeaderBytes, http1::kMaxFieldLine),
         .maxTrailers = lim.maxHeaders,
         .maxBody = lim.maxBodyBytes});
  } else {
    body_ = http1::BodyDecoder::length(info.contentLength.value_or(0));
  }

  started_ = Clock::now();
  if (const auto* f = req_.find("x-request-id"); f != nullptr && validRequestId(f->value)) {
    requestId_.assign(f->value);
  } else {
    requestId_.resize(kRequestIdLength); // the session's buffer, reused for each request
    newRequestId(std::span<char, kRequestIdLength>(requestId_.data(), kRequestIdLength));
  }
  Exchange x;
  x.info = &info;
  x.http10 = info.versionMinor == 0;
  x.hasBody = info.chunked || info.contentLength.value_or(0) > 0;
  x.isHead = req_.verb == http::verb::head;
  headRequest_ = x.isHead;
  // Upgrade: h2c is never honoured (after the app's 101 the connection would be an uninspected
  // tunnel); the request goes on as a plain HTTP/1.1 request without it. WebSocket upgrades
  // are inspected like any request and tunnelled after the app's 101.
  x.upgrade = !x.http10 && !info.upgradeH2c && req_.connectionUpgrade &&
              req_.find(http::field::upgrade) != nullptr;
  x.keepAlive = req_.keepAlive && !w_.draining();

  if (req_.verb == http::verb::connect) {
    co_await sendError(405, "CONNECT is not supported by this reverse proxy");
    co_return false;
  }
  if (info.expectOther) {
    co_await sendError(417, "unsupported Expect value");
    co_return false;
  }
  // Deny list, the body prefix (read before the app is contacted, so an attack in it never
  // reaches the app; Expect: 100-continue is answered first), the engine.
  WafAction action = WafAction::Pass;
  FilterPlan filter;
  if (planFilter(x, action, filter)) {
    const uint64_t prefixBytes = snap_->policy->inspectBodyBytes;
    if (x.hasBody && prefixBytes > 0) {
      if (x.info->expectContinue && !x.http10) {
        if (!co_await sendContinue()) {
          co_return false;
        }
        x.continueSent = true;
      }
      const std::span<char> room = prefixRoom(prefixBytes);
      x.prefixLen = 0;
      BodyOutcome b = BodyOutcome::Done;
      if (!decodeBuffered(room, x.prefixLen, true, b)) {
        b = co_await readBody(room, x.prefixLen, true);
      }
      if (b != BodyOutcome::Done) {
        co_await answerBodyFailure(b);
        co_return false;
      }
    }
    inspect(x, action, filter);
  }
  if (action == WafAction::Deny) {
    co_await sendBlocked();
    co_return false;
  }
  if (action == WafAction::Block) {
    co_await sendBlocked();
    co_return x.keepAlive && body_.done() && !x.upgrade;
  }
  co_return co_await forward(x);
}

// Deny list, probes, mode: whether the request is inspected (handleRequest reads the body
// prefix, then inspect() runs; no coroutine frame of their own). Sets `action` when denied.
bool Session::planFilter(Exchange& x, WafAction& action, FilterPlan& f) {
  const Policy& policy = *snap_->policy;
  const http1::Request& req = req_;
  stream_.reset();
  f.client = clientOf(policy, req, peerIp_);
  if (!peerIpBytes_) {
    peerIpBytes_ = parseIp(peerIp_); // once per session: the peer does not change
  }
  f.clientIp = f.client.data() == peerIp_.data() ? *peerIpBytes_ : parseIp(f.client);
  f.target = x.info->absoluteForm ? std::string_view(x.info->originTarget) : req.target;
  const std::string_view path = f.target.substr(0, f.target.find('?'));
  f.host = x.info->absoluteForm ? std::string_view(x.info->authority) : hostOf();
  f.plan = planRequest(policy, snap_->engine != nullptr, f.clientIp, f.host, path);
  if (f.plan.deny) {
    stats().denied.inc();
    emitAttackEvent({.requestId = requestId_, .client = f.client, .method = req.method,
                     .host = f.host, .path = f.target, .verdict = nullptr,
                     .action = EventAction::Denied, .mode = f.plan.mode,
                     .application = policy.application, .nodeGroup = policy.nodeGroup});
    action = WafAction::Deny;
    return false;
  }
  // A kubelet probe (GET/HEAD of exactly a listed target, no body) is never inspected.
  if (policy.probes.matches(req.method, f.target, x.hasBody)) {
    stats().probe_requests_total.inc();
    return false;
  }
  return f.plan.inspect;
}

// The engine's verdict on the head, the trailers and the body prefix read (x.prefixLen), and
// what follows from it.
void Session::inspect(Exchange& x, WafAction& action, const FilterPlan& f) {
  const Policy& policy = *snap_->policy;
  const http1::Request& req = req_;
  const WafPlan& plan = f.plan;
  stats().inspected.inc();
  std::vector<detect::Header>& headers = inspectHeaders_; // reused: no allocation per request
  headers.clear();
  for (const auto& field : req.fields) {
    headers.push_back({field.name, field.value});
  }
  if (x.info->absoluteForm) {
    headers.push_back({"host", x.info->authority}); // the Host the app will see
  }
  for (const auto& [name, value] : x.info->droppedFields) {
    headers.push_back({name, value}); // not forwarded, still inspected
  }
  // Trailer fields are inspected like header fields (they are never forwarded).
  addTrailerFields(body_.trailers(), headers);
  const detect::RequestView request{.method = req.method,
                                    .target = f.target,
                                    .versionMinor = x.info->versionMinor,
                                    .headers = headers,
                                    .body = std::string_view(prefix_.data(), x.prefixLen),
                                    // the rest is inspected streaming (planBodyStream)
                                    .bodyTruncated = x.hasBody && !body_.done() &&
                                                     policy.inspectBodyBytes == 0,
                                    .paranoiaLevel = plan.paranoia};
  detect::Verdict verdict = inspectRequest(*snap_->engine, request);
  if (verdict.limitExceeded) {
    stats().inspectionLimit.inc();
  }
  // Out of CPU time before every value was inspected: the request could not be inspected
  // whole, and on_limit decides (block: treated like an attack).
  std::string_view limit;
  if (verdict.budgetExceeded) {
    stats().inspect_budget_total.inc();
    if (!verdict.attack() && policy.onLimit == LimitAction::Block) {
      verdict.blockForLimit = true;
      limit = "inspect_time_budget_ms";
    }
  }
  action = decide(plan, policy, f.clientIp, verdict);
  if (action == WafAction::Block || action == WafAction::Log) {
    const bool block = action == WafAction::Block;
    countAttack(verdict, block);
    emitAttackEvent({.requestId = requestId_, .client = f.client, .method = req.method,
                     .host = f.host, .path = f.target, .verdict = &verdict,
                     .action = block ? EventAction::Blocked : EventAction::Logged,
                     .mode = plan.mode, .application = policy.application,
                     .nodeGroup = policy.nodeGroup, .limit = limit});
  }
  if (action == WafAction::Pass) {
    action = planBodyStream(x, plan, f.clientIp, f.client, f.host, f.target);
  }
}

void Session::finishRequest(unsigned status) {
  stats().countStatus(status);
  stats().requestDuration.observe(std::chrono::duration<double>(Clock::now() - started_).count());
}

void Session::closeUpstream() {
  error_code ignored;
  upstream_.close(ignored);
  ubuf_.consume(ubuf_.size());
}

std::string_view Session::hostOf() const { return req_[http::field::host]; }

} // namespace bulwark::filter

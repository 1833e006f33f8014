#include "session.h"

#include <array>
#include <atomic>

#include <boost/asio/write.hpp>

#include "bulwark/common/log.h"
#include "bulwark/filter/events.h"
#include "bulwark/filter/forward_headers.h"
#include "bulwark/filter/local_reply.h"
#include "bulwark/filter/orig_dst.h"
#include "session_const.h"

namespace bulwark::filter {
namespace {

using namespace std::chrono_literals;

const log::Logger kLog("proxy");
constexpr uint32_t kProtocolRuleBase = 920000;
constexpr auto kLingerTime = 1s;
std::atomic<uint64_t> gNextConnId{1};

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

Session::Session(Worker& w, tcp::socket s)
    : w_(w), cfg_(w.cfg()), to_(cfg_.timeouts), client_(std::move(s)), upstream_(w.ctx()),
      tunnelDone_(w.ctx()), id_(gNextConnId.fetch_add(1, std::memory_order_relaxed)) {
  stats().connections_total.inc();
  stats().connectionsActive.add();
}

Session::~Session() { stats().connectionsActive.sub(); }

awaitable<void> Session::run(std::shared_ptr<Session> self) {
  co_await self->serve();
  self->closeAll();
}

void Session::closeAll() {
  error_code ignored;
  client_.close(ignored);
  upstream_.close(ignored);
}

void Session::releaseIdle() {
  // Only while the coroutine waits for readability: nothing refers into these buffers.
  if (cbuf_.size() == 0) {
    cbuf_.shrink_to_fit();
  }
  if (ubuf_.size() == 0) {
    ubuf_.shrink_to_fit();
  }
  bodyBuf_.reset();
  std::vector<char>().swap(prefix_);
  reqParser_.reset();
  resParser_.reset();
}

void Session::expire(bool drainClose) {
  deadline_ = Clock::time_point::max();
  expired_ = true;
  drainClose_ = drainClose;
  error_code ignored;
  client_.cancel(ignored);
  upstream_.cancel(ignored);
}

awaitable<void> Session::serve() {
  error_code ec;
  const auto remote = client_.remote_endpoint(ec);
  if (ec) {
    co_return;
  }
  const auto local = client_.local_endpoint(ec);
  if (ec) {
    co_return;
  }
  peerIp_ = remote.address().to_string();
  local_ = local;
  client_.set_option(tcp::no_delay(true), ec);
  upstreamEp_ = resolveUpstream();

  bool first = true;
  for (;;) {
    requestId_.clear(); // a refusal of the next request never reuses the previous one's id
    const HeadOutcome r = co_await readHead(first);
    const bool silent = first && cbuf_.size() == 0; // never sent a byte: closed without a reply
    first = false;
    if (r == HeadOutcome::Closed) {
      co_return;
    }
    if (r == HeadOutcome::Timeout) {
      if (drainClose_) {
        co_return;
      }
      stats().timeout(kind_);
      if (kind_ == TimeoutKind::header && !silent) {
        co_await sendError(408, "request head not received in time");
      }
      co_return;
    }
    if (r == HeadOutcome::NotHttp) {
      co_await passThrough();
      co_return;
    }
    if (r == HeadOutcome::Invalid) {
      co_await refuseMalformed();
      co_await lingeringClose();
      co_return;
    }
    if (!co_await handleRequest()) {
      co_await lingeringClose();
      co_return;
    }
  }
}

tcp::endpoint Session::resolveUpstream() {
  PortSources src;
  if (cfg_.upstream) {
    src.configured = cfg_.upstream->port;
  } else {
    src.originalDst = queryOriginalDstPort(client_.native_handle(), local_.address().is_v6());
  }
  src.localPort = local_.port();
  src.listenPorts = w_.listenPorts();
  src.appPort = cfg_.appPort;
  const uint16_t port = resolveUpstreamPort(src);
  const auto addr = cfg_.upstream ? asio::ip::make_address(cfg_.upstream->host)
                                  : asio::ip::make_address("127.0.0.1");
  return {addr, port};
}

// Reads until a complete request head is buffered in cbuf_. On the first request of a
// connection, also decides whether the client speaks HTTP/1.x at all.
awaitable<Session::HeadOutcome> Session::readHead(bool first) {
  error_code ec;
  size_t scanned = 0;
  bool started = false;
  bool sniffed = !first;
  snap_ = w_.snapshot(); // this request's policy, engine and limits
  const Limits& lim = snap_->limits;
  if (first) {
    // A new connection is waiting for its first head from the moment it is accepted: a client
    // that never sends a byte is held for header_ms, not idle_ms.
    arm(TimeoutKind::header, to_.header);
  }
  for (;;) {
    // Empty lines between requests are tolerated (RFC 9112 2.2).
    while (cbuf_.size() >= 2 && view(cbuf_).substr(0, 2) == "\r\n") {
      cbuf_.consume(2);
    }
    const std::string_view data = view(cbuf_);
    if (!data.empty() && !(data.size() == 1 && data[0] == '\r')) {
      if (!started) {
        started = true;
        idle_ = false;
        if (!first) {
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
        const auto scan = http1::scanHead(data, scanned, lim);
        if (scan.state == http1::HeadScan::State::Complete) {
          headLen_ = scan.length;
          co_return HeadOutcome::Head;
        }
        if (scan.state == http1::HeadScan::State::Invalid) {
          headError_ = scan.error;
          co_return HeadOutcome::Invalid;
        }
        scanned = scan.scanned;
      }
    }
    if (!started) {
      // Waiting for a request: hold no buffer memory while idle (10k idle clients stay cheap).
      idle_ = true;
      released_ = false;
      idleSince_ = Clock::now();
      if (!first) {
        arm(TimeoutKind::idle, to_.idle);
      }
      if (cbuf_.size() == 0 && cbuf_.capacity() > 2 * kReadChunk) {
        cbuf_.shrink_to_fit();
        bodyBuf_.reset();
      }
      if (prefix_.capacity() > kBodyBufferSize) {
        std::vector<char>().swap(prefix_); // a big inspected body is not kept while idle
      }
      if (cbuf_.size() == 0) {
        co_await client_.async_wait(tcp::socket::wait_read, BW_EC);
        if (ec) {
          co_return expired_ ? HeadOutcome::Timeout : HeadOutcome::Closed;
        }
      }
    }
    const size_t n = co_await client_.async_read_some(cbuf_.prepare(kReadChunk), BW_EC);
    if (ec) {
      co_return expired_ ? HeadOutcome::Timeout : HeadOutcome::Closed;
    }
    cbuf_.commit(n);
  }
}

// One request/response exchange. Returns whether the client connection stays open.
awaitable<bool> Session::handleRequest() {
  const Limits& lim = snap_->limits;
  const std::string_view head = view(cbuf_).substr(0, headLen_);
  const auto check = http1::checkRequestHead(head, lim);
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

  // Beast parses the head only (every field line is already known to fit its 16-bit
  // offsets); the body and any trailer are decoded by the proxy's own bounded decoder.
  reqParser_.emplace();
  reqParser_->header_limit(lim.maxHeaderBytes + 1);
  // Bodies are decoded (and limited) by body_. boost::none is broken in Beast 1.74: every
  // length compares greater than it.
  reqParser_->body_limit(UINT64_MAX);
  error_code ec;
  // Field lines with an invalid name are left out of what is parsed and forwarded.
  const std::string_view kept = info.droppedFields.empty() ? head : info.keptHead;
  const size_t used = reqParser_->put(asio::buffer(kept.data(), kept.size()), ec);
  if (ec || !reqParser_->is_header_done() || used != kept.size()) {
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

  const auto& req = reqParser_->get();
  started_ = Clock::now();
  requestId_.clear();
  if (auto it = req.find("x-request-id"); it != req.end() && validRequestId(it->value())) {
    requestId_ = std::string(it->value());
  } else {
    requestId_ = newRequestId();
  }
  Exchange x;
  x.info = &info;
  x.http10 = info.versionMinor == 0;
  x.hasBody = info.chunked || info.contentLength.value_or(0) > 0;
  x.isHead = req.method() == http::verb::head;
  // Upgrade: h2c is never honoured (after the app's 101 the connection would be an uninspected
  // tunnel); the request goes on as a plain HTTP/1.1 request without it. WebSocket upgrades
  // are inspected like any request and tunnelled after the app's 101.
  x.upgrade = !x.http10 && !info.upgradeH2c && reqParser_->upgrade() &&
              req.find(http::field::upgrade) != req.end();
  x.keepAlive = reqParser_->keep_alive() && !w_.draining();

  if (req.method() == http::verb::connect) {
    co_await sendError(405, "CONNECT is not supported by this reverse proxy");
    co_return false;
  }
  if (info.expectOther) {
    co_await sendError(417, "unsupported Expect value");
    co_return false;
  }
  WafAction action = WafAction::Pass;
  if (!co_await applyFilter(x, action)) {
    co_return false;
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

// Deny list, the inspected body prefix, the engine. The prefix is read before the app is
// contacted, so an attack in the body never reaches it; Expect: 100-continue is answered first
// (the head passed the checks). Returns false when the exchange already ended.
awaitable<bool> Session::applyFilter(Exchange& x, WafAction& action) {
  const Policy& policy = *snap_->policy;
  const auto& req = reqParser_->get();
  const std::string_view client = clientOf(policy, req, peerIp_);
  const auto clientIp = parseIp(client);
  const std::string_view target =
      x.info->absoluteForm ? std::string_view(x.info->originTarget) : req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string_view host =
      x.info->absoluteForm ? std::string_view(x.info->authority) : hostOf();
  const WafPlan plan = planRequest(policy, snap_->engine != nullptr, clientIp, host, path);
  if (plan.deny) {
    stats().denied.inc();
    emitAttackEvent({.requestId = requestId_, .client = client, .method = req.method_string(),
                     .host = host, .path = target, .verdict = nullptr,
                     .action = EventAction::Denied, .mode = plan.mode});
    action = WafAction::Deny;
    co_return true;
  }
  if (!plan.inspect) {
    co_return true;
  }
  if (x.hasBody && policy.inspectBodyBytes > 0) {
    if (x.info->expectContinue && !x.http10) {
      if (!co_await sendContinue()) {
        co_return false;
      }
      x.continueSent = true;
    }
    const BodyOutcome b = co_await readBodyPrefix(policy.inspectBodyBytes, x.prefixLen);
    if (b != BodyOutcome::Done) {
      co_await answerBodyFailure(b);
      co_return false;
    }
  }
  stats().inspected.inc();
  std::vector<detect::Header> headers;
  headers.reserve(16);
  for (const auto& f : req) {
    headers.push_back({f.name_string(), f.value()});
  }
  if (x.info->absoluteForm) {
    headers.push_back({"host", x.info->authority}); // the Host the app will see
  }
  for (const auto& [name, value] : x.info->droppedFields) {
    headers.push_back({name, value}); // not forwarded, still inspected
  }
  // Trailer fields are inspected like header fields (they are never forwarded).
  addTrailerFields(body_.trailers(), headers);
  const detect::RequestView request{.method = req.method_string(),
                                    .target = target,
                                    .versionMinor = x.info->versionMinor,
                                    .headers = headers,
                                    .body = std::string_view(prefix_.data(), x.prefixLen),
                                    .bodyTruncated = x.hasBody && !body_.done(),
                                    .paranoiaLevel = plan.paranoia};
  const detect::Verdict verdict = inspectRequest(*snap_->engine, request);
  if (verdict.limitExceeded) {
    stats().inspectionLimit.inc();
  }
  action = decide(plan, policy, clientIp, verdict);
  if (action == WafAction::Block || action == WafAction::Log) {
    const bool block = action == WafAction::Block;
    countAttack(verdict, block);
    emitAttackEvent({.requestId = requestId_, .client = client, .method = req.method_string(),
                     .host = host, .path = target, .verdict = &verdict,
                     .action = block ? EventAction::Blocked : EventAction::Logged,
                     .mode = plan.mode});
  }
  co_return true;
}

// A request the strict parser refused. In block mode a protocol violation is an attack like
// any other (403 and an event); otherwise it is answered 400 (431, 505 by reason).
awaitable<void> Session::refuseMalformed() {
  stats().badRequest(headError_);
  const Mode mode = snap_->policy->mode;
  if (mode == Mode::Block) {
    detect::Verdict v;
    v.findings.push_back({.cls = detect::AttackClass::Protocol,
                          .ruleId = kProtocolRuleBase + static_cast<uint32_t>(headError_),
                          .part = "head",
                          .value = std::string(http1::headErrorLabel(headError_))});
    v.score = v.threshold; // a protocol violation is certain, not scored evidence
    countAttack(v, true);
    const std::string_view data = view(cbuf_);
    const std::string_view line = data.substr(0, std::min(data.find('\r'), size_t{512}));
    if (requestId_.empty()) {
      requestId_ = newRequestId();
    }
    emitAttackEvent({.requestId = requestId_, .client = peerIp_, .method = "", .host = "",
                     .path = line, .verdict = &v, .action = EventAction::Blocked,
                     .mode = mode});
    co_await sendError(403, http1::headErrorLabel(headError_));
    co_return;
  }
  co_await sendError(http1::headErrorStatus(headError_), http1::headErrorLabel(headError_));
}

awaitable<bool> Session::sendContinue() {
  error_code ec;
  arm(TimeoutKind::send, to_.send);
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  co_await asio::async_write(client_, asio::buffer(kContinue), BW_EC);
  co_return !ec;
}

// Proxy-generated answer: small JSON body, request id, connection closed afterwards.
awaitable<void> Session::sendError(unsigned status, std::string_view error) {
  if (requestId_.empty()) {
    requestId_ = newRequestId();
  }
  const std::string msg =
      renderLocalReply({.status = status, .error = error, .requestId = requestId_});
  error_code ec;
  arm(TimeoutKind::send, std::min<std::chrono::milliseconds>(to_.send, 5s));
  co_await asio::async_write(client_, asio::buffer(msg), BW_EC);
  stats().countStatus(status);
  stats().response_bytes_total.inc(msg.size());
}

// 403 for a blocked request: a small HTML page for browsers, JSON otherwise.
awaitable<void> Session::sendBlocked() {
  const auto& req = reqParser_->get();
  const bool html = req[http::field::accept].find("text/html") != std::string_view::npos;
  const std::string msg = renderLocalReply(
      {.status = 403,
       .error = "request blocked by the web application firewall",
       .requestId = requestId_,
       .html = html,
       .headOnly = req.method() == http::verb::head,
       .close = !(reqParser_->keep_alive() && body_.done()) || w_.draining(),
       .noStore = true});
  error_code ec;
  arm(TimeoutKind::send, std::min<std::chrono::milliseconds>(to_.send, 5s));
  co_await asio::async_write(client_, asio::buffer(msg), BW_EC);
  finishRequest(403);
  stats().response_bytes_total.inc(msg.size());
}

// Half-close, then read and discard briefly, so unread client bytes do not turn our last
// answer into a reset (as web servers do for lingering close).
awaitable<void> Session::lingeringClose() {
  error_code ec;
  client_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    co_return;
  }
  arm(TimeoutKind::send, std::chrono::duration_cast<std::chrono::milliseconds>(kLingerTime));
  std::array<char, 4096> sink;
  for (int i = 0; i < 64; ++i) {
    co_await client_.async_read_some(asio::buffer(sink), BW_EC);
    if (ec) {
      break;
    }
  }
}

void Session::countAttack(const detect::Verdict& v, bool blocked) {
  std::array<bool, static_cast<size_t>(detect::AttackClass::Count)> seen{};
  for (const auto& f : v.findings) {
    const auto c = static_cast<size_t>(f.cls);
    if (!seen[c]) {
      seen[c] = true;
      stats().attacks[c][blocked ? 1 : 0].inc();
    }
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

std::string_view Session::hostOf() const {
  const auto& req = reqParser_->get();
  auto it = req.find(http::field::host);
  return it == req.end() ? std::string_view() : it->value();
}

} // namespace bulwark::filter

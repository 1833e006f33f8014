// The answers a session writes itself: a refused head, 100 Continue, the proxy's own errors, the
// block page, and the lingering close after a last answer.
#include "session.h"

#include <algorithm>
#include <array>

#include <boost/asio/write.hpp>

#include "bulwark/filter/events.h"
#include "bulwark/filter/forward_headers.h"
#include "bulwark/filter/local_reply.h"

namespace bulwark::filter {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kProtocolRuleBase = 920000;
constexpr auto kLingerTime = 1s;

} // namespace

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
                     .mode = mode, .application = snap_->policy->application,
                     .nodeGroup = snap_->policy->nodeGroup});
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
  // The answer to a HEAD has no content (RFC 9110 9.3.2), the proxy's own errors included.
  const std::string msg = renderLocalReply(
      {.status = status, .error = error, .requestId = requestId_, .headOnly = headRequest_});
  error_code ec;
  arm(TimeoutKind::send, std::min<std::chrono::milliseconds>(to_.send, 5s));
  co_await asio::async_write(client_, asio::buffer(msg), BW_EC);
  stats().countStatus(status);
  stats().response_bytes_total.inc(msg.size());
}

// 403 for a blocked request: a small HTML page for browsers, JSON otherwise.
awaitable<void> Session::sendBlocked() {
  const http1::Request& req = req_;
  const bool limit = stream_ && stream_->limitHit; // on_limit: the body cannot be inspected
  const bool html =
      !limit && req[http::field::accept].find("text/html") != std::string_view::npos;
  const std::string msg = renderLocalReply(
      {.status = limit ? 413u : 403u,
       .error = limit ? "request body larger than the firewall inspects"
                      : "request blocked by the web application firewall",
       .requestId = requestId_,
       .html = html,
       .htmlPage = snap_->blockPage.get(),
       .headOnly = req.verb == http::verb::head,
       .close = !(req.keepAlive && body_.done()) || w_.draining(),
       .noStore = true});
  error_code ec;
  arm(TimeoutKind::send, std::min<std::chrono::milliseconds>(to_.send, 5s));
  co_await asio::async_write(client_, asio::buffer(msg), BW_EC);
  finishRequest(limit ? 413 : 403);
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

} // namespace bulwark::filter

#include "bulwark/filter/proxy.h"

#include <array>
#include <memory>
#include <optional>
#include <random>

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/intrusive/list.hpp>

#include "bulwark/common/log.h"
#include "bulwark/filter/events.h"
#include "bulwark/filter/http_head.h"
#include "bulwark/filter/orig_dst.h"
#include "bulwark/filter/stats.h"

namespace bulwark::filter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using asio::awaitable;
using boost::system::error_code;
using namespace std::chrono_literals;

// Every async step of a session reports through an error_code, never an exception.
#define BW_EC asio::redirect_error(asio::use_awaitable, ec)

const log::Logger kLog("proxy");

constexpr size_t kBodyBufferSize = 32 * 1024;
constexpr size_t kReadChunk = 8 * 1024;
constexpr size_t kUpstreamHeadLimit = 64 * 1024;
constexpr auto kSweepInterval = 100ms;
constexpr auto kDrainIdleGrace = 1s;
constexpr auto kLingerTime = 1s;

std::string_view view(const beast::flat_buffer& b) {
  return {static_cast<const char*>(b.data().data()), b.size()};
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

const boost::system::error_category& httpCategory() {
  return http::make_error_code(http::error::need_buffer).category();
}

bool validRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string newRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   static_cast<uint64_t>(Clock::now().time_since_epoch().count())};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (int i = 0; i < 16; ++i) {
      id[half * 16 + i] = kHex[v & 0xF];
      v >>= 4;
    }
  }
  return id;
}

// Headers that describe one hop and are never forwarded.
bool isHopByHop(http::field f) {
  switch (f) {
  case http::field::connection:
  case http::field::keep_alive:
  case http::field::proxy_connection:
  case http::field::te:
  case http::field::trailer:
  case http::field::transfer_encoding:
  case http::field::upgrade:
  case http::field::content_length: // re-added by the proxy from the parsed framing
    return true;
  default:
    return false;
  }
}

// Names listed in a Connection header are hop-by-hop for this message too.
std::vector<std::string> connectionTokens(std::string_view connectionValue) {
  return cli::splitList(connectionValue);
}

bool listedIn(const std::vector<std::string>& tokens, std::string_view name) {
  for (const auto& t : tokens) {
    if (iequals(t, name)) {
      return true;
    }
  }
  return false;
}

std::string_view reasonFor(unsigned status) {
  switch (status) {
  case 400:
    return "Bad Request";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 413:
    return "Content Too Large";
  case 417:
    return "Expectation Failed";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return http::obsolete_reason(static_cast<http::status>(status));
  }
}

// ---------------------------------------------------------------------------------------------
// Per-thread pool of idle keep-alive connections to the app.
class UpstreamPool {
public:
  UpstreamPool(uint32_t maxIdle, std::chrono::milliseconds idleTimeout)
      : maxIdle_(maxIdle), idleTimeout_(idleTimeout) {}

  // Hands out the most recently used live connection to `ep` (LIFO keeps few connections warm).
  // A connection idle for a while, or one about to carry a body (which cannot be re-sent), is
  // checked for a close by the app first; a fresh one is trusted and a failure retried.
  bool take(const tcp::endpoint& ep, tcp::socket& out, bool mustVerify) {
    const auto now = Clock::now();
    for (size_t i = idle_.size(); i-- > 0;) {
      if (idle_[i].ep != ep) {
        continue;
      }
      const bool verify = mustVerify || now - idle_[i].since > kTrustFresh;
      tcp::socket s = std::move(idle_[i].sock);
      idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
      if (!verify || alive(s)) {
        out = std::move(s);
        return true;
      }
      error_code ignored;
      s.close(ignored);
    }
    return false;
  }

  void put(const tcp::endpoint& ep, tcp::socket&& s) {
    error_code ignored;
    if (maxIdle_ == 0) {
      s.close(ignored);
      return;
    }
    if (idle_.size() >= maxIdle_) {
      idle_.front().sock.close(ignored);
      idle_.erase(idle_.begin());
    }
    idle_.push_back({std::move(s), ep, Clock::now()});
  }

  void sweep(Clock::time_point now) {
    std::erase_if(idle_, [&](Entry& e) {
      if (now - e.since < idleTimeout_) {
        return false;
      }
      error_code ignored;
      e.sock.close(ignored);
      return true;
    });
  }

  void clear() {
    for (auto& e : idle_) {
      error_code ignored;
      e.sock.close(ignored);
    }
    idle_.clear();
  }

private:
  static constexpr auto kTrustFresh = std::chrono::milliseconds(200);

  struct Entry {
    tcp::socket sock;
    tcp::endpoint ep;
    Clock::time_point since;
  };

  // An idle app connection is usable if the app has neither closed it nor sent stray bytes.
  static bool alive(tcp::socket& s) {
    char c;
    const ssize_t n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  std::vector<Entry> idle_;
  uint32_t maxIdle_;
  std::chrono::milliseconds idleTimeout_;
};

// ---------------------------------------------------------------------------------------------
// Timeout bookkeeping: each connection has one deadline; the worker's sweep checks them all a
// few times a second (setting a deadline is a store, not a timer operation).
class Conn : public boost::intrusive::list_base_hook<
                 boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
public:
  virtual ~Conn() = default;
  virtual void expire(bool drainClose) = 0;

  void arm(TimeoutKind kind, std::chrono::milliseconds d) {
    kind_ = kind;
    deadline_ = Clock::now() + d;
    expired_ = false;
  }

  Clock::time_point deadline_ = Clock::time_point::max();
  TimeoutKind kind_ = TimeoutKind::idle;
  bool expired_ = false;
  bool idle_ = false; // waiting for a next request that has not started
  Clock::time_point idleSince_{};
};

using ConnList =
    boost::intrusive::list<Conn, boost::intrusive::constant_time_size<false>>;

} // namespace

// ---------------------------------------------------------------------------------------------
class Worker {
public:
  Worker(const ProxyConfig& cfg, const std::vector<uint16_t>& listenPorts,
         const detect::Engine* engine, const PolicyStore& policies)
      : cfg_(cfg), listenPorts_(listenPorts), engine_(engine), policies_(policies),
        pool_(cfg.pool.maxIdlePerThread, cfg.pool.idle), sweepTimer_(ctx_) {}

  const detect::Engine* engine() const { return engine_; }
  // This thread's reference to the current policy, refreshed when a reload swapped it.
  const std::shared_ptr<const Policy>& policy() {
    const uint64_t v = policies_.version();
    if (v != policyVersion_) {
      policy_ = policies_.get();
      policyVersion_ = v;
    }
    return policy_;
  }

  asio::io_context& ctx() { return ctx_; }
  const ProxyConfig& cfg() const { return cfg_; }
  const std::vector<uint16_t>& listenPorts() const { return listenPorts_; }
  UpstreamPool& pool() { return pool_; }
  bool draining() const { return draining_; }
  std::vector<tcp::acceptor>& acceptors() { return acceptors_; }
  void track(Conn& c) { conns_.push_back(c); }

  void start() {
    for (auto& a : acceptors_) {
      asio::co_spawn(ctx_, acceptLoop(a), asio::detached);
    }
    asio::co_spawn(ctx_, sweepLoop(), asio::detached);
  }

  // Runs on the worker thread: accept what is already queued (those clients connected before
  // the drain began and must be served), then close the listen sockets.
  void drain() {
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

  void spawnSession(tcp::socket s);

private:
  awaitable<void> acceptLoop(tcp::acceptor& acceptor) {
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

  awaitable<void> sweepLoop() {
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

  asio::io_context ctx_{1};
  const ProxyConfig& cfg_;
  const std::vector<uint16_t>& listenPorts_;
  const detect::Engine* engine_;
  const PolicyStore& policies_;
  std::shared_ptr<const Policy> policy_;
  uint64_t policyVersion_ = 0;
  std::vector<tcp::acceptor> acceptors_;
  ConnList conns_;
  UpstreamPool pool_;
  asio::steady_timer sweepTimer_;
  Clock::time_point lastPoolSweep_{};
  bool draining_ = false;
};

namespace {

// ---------------------------------------------------------------------------------------------
// One client connection: reads requests, validates and forwards them, relays the answers.
class Session : public Conn, public std::enable_shared_from_this<Session> {
public:
  Session(Worker& w, tcp::socket s)
      : w_(w), cfg_(w.cfg()), lim_(cfg_.limits), to_(cfg_.timeouts), client_(std::move(s)),
        upstream_(w.ctx()), tunnelDone_(w.ctx()) {
    stats().connections_total.inc();
    stats().connectionsActive.add();
  }
  ~Session() override { stats().connectionsActive.sub(); }

  static awaitable<void> run(std::shared_ptr<Session> self) {
    try {
      co_await self->serve();
    } catch (const std::exception& e) {
      kLog.error("session aborted", {{"error", e.what()}});
    }
    self->closeAll();
  }

  void expire(bool drainClose) override {
    deadline_ = Clock::time_point::max();
    expired_ = true;
    drainClose_ = drainClose;
    error_code ignored;
    client_.cancel(ignored);
    upstream_.cancel(ignored);
  }

private:
  enum class HeadOutcome { Head, Closed, Timeout, Invalid, NotHttp };
  enum class BodyOutcome { Done, ClientError, ClientGone, ClientTimeout, UpstreamFailed };
  static constexpr uint32_t kProtocolRuleBase = 920000;

  awaitable<void> serve() {
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
      const HeadOutcome r = co_await readHead(first);
      first = false;
      if (r == HeadOutcome::Closed) {
        co_return;
      }
      if (r == HeadOutcome::Timeout) {
        if (drainClose_) {
          co_return;
        }
        stats().timeout(kind_);
        if (kind_ == TimeoutKind::header) {
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

  tcp::endpoint resolveUpstream() {
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
  awaitable<HeadOutcome> readHead(bool first) {
    error_code ec;
    size_t scanned = 0;
    bool started = false;
    bool sniffed = !first;
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
          arm(TimeoutKind::header, to_.header);
        }
        if (!sniffed) {
          const auto s = http1::sniffProtocol(data, lim_);
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
          const auto scan = http1::scanHead(data, scanned, lim_);
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
        idleSince_ = Clock::now();
        arm(TimeoutKind::idle, to_.idle);
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
  awaitable<bool> handleRequest() {
    const std::string_view head = view(cbuf_).substr(0, headLen_);
    const auto check = http1::checkRequestHead(head, lim_);
    if (check.error != http1::HeadError::None) {
      headError_ = check.error;
      co_await refuseMalformed();
      co_return false;
    }
    const http1::HeadInfo& info = check.info;
    if (lim_.maxBodyBytes != 0 && info.contentLength.value_or(0) > lim_.maxBodyBytes) {
      co_await sendError(413, "request body larger than limits.max_body_bytes");
      co_return false;
    }

    reqParser_.emplace();
    reqParser_->header_limit(lim_.maxHeaderBytes + 1);
    reqParser_->body_limit(lim_.maxBodyBytes ? lim_.maxBodyBytes : UINT64_MAX);
    error_code ec;
    const size_t used = reqParser_->put(asio::buffer(head.data(), head.size()), ec);
    if (ec || !reqParser_->is_header_done()) {
      headError_ = http1::HeadError::BadRequestLine;
      co_await refuseMalformed();
      co_return false;
    }
    cbuf_.consume(used);
    stats().request_bytes_total.inc(used);

    auto& req = reqParser_->get();
    started_ = Clock::now();
    requestId_.clear();
    if (auto it = req.find("x-request-id"); it != req.end() && validRequestId(it->value())) {
      requestId_ = std::string(it->value());
    } else {
      requestId_ = newRequestId();
    }
    const bool http10 = info.versionMinor == 0;
    const bool hasBody = info.chunked || info.contentLength.value_or(0) > 0;
    const bool isHead = req.method() == http::verb::head;
    const bool upgrade = !http10 && reqParser_->upgrade() && req.find(http::field::upgrade) != req.end();
    bool keepAlive = reqParser_->keep_alive() && !w_.draining();

    if (req.method() == http::verb::connect) {
      co_await sendError(405, "CONNECT is not supported by this reverse proxy");
      co_return false;
    }
    if (info.expectOther) {
      co_await sendError(417, "unsupported Expect value");
      co_return false;
    }
    // Policy: deny list first, then inspection (unless allow-listed or the mode is off).
    policy_ = w_.policy();
    const std::string client = clientAddress(req);
    const auto clientIp = parseIp(client);
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    const Mode mode = policy_->overrides.empty() ? policy_->mode
                                                 : policy_->modeFor(hostOf(req), path);
    if (clientIp && policy_->deny.contains(*clientIp)) {
      stats().denied.inc();
      emitAttackEvent({.requestId = requestId_, .client = client, .method = req.method_string(),
                       .host = hostOf(req), .path = target, .verdict = nullptr,
                       .action = EventAction::Denied, .mode = mode});
      co_await sendBlocked(req);
      co_return false;
    }
    const bool inspect = mode != Mode::Off && w_.engine() != nullptr &&
                         !(clientIp && policy_->allow.contains(*clientIp));

    // The inspected body prefix is read before the app is contacted, so an attack in the body
    // never reaches it. Expect: 100-continue is answered first (the head passed the checks).
    bool continueSent = false;
    size_t prefixLen = 0;
    if (inspect && hasBody && policy_->inspectBodyBytes > 0) {
      if (info.expectContinue && !http10) {
        if (!co_await sendContinue()) {
          co_return false;
        }
        continueSent = true;
      }
      const BodyOutcome b = co_await readBodyPrefix(policy_->inspectBodyBytes, prefixLen);
      if (b != BodyOutcome::Done) {
        co_await answerBodyFailure(b);
        co_return false;
      }
    }
    if (inspect) {
      stats().inspected.inc();
      const bool fullBody = reqParser_->is_done();
      std::vector<detect::Header> headers;
      headers.reserve(16);
      for (const auto& f : req) {
        headers.push_back({f.name_string(), f.value()});
      }
      detect::RequestView view{.method = req.method_string(),
                               .target = target,
                               .versionMinor = info.versionMinor,
                               .headers = headers,
                               .body = std::string_view(prefix_.data(), prefixLen),
                               .bodyTruncated = hasBody && !fullBody};
      const detect::Verdict verdict = w_.engine()->inspect(view);
      if (verdict.limitExceeded) {
        stats().inspectionLimit.inc();
      }
      if (verdict.attack()) {
        const bool block =
            mode == Mode::Block ||
            (mode == Mode::SafeBlocking && clientIp && policy_->gray.contains(*clientIp));
        countAttack(verdict, block);
        emitAttackEvent({.requestId = requestId_, .client = client,
                         .method = req.method_string(), .host = hostOf(req), .path = target,
                         .verdict = &verdict,
                         .action = block ? EventAction::Blocked : EventAction::Logged,
                         .mode = mode});
        if (block) {
          co_await sendBlocked(req);
          co_return keepAlive && reqParser_->is_done() && !upgrade;
        }
      }
    }

    const std::string upHead = upstreamHead(req, info, upgrade);

    // Connect (or reuse), send the head and relay the body; a pooled connection that turns out to
    // be dead before any answer is replaced once, when the request can be sent again (no body).
    bool upstreamUsable = true;
    for (int attempt = 0;; ++attempt) {
      bool reused = false;
      if (const unsigned st = co_await connectUpstream(reused, true, hasBody); st != 0) {
        co_await sendError(st, st == 504 ? "app connect timeout" : "app unreachable");
        co_return false;
      }
      if (!continueSent && info.expectContinue && hasBody && !http10) {
        if (!co_await sendContinue()) {
          co_return false;
        }
        continueSent = true;
      }
      arm(TimeoutKind::upstream, to_.upstreamRead);
      if (prefixLen > 0 || (hasBody && reqParser_->is_done())) {
        // Head and the inspected body prefix in one write; the terminator if that was all.
        co_await writeFramed(upstream_, upHead, prefix_.data(), prefixLen, info.chunked,
                             info.chunked && reqParser_->is_done(), ec);
      } else {
        co_await asio::async_write(upstream_, asio::buffer(upHead), BW_EC);
      }
      if (ec) {
        closeUpstream();
        if (reused && attempt == 0 && !expired_ && !hasBody) {
          continue;
        }
        stats().upstreamError(expired_ ? UpstreamError::timeout : UpstreamError::closed);
        co_await sendError(expired_ ? 504 : 502, "app closed the connection");
        co_return false;
      }
      if (hasBody && !reqParser_->is_done()) {
        const BodyOutcome b = co_await relayRequestBody(info.chunked);
        if (b == BodyOutcome::UpstreamFailed) {
          upstreamUsable = false;
          keepAlive = false; // the rest of the body is still on the client connection
        } else if (b != BodyOutcome::Done) {
          closeUpstream();
          co_await answerBodyFailure(b);
          co_return false;
        }
      }

      co_await readResponseHead(isHead, ec);
      if (!ec) {
        break;
      }
      const bool timedOut = expired_;
      closeUpstream();
      if (reused && attempt == 0 && !hasBody && !timedOut &&
          (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == asio::error::eof)) {
        continue;
      }
      if (timedOut) {
        stats().timeout(TimeoutKind::upstream);
        stats().upstreamError(UpstreamError::timeout);
        co_await sendError(504, "app did not answer in time");
      } else {
        stats().upstreamError(ec.category() == httpCategory() &&
                                      ec != http::error::end_of_stream
                                  ? UpstreamError::bad_response
                                  : UpstreamError::closed);
        co_await sendError(502, "app closed the connection or sent a malformed response");
      }
      co_return false;
    }

    co_return co_await relayResponse(info, isHead, upgrade, keepAlive, upstreamUsable);
  }

  // A fresh response parser and the app's next response head (a HEAD answer has no body).
  awaitable<void> readResponseHead(bool isHead, error_code& ec) {
    resParser_.emplace();
    resParser_->header_limit(kUpstreamHeadLimit);
    resParser_->body_limit(UINT64_MAX);
    if (isHead) {
      resParser_->skip(true);
    }
    arm(TimeoutKind::upstream, to_.upstreamRead);
    co_await http::async_read_header(upstream_, ubuf_, *resParser_, BW_EC);
  }

  // A request the strict parser refused. In block mode a protocol violation is an attack like
  // any other (403 and an event); otherwise it is answered 400 (505 for the version).
  awaitable<void> refuseMalformed() {
    stats().badRequests[static_cast<size_t>(headError_)].inc();
    const auto policy = w_.policy();
    if (policy->mode == Mode::Block && w_.engine() != nullptr) {
      detect::Verdict v;
      v.findings.push_back({.cls = detect::AttackClass::Protocol,
                            .ruleId = kProtocolRuleBase + static_cast<uint32_t>(headError_),
                            .part = "head",
                            .value = std::string(http1::headErrorLabel(headError_))});
      countAttack(v, true);
      const std::string_view data = view(cbuf_);
      const std::string_view line = data.substr(0, std::min(data.find('\r'), size_t{512}));
      if (requestId_.empty()) {
        requestId_ = newRequestId();
      }
      emitAttackEvent({.requestId = requestId_, .client = peerIp_, .method = "", .host = "",
                       .path = line, .verdict = &v, .action = EventAction::Blocked,
                       .mode = policy->mode});
      co_await sendError(403, http1::headErrorLabel(headError_));
      co_return;
    }
    co_await sendError(http1::headErrorStatus(headError_), http1::headErrorLabel(headError_));
  }

  awaitable<bool> sendContinue() {
    error_code ec;
    arm(TimeoutKind::send, to_.send);
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    co_await asio::async_write(client_, asio::buffer(kContinue), BW_EC);
    co_return !ec;
  }

  awaitable<void> answerBodyFailure(BodyOutcome b) {
    if (b == BodyOutcome::ClientError) {
      const bool tooLarge = bodyError_ == http::error::body_limit;
      if (!tooLarge) {
        stats().badRequests[static_cast<size_t>(http1::HeadError::BadChunk)].inc();
      }
      co_await sendError(tooLarge ? 413 : 400, tooLarge ? "request body too large" : "malformed body");
    } else if (b == BodyOutcome::ClientTimeout) {
      stats().timeout(TimeoutKind::body);
      co_await sendError(408, "request body not received in time");
    }
  }

  // Reads up to `limit` body bytes into prefix_ (fewer when the body is shorter).
  awaitable<BodyOutcome> readBodyPrefix(uint64_t limit, size_t& got) {
    error_code ec;
    got = 0;
    // Only as much room as this body can use: a small JSON POST does not cost the whole limit.
    const uint64_t cl = reqParser_->content_length().value_or(limit);
    limit = std::min(limit, cl);
    if (prefix_.size() < limit) {
      prefix_.resize(limit);
    }
    auto& body = reqParser_->get().body();
    while (!reqParser_->is_done() && got < limit) {
      body.data = prefix_.data() + got;
      body.size = limit - got;
      arm(TimeoutKind::body, to_.body);
      co_await http::async_read_some(client_, cbuf_, *reqParser_, BW_EC);
      if (ec == http::error::need_buffer) {
        ec = {};
      }
      stats().request_bytes_total.inc(limit - body.size - got);
      got = limit - body.size;
      if (ec) {
        co_return classifyBodyError(ec);
      }
    }
    co_return BodyOutcome::Done;
  }

  BodyOutcome classifyBodyError(const error_code& ec) {
    if (expired_) {
      return BodyOutcome::ClientTimeout;
    }
    if (ec.category() == httpCategory() && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      bodyError_ = ec;
      return BodyOutcome::ClientError;
    }
    return BodyOutcome::ClientGone;
  }

  void countAttack(const detect::Verdict& v, bool blocked) {
    std::array<bool, static_cast<size_t>(detect::AttackClass::Count)> seen{};
    for (const auto& f : v.findings) {
      const auto c = static_cast<size_t>(f.cls);
      if (!seen[c]) {
        seen[c] = true;
        stats().attacks[c][blocked ? 1 : 0].inc();
      }
    }
  }

  static std::string_view hostOf(const http::request<http::buffer_body>& req) {
    auto it = req.find(http::field::host);
    return it == req.end() ? std::string_view() : it->value();
  }

  // The client: the socket peer, or the last X-Forwarded-For hop when the policy trusts the
  // proxy in front of the pod to append it.
  std::string clientAddress(const http::request<http::buffer_body>& req) const {
    if (policy_->trustForwardedFor) {
      std::string_view last;
      for (const auto& f : req) {
        if (iequals(f.name_string(), "x-forwarded-for")) {
          last = f.value();
        }
      }
      if (!last.empty()) {
        const auto comma = last.rfind(',');
        std::string_view hop = comma == std::string_view::npos ? last : last.substr(comma + 1);
        while (!hop.empty() && (hop.front() == ' ' || hop.front() == '\t')) hop.remove_prefix(1);
        while (!hop.empty() && (hop.back() == ' ' || hop.back() == '\t')) hop.remove_suffix(1);
        if (parseIp(hop)) {
          return std::string(hop);
        }
      }
    }
    return peerIp_;
  }

  // 403 for a blocked request: a small HTML page for browsers, JSON otherwise.
  awaitable<void> sendBlocked(const http::request<http::buffer_body>& req) {
    const auto accept = req[http::field::accept];
    const bool html = accept.find("text/html") != std::string_view::npos;
    std::string body;
    if (html) {
      body = "<!doctype html><html><head><title>403 Forbidden</title></head><body>"
             "<h1>403 Forbidden</h1><p>This request was blocked by the web application "
             "firewall.</p><p>Request ID: <code>" + requestId_ + "</code></p></body></html>\n";
    } else {
      body = "{\"status\":403,\"error\":\"request blocked by the web application firewall\","
             "\"request_id\":\"" + requestId_ + "\"}\n";
    }
    const bool close = !(reqParser_->keep_alive() && reqParser_->is_done()) || w_.draining();
    const bool isHead = req.method() == http::verb::head;
    std::string msg = "HTTP/1.1 403 Forbidden\r\nContent-Type: " +
                      std::string(html ? "text/html; charset=utf-8" : "application/json") +
                      "\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nCache-Control: no-store\r\nX-Request-Id: " + requestId_ +
                      (close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n") +
                      (isHead ? std::string() : body);
    error_code ec;
    arm(TimeoutKind::send, std::min<std::chrono::milliseconds>(to_.send, 5s));
    co_await asio::async_write(client_, asio::buffer(msg), BW_EC);
    finishRequest(403);
    stats().response_bytes_total.inc(msg.size());
  }

  // The request head sent to the app: HTTP/1.1, hop-by-hop fields removed, framing re-stated,
  // X-Forwarded-* and X-Request-Id set.
  std::string upstreamHead(const http::request<http::buffer_body>& req, const http1::HeadInfo& info,
                           bool upgrade) const {
    std::string out;
    out.reserve(512 + headLen_);
    out.append(req.method_string());
    out += ' ';
    out.append(req.target());
    out += " HTTP/1.1\r\n";
    std::vector<std::string> dropped;
    if (auto c = req.find(http::field::connection); c != req.end()) {
      dropped = connectionTokens(c->value());
    }
    std::string xff;
    bool host = false;
    for (const auto& f : req) {
      const auto name = f.name();
      if (isHopByHop(name) || name == http::field::expect) {
        continue;
      }
      const auto fname = f.name_string();
      if (name == http::field::unknown && iequals(fname, "x-forwarded-for")) {
        if (!xff.empty()) {
          xff += ", ";
        }
        xff.append(f.value());
        continue;
      }
      if (name == http::field::unknown &&
          (iequals(fname, "x-forwarded-proto") || iequals(fname, "x-request-id"))) {
        continue;
      }
      if (!dropped.empty() && listedIn(dropped, f.name_string())) {
        continue;
      }
      host = host || name == http::field::host;
      out.append(f.name_string());
      out += ": ";
      out.append(f.value());
      out += "\r\n";
    }
    if (!host) {
      out += "Host: ";
      out += local_.address().is_v6() ? "[" + local_.address().to_string() + "]"
                                      : local_.address().to_string();
      out += ':';
      out += std::to_string(local_.port());
      out += "\r\n";
    }
    out += "X-Forwarded-For: ";
    if (!xff.empty()) {
      out += xff;
      out += ", ";
    }
    out += peerIp_;
    out += "\r\nX-Forwarded-Proto: http\r\nX-Request-Id: ";
    out += requestId_;
    out += "\r\n";
    if (info.chunked) {
      out += "Transfer-Encoding: chunked\r\n";
    } else if (info.contentLength) {
      out += "Content-Length: ";
      out += std::to_string(*info.contentLength);
      out += "\r\n";
    }
    if (upgrade) {
      out += "Connection: Upgrade\r\nUpgrade: ";
      out.append(req[http::field::upgrade]);
      out += "\r\n";
    }
    out += "\r\n";
    return out;
  }

  // Returns 0 on success, else the status to answer (502 refused/unreachable, 504 timeout).
  awaitable<unsigned> connectUpstream(bool& reused, bool allowPool = true, bool withBody = false) {
    if (allowPool && w_.pool().take(upstreamEp_, upstream_, withBody)) {
      reused = true;
      stats().upstream_reused_total.inc();
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


  char* bodyBuffer() {
    if (!bodyBuf_) {
      bodyBuf_ = std::make_unique<char[]>(kBodyBufferSize);
    }
    return bodyBuf_.get();
  }

  // Streams the request body to the app in bounded pieces, re-framed (chunked stays chunked).
  awaitable<BodyOutcome> relayRequestBody(bool chunked) {
    error_code ec;
    char* buf = bodyBuffer();
    auto& body = reqParser_->get().body();
    while (!reqParser_->is_done()) {
      body.data = buf;
      body.size = kBodyBufferSize;
      arm(TimeoutKind::body, to_.body);
      co_await http::async_read_some(client_, cbuf_, *reqParser_, BW_EC);
      if (ec == http::error::need_buffer) {
        ec = {};
      }
      if (ec) {
        co_return classifyBodyError(ec);
      }
      const size_t n = kBodyBufferSize - body.size;
      stats().request_bytes_total.inc(n);
      const bool last = reqParser_->is_done();
      if (n == 0 && !(last && chunked)) {
        continue;
      }
      arm(TimeoutKind::upstream, to_.upstreamRead);
      co_await writeFramed(upstream_, {}, buf, n, chunked, last && chunked, ec);
      if (ec) {
        co_return BodyOutcome::UpstreamFailed;
      }
    }
    co_return BodyOutcome::Done;
  }

  // Writes [prefix][chunk-size CRLF]data[CRLF][0 CRLF CRLF] in one gather write.
  awaitable<void> writeFramed(tcp::socket& to, std::string_view prefix, const char* data, size_t n,
                              bool chunked, bool terminate, error_code& ec) {
    char sizeLine[24];
    std::array<asio::const_buffer, 5> bufs;
    size_t count = 0;
    if (!prefix.empty()) {
      bufs[count++] = asio::buffer(prefix);
    }
    if (chunked && n > 0) {
      const int len = std::snprintf(sizeLine, sizeof sizeLine, "%zx\r\n", n);
      bufs[count++] = asio::buffer(sizeLine, static_cast<size_t>(len));
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
      co_return;
    }
    co_await asio::async_write(to, std::span(bufs.data(), count), BW_EC);
  }

  // Forwards interim responses, then the final one: head rewritten for this hop, body streamed.
  awaitable<bool> relayResponse(const http1::HeadInfo& info, bool isHead, bool upgrade,
                                bool keepAlive, bool upstreamUsable) {
    error_code ec;
    const bool http10 = info.versionMinor == 0;
    for (;;) {
      const unsigned status = resParser_->get().result_int();
      if (status >= 200 || status == 101) {
        break;
      }
      if (status != 100 && !http10) { // 100 is answered by the proxy itself
        const std::string interim = responseHead(false, false, false);
        arm(TimeoutKind::send, to_.send);
        co_await asio::async_write(client_, asio::buffer(interim), BW_EC);
        if (ec) {
          closeUpstream();
          co_return false;
        }
      }
      co_await readResponseHead(isHead, ec);
      if (ec) {
        const bool timedOut = expired_;
        closeUpstream();
        stats().upstreamError(timedOut ? UpstreamError::timeout : UpstreamError::closed);
        co_await sendError(timedOut ? 504 : 502, "app failed after an interim response");
        co_return false;
      }
    }

    auto& res = resParser_->get();
    const unsigned status = res.result_int();
    if (status == 101) {
      if (!upgrade) {
        closeUpstream();
        stats().upstreamError(UpstreamError::bad_response);
        co_await sendError(502, "app switched protocols without an upgrade request");
        co_return false;
      }
      const std::string h = responseHead(true, false, false);
      arm(TimeoutKind::send, to_.send);
      co_await asio::async_write(client_, asio::buffer(h), BW_EC);
      finishRequest(status);
      if (!ec) {
        co_await tunnel();
      }
      co_return false;
    }

    const bool bodyless = isHead || status == 204 || status == 304;
    bool chunkedOut = false;
    bool closeAfter = !keepAlive || w_.draining();
    if (!bodyless && !resParser_->content_length()) {
      if (http10) {
        closeAfter = true; // close-delimited for an HTTP/1.0 client
      } else {
        chunkedOut = true;
      }
    }
    const std::string head = responseHead(false, chunkedOut, closeAfter, http10);

    bool responseComplete = true;
    if (bodyless || resParser_->is_done()) {
      arm(TimeoutKind::send, to_.send);
      co_await writeFramed(client_, head, nullptr, 0, chunkedOut, chunkedOut && !bodyless, ec);
      stats().response_bytes_total.inc(head.size());
      if (ec) {
        closeUpstream();
        co_return false;
      }
    } else {
      char* buf = bodyBuffer();
      auto& body = res.body();
      std::string_view pendingHead = head;
      while (!resParser_->is_done()) {
        if (!pendingHead.empty() && ubuf_.size() == 0) {
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
        body.data = buf;
        body.size = kBodyBufferSize;
        arm(TimeoutKind::upstream, to_.upstreamRead);
        co_await http::async_read_some(upstream_, ubuf_, *resParser_, BW_EC);
        if (ec == http::error::need_buffer) {
          ec = {};
        }
        if (ec) {
          // The head (and maybe part of the body) is gone already: all we can do is close, so
          // the client sees a truncated response rather than a wrong one.
          if (expired_) {
            stats().timeout(TimeoutKind::upstream);
          }
          stats().upstreamError(expired_ ? UpstreamError::timeout : UpstreamError::closed);
          closeUpstream();
          responseComplete = false;
          break;
        }
        const size_t n = kBodyBufferSize - body.size;
        const bool last = resParser_->is_done();
        arm(TimeoutKind::send, to_.send);
        co_await writeFramed(client_, pendingHead, buf, n, chunkedOut, last && chunkedOut, ec);
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
      if (!responseComplete) {
        co_return false;
      }
    }

    finishRequest(status);
    if (upstreamUsable && resParser_->keep_alive() && resParser_->is_done() && upstream_.is_open()) {
      w_.pool().put(upstreamEp_, std::move(upstream_));
      upstream_ = tcp::socket(w_.ctx());
    } else {
      closeUpstream();
    }
    // When a drain began after the head went out, the connection stays until it is idle for a
    // moment (the sweep closes it) or the next request, answered with Connection: close.
    co_return !closeAfter;
  }

  // The response head for the client. `keepUpgrade` keeps Connection/Upgrade (101).
  std::string responseHead(bool keepUpgrade, bool chunkedOut, bool closeAfter,
                           bool http10 = false) const {
    const auto& res = resParser_->get();
    const unsigned status = res.result_int();
    std::string out;
    out.reserve(512);
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    const auto reason = res.reason();
    out.append(reason.empty() ? reasonFor(status) : reason);
    out += "\r\n";
    std::vector<std::string> dropped;
    if (auto c = res.find(http::field::connection); c != res.end() && !keepUpgrade) {
      dropped = connectionTokens(c->value());
    }
    bool hasId = false;
    const bool keepLength = !resParser_->chunked();
    for (const auto& f : res) {
      const auto name = f.name();
      if (keepUpgrade && (name == http::field::connection || name == http::field::upgrade)) {
        // fall through: a 101 keeps its protocol switch fields
      } else if (name == http::field::content_length && keepLength) {
        // fall through: the length stays (also for HEAD and 304 answers)
      } else if (isHopByHop(name) ||
                 (!dropped.empty() && listedIn(dropped, f.name_string()))) {
        continue;
      }
      hasId = hasId || iequals(f.name_string(), "x-request-id");
      out.append(f.name_string());
      out += ": ";
      out.append(f.value());
      out += "\r\n";
    }
    if (!hasId) {
      out += "X-Request-Id: ";
      out += requestId_;
      out += "\r\n";
    }
    if (chunkedOut) {
      out += "Transfer-Encoding: chunked\r\n";
    }
    if (!keepUpgrade && status >= 200) {
      if (closeAfter) {
        out += "Connection: close\r\n";
      } else if (http10) {
        out += "Connection: keep-alive\r\n";
      }
    }
    out += "\r\n";
    return out;
  }

  void finishRequest(unsigned status) {
    stats().countStatus(status);
    stats().requestDuration.observe(
        std::chrono::duration<double>(Clock::now() - started_).count());
  }

  // Bidirectional byte relay after a 101 or for a connection that is not HTTP/1.x.
  awaitable<void> tunnel() {
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
    asio::co_spawn(w_.ctx(), pumpDetached(shared_from_this()), asio::detached);
    co_await pump(client_, upstream_, true);
    if (otherPumpRunning_) {
      co_await tunnelDone_.async_wait(BW_EC);
    }
  }

  static awaitable<void> pumpDetached(std::shared_ptr<Session> self) {
    co_await self->pump(self->upstream_, self->client_, false);
    self->otherPumpRunning_ = false;
    self->tunnelDone_.cancel();
  }

  awaitable<void> pump(tcp::socket& from, tcp::socket& to, bool fromClient) {
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

  awaitable<void> passThrough() {
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

  // Proxy-generated answer: small JSON body, request id, connection closed afterwards.
  awaitable<void> sendError(unsigned status, std::string_view error) {
    if (requestId_.empty()) {
      requestId_ = newRequestId();
    }
    std::string body = "{\"status\":" + std::to_string(status) + ",\"error\":\"";
    log::appendJsonEscaped(body, error);
    body += "\",\"request_id\":\"" + requestId_ + "\"}\n";
    std::string msg = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reasonFor(status)) +
                      "\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nX-Request-Id: " + requestId_ +
                      "\r\nConnection: close\r\n\r\n" + body;
    error_code ec;
    arm(TimeoutKind::send, std::min<std::chrono::milliseconds>(to_.send, 5s));
    co_await asio::async_write(client_, asio::buffer(msg), BW_EC);
    stats().countStatus(status);
    stats().response_bytes_total.inc(msg.size());
  }

  // Half-close, then read and discard briefly, so unread client bytes do not turn our last
  // answer into a reset (as web servers do for lingering close).
  awaitable<void> lingeringClose() {
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

  void closeUpstream() {
    error_code ignored;
    upstream_.close(ignored);
    ubuf_.consume(ubuf_.size());
  }

  void closeAll() {
    error_code ignored;
    client_.close(ignored);
    upstream_.close(ignored);
  }

  Worker& w_;
  const ProxyConfig& cfg_;
  const Limits& lim_;
  const Timeouts& to_;
  tcp::socket client_;
  tcp::socket upstream_;
  tcp::endpoint local_;
  tcp::endpoint upstreamEp_;
  std::string peerIp_;
  beast::flat_buffer cbuf_;
  beast::flat_buffer ubuf_;
  std::unique_ptr<char[]> bodyBuf_;
  std::optional<http::request_parser<http::buffer_body>> reqParser_;
  std::optional<http::response_parser<http::buffer_body>> resParser_;
  size_t headLen_ = 0;
  http1::HeadError headError_ = http1::HeadError::None;
  Uninspected notHttp_ = Uninspected::unknown;
  error_code bodyError_;
  std::string requestId_;
  std::vector<char> prefix_; // inspected body prefix
  std::shared_ptr<const Policy> policy_;
  Clock::time_point started_{};
  bool drainClose_ = false;
  bool otherPumpRunning_ = false;
  bool tunnelTimeoutCounted_ = false;
  asio::steady_timer tunnelDone_;
};

} // namespace

void Worker::spawnSession(tcp::socket s) {
  auto session = std::make_shared<Session>(*this, std::move(s));
  track(*session);
  asio::co_spawn(ctx_, Session::run(std::move(session)), asio::detached);
}

// ---------------------------------------------------------------------------------------------
ProxyServer::ProxyServer(const ProxyConfig& cfg, detect::EnginePtr engine,
                         const PolicyStore& policies)
    : cfg_(cfg), engine_(std::move(engine)), policies_(policies) {}

ProxyServer::~ProxyServer() { stop(); }

namespace {

// Binds one SO_REUSEPORT listen socket for `hp` on `ctx`.
Result<tcp::acceptor> bindListener(asio::io_context& ctx, const net::HostPort& hp) {
  error_code ec;
  tcp::endpoint ep(asio::ip::make_address(hp.host, ec), hp.port);
  if (ec) {
    return BW_INVALID("listen " + hp.str() + ": invalid address");
  }
  tcp::acceptor a(ctx);
  a.open(ep.protocol(), ec);
  if (!ec && ep.address().is_v6()) {
    a.set_option(asio::ip::v6_only(true), ec);
  }
  if (!ec) {
    a.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    const int one = 1;
    if (::setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      ec.assign(errno, boost::system::system_category());
    }
  }
  if (!ec) {
    a.bind(ep, ec);
  }
  if (!ec) {
    a.listen(4096, ec);
  }
  if (ec) {
    return BW_ERR(std::error_code(ec.value(), std::generic_category()), "listen " + hp.str());
  }
  return a;
}

// SO_REUSEPORT would let us share a port with another live process; refuse that up front.
Status probeFree(const net::HostPort& hp) {
  asio::io_context ctx;
  error_code ec;
  tcp::endpoint ep(asio::ip::make_address(hp.host, ec), hp.port);
  tcp::acceptor a(ctx);
  a.open(ep.protocol(), ec);
  if (!ec && ep.address().is_v6()) {
    a.set_option(asio::ip::v6_only(true), ec);
  }
  if (!ec) {
    a.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    a.bind(ep, ec);
  }
  if (ec) {
    return BW_ERR(std::error_code(ec.value(), std::generic_category()), "listen " + hp.str());
  }
  return {};
}

} // namespace

Result<std::unique_ptr<ProxyServer>> ProxyServer::create(const ProxyConfig& cfg,
                                                        detect::EnginePtr engine,
                                                        const PolicyStore& policies) {
  std::unique_ptr<ProxyServer> s(new ProxyServer(cfg, std::move(engine), policies));
  unsigned n = cfg.threads;
  if (n == 0) {
    n = std::max(1u, std::thread::hardware_concurrency());
  }
  std::vector<net::HostPort> listen;
  for (const auto& hp : cfg.listen) {
    if (auto st = probeFree(hp); !st) {
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
    auto w = std::make_unique<Worker>(s->cfg_, s->listenPorts_, s->engine_.get(), s->policies_);
    for (const auto& hp : listen) {
      auto a = bindListener(w->ctx(), hp);
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
    threads_.emplace_back([ctx = &w->ctx()] {
      ctx->run();
    });
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

#include "bulwark/webhook/server.h"

#include <chrono>
#include <list>
#include <mutex>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bulwark/common/listener.h"
#include "bulwark/common/log.h"
#include "bulwark/common/names.h"
#include "bulwark/webhook/inject.h"
#include "bulwark/webhook/stats.h"

namespace bulwark::webhook {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

const log::Logger kLog("webhook");

// An exception that ended a connection or the accept loop: logged and counted, never passed on
// to std::terminate. Out of memory aborts loudly instead (nothing sensible can follow).
void reportEscaped(const std::exception_ptr& e, std::string_view where) {
  if (!e) {
    return;
  }
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "bulwark-webhook: out of memory in %s; aborting\n",
                 std::string(where).c_str());
    std::abort();
  } catch (const std::exception& x) {
    what = x.what();
  } catch (...) {
  }
  stats().internal_errors_total.inc();
  kLog.error("internal error; connection closed", {{"where", std::string(where)}, {"error", what}});
}

// Identity of a file's current content as far as a cheap stat() can tell (a Secret volume
// update swaps a symlink, so the inode changes too).
struct FileStamp {
  int64_t mtimeNs = 0;
  int64_t size = -1;
  uint64_t inode = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp stampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return {};
  }
  return {static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
}

// "what: reason" for a failed TLS file load; names the OS error when the file is unreadable.
std::string tlsFileError(const std::string& what, const std::string& path, const error_code& ec) {
  if (::access(path.c_str(), R_OK) != 0) {
    return what + " " + path + ": " + std::strerror(errno);
  }
  const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  return what + " " + path + ": " + (reason ? reason : ec.message());
}

Result<std::shared_ptr<ssl::context>> loadTls(const std::string& cert, const std::string& key) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  // An idle TLS connection keeps no read/write buffers (~34 KB each otherwise).
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_cipher_list(ctx->native_handle(),
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  error_code ec;
  ctx->use_certificate_chain_file(cert, ec);
  if (ec) {
    return BW_INVALID(tlsFileError("TLS certificate", cert, ec));
  }
  ctx->use_private_key_file(key, ssl::context::pem, ec);
  if (ec) {
    return BW_INVALID(tlsFileError("TLS key", key, ec));
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return BW_INVALID("TLS key " + key + " does not match certificate " + cert);
  }
  if (X509* x = SSL_CTX_get0_certificate(ctx->native_handle())) {
    struct tm tm {};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
      stats().tlsNotAfter.set(static_cast<int64_t>(::timegm(&tm)));
    }
  }
  return ctx;
}

// The current TLS context; re-reads the files at most once per interval, when their stamps
// changed. A pair that fails to load (e.g. half-written during rotation) keeps the old one and
// is retried at the next check.
class TlsStore {
public:
  TlsStore(std::string cert, std::string key, std::chrono::milliseconds interval)
      : cert_(std::move(cert)), key_(std::move(key)), interval_(interval) {}

  Status loadInitial() {
    auto ctx = loadTls(cert_, key_);
    if (!ctx) {
      return tl::unexpected(ctx.error());
    }
    ctx_ = *ctx;
    certStamp_ = stampOf(cert_);
    keyStamp_ = stampOf(key_);
    checkedAt_ = Clock::now();
    stats().tls_reloads_total.inc();
    return {};
  }

  std::shared_ptr<ssl::context> current() {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    if (now - checkedAt_ < interval_) {
      return ctx_;
    }
    checkedAt_ = now;
    const auto c = stampOf(cert_);
    const auto k = stampOf(key_);
    if (c == certStamp_ && k == keyStamp_) {
      return ctx_;
    }
    auto ctx = loadTls(cert_, key_);
    if (!ctx) {
      stats().tls_reload_errors_total.inc();
      kLog.warn("TLS reload failed; keeping the previous certificate",
                {{"error", ctx.error().describe()}});
      return ctx_;
    }
    ctx_ = *ctx;
    certStamp_ = c;
    keyStamp_ = k;
    stats().tls_reloads_total.inc();
    kLog.info("TLS certificate reloaded", {{"cert", cert_}});
    return ctx_;
  }

private:
  std::string cert_;
  std::string key_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::shared_ptr<ssl::context> ctx_;
  FileStamp certStamp_;
  FileStamp keyStamp_;
  Clock::time_point checkedAt_{};
};

using Response = http::response<http::string_body>;

// A connection before its first byte. `taken` is set (on the connection's strand) when the
// session moves the stream into TLS; an eviction posted earlier then leaves it alone.
struct PendingConn {
  explicit PendingConn(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  bool taken = false;
  bool listed = false; // in PendingList (guarded by its mutex)
  std::list<std::weak_ptr<PendingConn>>::iterator entry;
};

// Connections that were accepted but have not sent a byte: the ones to close first when the
// connection cap is reached. Each entry can cancel its socket on the socket's own strand.
class PendingList {
public:
  void add(const std::shared_ptr<PendingConn>& c) {
    std::lock_guard lock(mutex_);
    c->entry = list_.insert(list_.end(), c);
    c->listed = true;
  }
  void remove(PendingConn& c) {
    std::lock_guard lock(mutex_);
    if (c.listed) {
      list_.erase(c.entry);
      c.listed = false;
    }
  }
  // Cancels the oldest pending connection; false when there is none.
  bool evictOldest() {
    std::shared_ptr<PendingConn> victim;
    {
      std::lock_guard lock(mutex_);
      while (!list_.empty() && !victim) {
        victim = list_.front().lock();
        if (victim) {
          victim->listed = false;
        }
        list_.pop_front();
      }
    }
    if (!victim) {
      return false;
    }
    auto exec = victim->stream.get_executor();
    asio::post(exec, [victim] {
      if (!victim->taken) {
        error_code ignored;
        victim->stream.socket().close(ignored);
      }
    });
    return true;
  }

private:
  std::mutex mutex_;
  std::list<std::weak_ptr<PendingConn>> list_;
};

Response plain(http::status status, unsigned version, std::string body) {
  Response res{status, version};
  res.set(http::field::server, "bulwark-webhook");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
  return res;
}

} // namespace

struct Server::Impl {
  WebhookConfig cfg;
  asio::io_context ctx;
  tcp::acceptor acceptor{ctx};
  TlsStore tls;
  PendingList pending;
  std::atomic<size_t> open{0};
  std::atomic<int64_t> lastTrim{0};

  explicit Impl(const WebhookConfig& c)
      : cfg(c), ctx(static_cast<int>(c.threads)),
        tls(c.tlsCert, c.tlsKey, c.certCheckInterval) {}

  Response answer(const http::request<http::string_body>& req) {
    const auto target = req.target();
    const auto path = target.substr(0, target.find('?'));
    Response res;
    if (path == names::kWebhookInjectPath) {
      if (req.method() != http::verb::post) {
        stats().httpError(HttpError::method);
        res = plain(http::status::method_not_allowed, req.version(), "use POST\n");
        res.set(http::field::allow, "POST");
      } else {
        const auto start = Clock::now();
        Reply reply = review(req.body(), cfg.inject);
        stats().reviewDuration.observe(
            std::chrono::duration<double>(Clock::now() - start).count());
        stats().review(reply.result);
        stats().warnings_total.inc(reply.warnings);
        if (reply.status == 200) {
          res = Response{http::status::ok, req.version()};
          res.set(http::field::server, "bulwark-webhook");
          res.set(http::field::content_type, "application/json");
          res.body() = std::move(reply.body);
          if (reply.result != ReviewResult::Skipped) {
            kLog.debug("review", {{"result", reply.result == ReviewResult::Injected ? "injected"
                                                                                     : "denied"},
                                  {"warnings", std::to_string(reply.warnings)}});
          }
        } else {
          kLog.warn("bad AdmissionReview", {{"reason", reply.body.substr(0, 200)}});
          res = plain(http::status::bad_request, req.version(), std::move(reply.body));
        }
      }
    } else if (path == "/healthz" || path == "/metrics") {
      if (req.method() != http::verb::get && req.method() != http::verb::head) {
        stats().httpError(HttpError::method);
        res = plain(http::status::method_not_allowed, req.version(), "use GET\n");
      } else if (path == "/healthz") {
        res = plain(http::status::ok, req.version(), "ok\n");
      } else {
        res = plain(http::status::ok, req.version(), stats().render());
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      }
    } else {
      stats().httpError(HttpError::not_found);
      res = plain(http::status::not_found, req.version(),
                  "not found: try POST /inject, /healthz or /metrics\n");
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
  }

  // A connection ended: when none is left, give freed memory back to the system (at most once
  // a second), so a burst of connections does not leave the heap at its peak.
  void closed() {
    stats().connectionsActive.sub();
    if (open.fetch_sub(1) == 1) {
      const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                              Clock::now().time_since_epoch())
                              .count();
      if (lastTrim.exchange(now) != now) {
        ::malloc_trim(0);
      }
    }
  }

  asio::awaitable<void> session(tcp::socket sock, std::shared_ptr<ssl::context> tlsCtx) {
    stats().connections_total.inc();
    stats().connectionsActive.add();
    error_code ec;
    // Until the first byte arrives the connection is a socket and this frame only: no TLS
    // state, no buffers. It can be evicted at the cap, and it must handshake in time.
    auto raw = std::make_shared<PendingConn>(std::move(sock));
    raw->stream.expires_after(cfg.tlsHandshakeTimeout);
    std::array<char, 512> first{};
    size_t firstBytes = 0;
    {
      pending.add(raw);
      firstBytes = co_await raw->stream.async_read_some(
          asio::buffer(first), asio::redirect_error(asio::use_awaitable, ec));
      pending.remove(*raw);
    }
    raw->taken = true;
    if (ec) {
      if (ec == beast::error::timeout) {
        stats().tls_handshake_timeouts_total.inc();
      }
      error_code ignored;
      raw->stream.socket().close(ignored);
      closed();
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(raw->stream), *tlsCtx);
    raw.reset();
    co_await stream.async_handshake(ssl::stream_base::server, asio::buffer(first.data(), firstBytes),
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == beast::error::timeout) {
        stats().tls_handshake_timeouts_total.inc();
      } else {
        stats().tls_handshake_errors_total.inc();
      }
      kLog.debug("TLS handshake failed", {{"error", ec.message()}});
      closed();
      co_return;
    }
    beast::flat_buffer buf;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(cfg.maxBodyBytes);
      stream.next_layer().expires_after(cfg.requestTimeout);
      co_await http::async_read(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::end_of_stream || ec == asio::ssl::error::stream_truncated) {
        break;
      }
      if (ec) {
        Response res;
        if (ec == http::error::body_limit) {
          stats().httpError(HttpError::too_large);
          res = plain(http::status::payload_too_large, 11,
                      "body larger than " + std::to_string(cfg.maxBodyBytes) + " bytes\n");
        } else if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
          stats().httpError(HttpError::malformed);
          res = plain(http::status::bad_request, 11, "malformed HTTP request\n");
        } else {
          if (ec == beast::error::timeout) {
            stats().httpError(HttpError::timeout);
          }
          break; // connection-level failure: nothing useful to say
        }
        res.keep_alive(false);
        res.prepare_payload();
        stream.next_layer().expires_after(cfg.requestTimeout);
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        break;
      }
      Response res = answer(parser.get());
      stream.next_layer().expires_after(cfg.requestTimeout);
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !res.keep_alive()) {
        break;
      }
    }
    stream.next_layer().expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    closed();
  }

  asio::awaitable<void> acceptLoop() {
    for (;;) {
      error_code ec;
      tcp::socket s = co_await acceptor.async_accept(
          asio::make_strand(ctx), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!acceptor.is_open()) {
          co_return;
        }
        continue;
      }
      if (open.load() >= cfg.maxConnections) {
        if (pending.evictOldest()) {
          stats().connections_evicted_total.inc();
        } else {
          stats().connections_rejected_total.inc();
          s.close(ec);
          continue;
        }
      }
      open.fetch_add(1);
      auto exec = s.get_executor();
      // Every path out of session() ends with closed(); one cut short by an exception does not.
      asio::co_spawn(exec, session(std::move(s), tls.current()),
                     [this](const std::exception_ptr& e) {
                       if (e) {
                         reportEscaped(e, "connection");
                         closed();
                       }
                     });
    }
  }

  // An accept loop that died of an exception is counted and started again (a dead one would
  // leave the listener queueing connections nobody accepts).
  void spawnAcceptLoop() {
    asio::co_spawn(ctx, acceptLoop(), [this](const std::exception_ptr& e) {
      if (e) {
        reportEscaped(e, "accept");
        if (acceptor.is_open()) {
          spawnAcceptLoop();
        }
      }
    });
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { stop(); }

Result<std::unique_ptr<Server>> Server::create(const WebhookConfig& cfg) {
  auto impl = std::make_unique<Impl>(cfg);
  if (auto st = impl->tls.loadInitial(); !st) {
    return tl::unexpected(st.error());
  }
  auto acceptor = net::openListener(impl->ctx, cfg.listen, {.backlog = 512, .v6Only = false});
  if (!acceptor) {
    return tl::unexpected(acceptor.error());
  }
  impl->acceptor = std::move(*acceptor);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::start() {
  impl_->spawnAcceptLoop();
  for (unsigned i = 0; i < impl_->cfg.threads; ++i) {
    threads_.emplace_back([this] { impl_->ctx.run(); });
  }
}

void Server::stop() {
  if (impl_) {
    impl_->ctx.stop();
  }
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
}

} // namespace bulwark::webhook

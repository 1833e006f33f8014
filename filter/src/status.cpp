#include "bulwark/filter/status.h"

#include "bulwark/common/listener.h"
#include "worker.h"

#include <chrono>
#include <mutex>

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "bulwark/common/log.h"

namespace bulwark::filter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

const log::Logger kLog("status");

} // namespace

bool tcpReachable(const net::HostPort& app, int timeoutMs) {
  return net::connectProbe(app, timeoutMs) == 0;
}

struct StatusServer::Impl {
  asio::io_context ctx{1};
  tcp::acceptor acceptor{ctx};
  Hooks hooks;
  std::mutex readyMutex;
  std::chrono::steady_clock::time_point readyCheckedAt{};
  bool appReachable = false;

  bool appReady() {
    std::lock_guard lock(readyMutex);
    const auto now = std::chrono::steady_clock::now();
    if (now - readyCheckedAt > 1s) {
      appReachable = tcpReachable(hooks.app, 1000);
      readyCheckedAt = now;
    }
    return appReachable;
  }

  http::response<http::string_body> answer(const http::request<http::string_body>& req) {
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "bulwark-proxy");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.keep_alive(req.keep_alive());
    const auto target = req.target();
    const auto path = target.substr(0, target.find('?'));
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.body() = "method not allowed\n";
    } else if (path == "/healthz") {
      res.body() = "ok\n";
    } else if (path == "/readyz") {
      if (!hooks.listening()) {
        res.result(http::status::service_unavailable);
        res.body() = "not ready: draining\n";
      } else if (!appReady()) {
        res.result(http::status::service_unavailable);
        res.body() = "not ready: app " + hooks.app.str() + " does not accept connections\n";
      } else {
        res.body() = "ready\n";
      }
    } else if (path == "/metrics") {
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = hooks.metrics();
    } else {
      res.result(http::status::not_found);
      res.body() = "not found: try /healthz, /readyz or /metrics\n";
    }
    res.prepare_payload();
    return res;
  }

  asio::awaitable<void> session(tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    beast::flat_buffer buf;
    error_code ec;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(8192);
      parser.body_limit(4096);
      stream.expires_after(10s);
      co_await http::async_read_header(stream, buf, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
      // Probes and scrapes carry no chunked body; its trailer section would be unbounded.
      if (ec || parser.chunked()) {
        break;
      }
      co_await http::async_read(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        break;
      }
      auto res = answer(parser.get());
      stream.expires_after(10s);
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !res.keep_alive()) {
        break;
      }
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> acceptLoop() {
    for (;;) {
      error_code ec;
      tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!acceptor.is_open()) {
          co_return;
        }
        continue;
      }
      asio::co_spawn(ctx, session(std::move(s)), [](const std::exception_ptr& e) {
        reportEscaped(e, InternalError::status, 0);
      });
    }
  }
};

// An accept loop that died of an exception is counted and started again.
void StatusServer::spawnAcceptLoop(Impl& impl) {
  asio::co_spawn(impl.ctx, impl.acceptLoop(), [&impl](const std::exception_ptr& e) {
    if (e) {
      reportEscaped(e, InternalError::status, 0);
      if (impl.acceptor.is_open()) {
        spawnAcceptLoop(impl);
      }
    }
  });
}

StatusServer::StatusServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StatusServer::~StatusServer() { stop(); }

Result<std::unique_ptr<StatusServer>> StatusServer::create(const net::HostPort& listen,
                                                           Hooks hooks) {
  auto impl = std::make_unique<Impl>();
  impl->hooks = std::move(hooks);
  auto acceptor = net::openListener(impl->ctx, listen, {.backlog = 128});
  if (!acceptor) {
    return tl::unexpected(acceptor.error().wrap("status"));
  }
  impl->acceptor = std::move(*acceptor);
  return std::unique_ptr<StatusServer>(new StatusServer(std::move(impl)));
}

void StatusServer::start() {
  spawnAcceptLoop(*impl_);
  thread_ = std::thread([this] { runGuarded(impl_->ctx); });
}

void StatusServer::stop() {
  if (impl_) {
    impl_->ctx.stop();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

} // namespace bulwark::filter

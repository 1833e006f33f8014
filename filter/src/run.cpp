#include "bulwark/filter/run.h"

#include <csignal>
#include <cstdio>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "bulwark/common/cli.h"
#include "bulwark/common/log.h"
#include "bulwark/filter/config.h"
#include "bulwark/filter/proxy.h"
#include "bulwark/filter/stats.h"
#include "bulwark/filter/status.h"

namespace bulwark::filter {
namespace {

const log::Logger kLog("proxy");

constexpr std::string_view kSynopsis =
    "bulwark-proxy [--config FILE] [--listen ADDR:PORT]... [--upstream HOST:PORT] [--app-port N]\n"
    "                     [--status-listen ADDR:PORT] [--mode off|monitoring|safe_blocking|block]\n"
    "                     [--threads N] [--log-level LEVEL]";
constexpr std::string_view kDescription =
    "The Bulwark filter proxy: accepts the pod's HTTP traffic (port 26001, named 'proxy'),\n"
    "inspects it and forwards it to the application on 127.0.0.1. Every flag can also be set\n"
    "as BULWARK_<FLAG> in the environment (e.g. BULWARK_APP_PORT=8080); flags win over the\n"
    "environment, which wins over the configuration file. See docs/proxy.md.";

} // namespace

int run(int argc, const char* const* argv) {
  auto args = cli::parse(argc, argv, proxyOptions());
  if (!args) {
    std::fprintf(stderr, "bulwark-proxy: %s\n", args.error().describe().c_str());
    return cli::kExitUsage;
  }
  if (args->help) {
    std::fputs(cli::usage(kSynopsis, kDescription, proxyOptions()).c_str(), stdout);
    return cli::kExitOk;
  }
  if (args->version) {
    std::printf("bulwark-proxy %s\n", BULWARK_VERSION);
    return cli::kExitOk;
  }
  auto cfg = loadConfig(*args);
  if (!cfg) {
    std::fprintf(stderr, "bulwark-proxy: %s\n", cfg.error().describe().c_str());
    return cli::kExitUsage;
  }
  log::setLevel(cfg->logLevel);
  std::signal(SIGPIPE, SIG_IGN);

  auto server = ProxyServer::create(*cfg);
  if (!server) {
    std::fprintf(stderr, "bulwark-proxy: %s\n", server.error().describe().c_str());
    return cli::kExitFailure;
  }
  ProxyServer& proxy = **server;

  const net::HostPort app =
      cfg->upstream ? *cfg->upstream : net::HostPort{"127.0.0.1", cfg->appPort, false};
  auto status = StatusServer::create(
      cfg->statusListen, {.listening = [&proxy] { return !proxy.draining(); },
                          .metrics = [] { return stats().render(); },
                          .app = app});
  if (!status) {
    std::fprintf(stderr, "bulwark-proxy: %s\n", status.error().describe().c_str());
    return cli::kExitFailure;
  }

  // Signals are handled on the main thread; workers never see them.
  boost::asio::io_context signals;
  boost::asio::signal_set set(signals, SIGTERM, SIGINT);
  int received = 0;
  set.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) {
      received = sig;
    }
  });

  std::string listenList;
  for (const auto& hp : cfg->listen) {
    listenList += (listenList.empty() ? "" : ",") + hp.str();
  }
  proxy.start();
  (*status)->start();
  const unsigned threads = cfg->threads ? cfg->threads : std::max(1u, std::thread::hardware_concurrency());
  kLog.info("bulwark-proxy started",
            {{"version", BULWARK_VERSION},
             {"listen", listenList},
             {"upstream", cfg->upstream ? cfg->upstream->str()
                                        : "127.0.0.1:<original destination or " +
                                              std::to_string(cfg->appPort) + ">"},
             {"status", cfg->statusListen.str()},
             {"mode", std::string(modeName(cfg->mode))},
             {"threads", std::to_string(threads)}});

  signals.run();

  kLog.info("draining", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"},
                         {"active_connections", std::to_string(proxy.activeConnections())},
                         {"deadline_ms", std::to_string(cfg->timeouts.drain.count())}});
  proxy.beginDrain();
  proxy.waitDrained(std::chrono::steady_clock::now() + cfg->timeouts.drain);
  const auto left = proxy.activeConnections();
  proxy.stop();
  (*status)->stop();
  kLog.info("stopped", {{"connections_cut", std::to_string(left)}});
  return cli::kExitOk;
}

} // namespace bulwark::filter

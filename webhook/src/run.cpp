#include "bulwark/webhook/run.h"

#include <csignal>
#include <cstdio>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "bulwark/common/cli.h"
#include "bulwark/common/log.h"
#include "bulwark/webhook/config.h"
#include "bulwark/webhook/server.h"

namespace bulwark::webhook {
namespace {

const log::Logger kLog("webhook");

constexpr std::string_view kSynopsis =
    "bulwark-webhook [--config FILE] [--listen ADDR:PORT] [--tls-cert FILE] [--tls-key FILE]\n"
    "                       [--log-level LEVEL]";
constexpr std::string_view kDescription =
    "The Bulwark injecting admission webhook: an HTTPS server (TLS 1.2+) answering\n"
    "AdmissionReview v1 requests on POST /inject with a JSON Patch that adds the bulwark-init\n"
    "capture step and the bulwark-proxy sidecar to pods labelled bulwark-sidecar: enabled (or\n"
    "wallarm-sidecar: enabled). Also GET /healthz and GET /metrics. The certificate and key are\n"
    "reloaded when their files change. Every flag can also be set as BULWARK_<FLAG> in the\n"
    "environment (e.g. BULWARK_TLS_CERT); flags win over the environment, which wins over the\n"
    "configuration file. See docs/webhook.md.";

} // namespace

int run(int argc, const char* const* argv) {
  cli::ParsedArgs args;
  if (auto done = cli::prologue({.name = "bulwark-webhook",
                                 .synopsis = kSynopsis,
                                 .description = kDescription,
                                 .options = webhookOptions()},
                                argc, argv, args)) {
    return *done;
  }
  auto cfg = loadConfig(args);
  if (!cfg) {
    std::fprintf(stderr, "bulwark-webhook: %s\n", cfg.error().describe().c_str());
    return cli::kExitUsage;
  }
  log::setLevel(cfg->logLevel);
  std::signal(SIGPIPE, SIG_IGN);

  auto server = Server::create(*cfg);
  if (!server) {
    std::fprintf(stderr, "bulwark-webhook: %s\n", server.error().describe().c_str());
    return cli::kExitFailure;
  }
  boost::asio::io_context signals;
  boost::asio::signal_set set(signals, SIGTERM, SIGINT);
  int received = 0;
  set.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) {
      received = sig;
    }
  });
  (*server)->start();
  kLog.info("bulwark-webhook started",
            {{"version", BULWARK_VERSION},
             {"listen", net::HostPort{cfg->listen.host, (*server)->port(), cfg->listen.v6}.str()},
             {"port", std::to_string((*server)->port())},
             {"threads", std::to_string(cfg->threads)},
             {"capture_default", cfg->inject.iptablesEnable
                                     ? std::string(captureModeName(cfg->inject.captureMode))
                                     : "none"},
             {"schema", cfg->inject.schema == Schema::Split ? "split" : "single"},
             {"native_sidecar", cfg->inject.nativeSidecar ? "true" : "false"}});
  signals.run();
  kLog.info("stopping", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->stop();
  return cli::kExitOk;
}

} // namespace bulwark::webhook

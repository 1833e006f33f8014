#include "bulwark/webhook/run.h"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bulwark/webhook/inject.h"

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
    "configuration file. `bulwark-webhook inject -f FILE` is the offline injector (inject --help).\n"
    "See docs/webhook.md.";

constexpr std::string_view kInjectSynopsis =
    "bulwark-webhook inject -f FILE|- [--config FILE] [--log-level LEVEL]";
constexpr std::string_view kInjectDescription =
    "The offline injector: reads a manifest as JSON (a Pod, a Deployment, StatefulSet,\n"
    "DaemonSet, ReplicaSet, Job, CronJob, or a List of them; '-' = stdin) and prints it with\n"
    "every pod template mutated exactly as the webhook would mutate the pod (same code), for\n"
    "GitOps and for debugging. Warnings go to stderr. YAML is not read: convert it first, e.g.\n"
    "  kubectl create --dry-run=client -o json -f deploy.yaml | bulwark-webhook inject -f -\n"
    "The output is JSON, which kubectl apply -f reads. See docs/webhook.md.";

int runInject(int argc, const char* const* argv) {
  // `-f X` is spelled like kubectl's; the option parser knows long names only.
  std::vector<std::string> words{argv[0]};
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    words.emplace_back(a == "-f" ? "--filename" : std::string(a));
  }
  std::vector<const char*> av;
  for (const auto& w : words) {
    av.push_back(w.c_str());
  }
  static const std::vector<cli::OptionSpec> kOptions = {
      {"filename", "FILE", "the manifest (JSON); - reads stdin"},
      {"config", "FILE", "the webhook's JSON configuration (the chart's ConfigMap config.json)"},
      {"log-level", "LEVEL", "debug|info|warn|error (default info)"},
  };
  auto args = cli::parse(static_cast<int>(av.size()), av.data(), kOptions);
  if (!args) {
    std::fprintf(stderr, "bulwark-webhook inject: %s\n", args.error().describe().c_str());
    return cli::kExitUsage;
  }
  if (args->help) {
    std::fputs(cli::usage(kInjectSynopsis, kInjectDescription, kOptions).c_str(), stdout);
    return cli::kExitOk;
  }
  const auto file = args->last("filename");
  if (!file) {
    std::fprintf(stderr, "bulwark-webhook inject: -f FILE is required (- for stdin)\n");
    return cli::kExitUsage;
  }
  auto cfg = loadConfig(*args);
  if (!cfg) {
    std::fprintf(stderr, "bulwark-webhook inject: %s\n", cfg.error().describe().c_str());
    return cli::kExitUsage;
  }
  std::stringstream text;
  if (*file == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(*file);
    if (!in) {
      std::fprintf(stderr, "bulwark-webhook inject: cannot read %s\n", file->c_str());
      return cli::kExitFailure;
    }
    text << in.rdbuf();
  }
  std::vector<std::string> warnings;
  auto out = injectManifest(text.str(), cfg->inject, warnings);
  for (const auto& w : warnings) {
    std::fprintf(stderr, "warning: %s\n", w.c_str());
  }
  if (!out) {
    std::fprintf(stderr, "bulwark-webhook inject: %s\n", out.error().describe().c_str());
    return cli::kExitUsage;
  }
  std::fwrite(out->data(), 1, out->size(), stdout);
  return cli::kExitOk;
}

} // namespace

int run(int argc, const char* const* argv) {
  if (argc > 1 && std::string_view(argv[1]) == "inject") {
    return runInject(argc, argv);
  }
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

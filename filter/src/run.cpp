#include "bulwark/filter/run.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <functional>
#include <cstdio>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bulwark/common/cli.h"
#include "bulwark/common/listener.h"
#include "bulwark/common/log.h"
#include "bulwark/filter/config.h"
#include "bulwark/filter/ebpf_handoff.h"
#include "bulwark/filter/policy.h"
#include "bulwark/filter/proxy.h"
#include "bulwark/filter/snapshot.h"
#include "bulwark/filter/stats.h"
#include "bulwark/filter/status.h"

namespace bulwark::filter {
namespace {

const log::Logger kLog("proxy");

constexpr std::string_view kSynopsis =
    "bulwark-proxy [--config FILE] [--listen ADDR:PORT]... [--upstream HOST:PORT] [--app-port N]\n"
    "                     [--status-listen ADDR:PORT] [--mode off|monitoring|safe_blocking|block]\n"
    "                     [--threads N] [--log-level LEVEL] [--paranoia-level N]\n"
    "                     [--application ID] [--node-group NAME] [--probe-paths LIST]";
constexpr std::string_view kDescription =
    "The Bulwark filter proxy: accepts the pod's HTTP traffic (port 26001, named 'proxy'),\n"
    "inspects it and forwards it to the application on 127.0.0.1. Every flag can also be set\n"
    "as BULWARK_<FLAG> in the environment (e.g. BULWARK_APP_PORT=8080); flags win over the\n"
    "environment, which wins over the configuration file. See docs/proxy.md.";

// Whether the application still takes connections at `to`. Only a refusal (nothing listens any
// more) says no; a timeout or any other error says yes, so the drain window is never cut short on
// doubt.
bool appAccepting(const net::HostPort& to) {
  return net::connectProbe(to, 200) != ECONNREFUSED;
}

// Identity of the configuration file's content: a ConfigMap update swaps a symlink, so the
// target's inode, size and mtime all may change; any difference triggers a reload.
struct FileStamp {
  ino_t inode = 0;
  off_t size = -1;
  int64_t mtimeNs = 0;
  bool operator==(const FileStamp&) const = default;
};

void logWarnings(const ProxyConfig& cfg) {
  for (const auto& w : cfg.warnings) {
    kLog.warn("configuration problem ignored", {{"problem", w}});
  }
}

FileStamp stampOf(const std::string& path) {
  struct stat st{};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) {
    return {};
  }
  return {st.st_ino, st.st_size, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
}

// Re-reads the configuration (file, environment, flags) and swaps the snapshot (policy, engine,
// limits) as one. A broken file keeps the running snapshot and says why.
void reload(const cli::ParsedArgs& args, const ProxyConfig& running, FilterStore& store,
            std::string_view why) {
  auto cfg = loadConfig(args);
  if (!cfg) {
    kLog.error("configuration reload failed; keeping the running policy",
               {{"why", std::string(why)}, {"error", cfg.error().describe()}});
    return;
  }
  const auto previous = store.get();
  std::string pageError;
  auto snap = buildSnapshot(*cfg, previous.get(), &pageError);
  if (!pageError.empty()) {
    kLog.error("block page reload failed; keeping the previous page",
               {{"why", std::string(why)}, {"error", pageError}});
  }
  if (!snap) {
    kLog.error("configuration reload failed; keeping the running policy",
               {{"why", std::string(why)}, {"error", snap.error().describe()}});
    return;
  }
  logWarnings(*cfg);
  std::string restart;
  if (cfg->listen != running.listen) restart += "listen ";
  if (cfg->statusListen != running.statusListen) restart += "status_listen ";
  if (cfg->threads != running.threads) restart += "threads ";
  if (cfg->upstream != running.upstream || cfg->appPort != running.appPort) restart += "upstream ";
  const auto keep = *snap;
  const Policy& p = *keep->policy;
  store.set(std::move(*snap));
  kLog.info("policy reloaded", {{"why", std::string(why)},
                                {"mode", std::string(modeName(p.mode))},
                                {"mode_from", cfg->modeSource},
                                {"allow", std::to_string(p.allow.size())},
                                {"deny", std::to_string(p.deny.size())},
                                {"gray", std::to_string(p.gray.size())},
                                {"overrides", std::to_string(p.overrides.size())},
                                {"inspect_body_bytes", std::to_string(p.inspectBodyBytes)},
                                {"inspect_body_max_bytes", std::to_string(p.inspectBodyMaxBytes)},
                                {"inspect_time_budget_ms", std::to_string(p.inspectTimeBudgetMs)},
                                {"probe_paths", std::to_string(p.probes.paths().size())},
                                {"application", p.application},
                                {"node_group", p.nodeGroup},
                                {"block_page", keep->blockPage ? cfg->blockPage : ""},
                                {"max_header_bytes",
                                 std::to_string(keep->limits.maxHeaderBytes)}});
  if (!restart.empty()) {
    restart.pop_back();
    kLog.warn("some changed settings need a restart to apply", {{"settings", restart}});
  }
}

} // namespace

int run(int argc, const char* const* argv) {
  cli::ParsedArgs args;
  if (auto done = cli::prologue({.name = "bulwark-proxy",
                                 .synopsis = kSynopsis,
                                 .description = kDescription,
                                 .options = proxyOptions()},
                                argc, argv, args)) {
    return *done;
  }
  auto cfg = loadConfig(args);
  if (!cfg) {
    std::fprintf(stderr, "bulwark-proxy: %s\n", oneLine(cfg.error()).describe().c_str());
    return cli::kExitUsage;
  }
  log::setLevel(cfg->logLevel);
  std::signal(SIGPIPE, SIG_IGN);
  logWarnings(*cfg);

  auto policy = buildPolicy(*cfg);
  if (!policy) {
    std::fprintf(stderr, "bulwark-proxy: %s\n", policy.error().describe().c_str());
    return cli::kExitUsage;
  }
  auto snap = buildSnapshot(*cfg);
  if (!snap) {
    std::fprintf(stderr, "bulwark-proxy: %s\n", snap.error().describe().c_str());
    return cli::kExitFailure;
  }
  FilterStore snapshots(std::move(*snap));

  auto server = ProxyServer::create(*cfg, snapshots);
  if (!server) {
    std::fprintf(stderr, "bulwark-proxy: %s\n", server.error().describe().c_str());
    return cli::kExitFailure;
  }
  ProxyServer& proxy = **server;
  // eBPF capture: the listeners are bound; give them to the holder (retries in the background).
  auto ebpfHandoff = startEbpfHandoff(
      args.last("ebpf-handoff").value_or(cli::env("ebpf-handoff").value_or("")),
      proxy.listenerFds());

  const net::HostPort app =
      cfg->upstream ? *cfg->upstream : net::HostPort{"127.0.0.1", cfg->appPort, false};
  auto status = StatusServer::create(
      cfg->statusListen, {.listening = [&proxy] { return !proxy.draining(); },
                          .metrics = [&] {
                            return stats().render() + (ebpfHandoff ? ebpfHandoff->metrics() : "");
                          },
                          .app = app});
  if (!status) {
    std::fprintf(stderr, "bulwark-proxy: %s\n", status.error().describe().c_str());
    return cli::kExitFailure;
  }

  // Signals are handled on the main thread; workers never see them.
  boost::asio::io_context signals;
  boost::asio::signal_set set(signals, SIGTERM, SIGINT, SIGHUP);
  int received = 0;
  std::function<void()> waitSignal = [&] {
    set.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) {
        return;
      }
      if (sig == SIGHUP) {
        reload(args, *cfg, snapshots, "SIGHUP");
        waitSignal();
        return;
      }
      received = sig;
      signals.stop();
    });
  };
  waitSignal();

  // A mounted ConfigMap changes under us without a signal: watch the file.
  boost::asio::steady_timer watch(signals);
  FileStamp stamp = stampOf(cfg->configPath);
  FileStamp policyStamp = stampOf(cfg->policyPath);
  FileStamp pageStamp = stampOf(cfg->blockPage);
  std::function<void()> watchFile = [&] {
    watch.expires_after(std::chrono::seconds(2));
    watch.async_wait([&](const boost::system::error_code& ec) {
      if (ec) {
        return;
      }
      const FileStamp now = stampOf(cfg->configPath);
      const FileStamp policyNow = stampOf(cfg->policyPath);
      const FileStamp pageNow = stampOf(cfg->blockPage);
      if (!(now == stamp) || !(policyNow == policyStamp) || !(pageNow == pageStamp)) {
        stamp = now;
        policyStamp = policyNow;
        pageStamp = pageNow;
        reload(args, *cfg, snapshots, "configuration file changed");
      }
      watchFile();
    });
  };
  if (!cfg->configPath.empty() || !cfg->policyPath.empty() || !cfg->blockPage.empty()) {
    watchFile();
  }
  if (!cfg->policyPath.empty() && stampOf(cfg->policyPath) == FileStamp{}) {
    kLog.info("policy file not present yet; using the configuration and defaults",
              {{"policy_file", cfg->policyPath}});
  }

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
             {"mode_from", cfg->modeSource},
             {"threads", std::to_string(threads)},
             {"application", cfg->application},
             {"node_group", cfg->nodeGroup},
             {"probe_paths", std::to_string(cfg->probePaths.paths().size())},
             {"max_connections", std::to_string(proxy.maxConnections())}});

  signals.run();

  // The drain window after SIGTERM: /readyz fails at once so the endpoint leaves the Service, but the
  // listeners stay open for drain_delay_ms (clients that have not seen the change yet keep
  // connecting and are served, with `Connection: close`); then accepting stops and in-flight
  // requests finish. drain_ms bounds the whole.
  const auto termAt = std::chrono::steady_clock::now();
  // SIGINT (an interactive stop, no Service in front) skips the accepting part.
  const auto delay = received == SIGTERM ? std::min(cfg->timeouts.drainDelay, cfg->timeouts.drain)
                                         : std::chrono::milliseconds(0);
  kLog.info("draining", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"},
                         {"active_connections", std::to_string(proxy.activeConnections())},
                         {"accepting_ms", std::to_string(delay.count())},
                         {"deadline_ms", std::to_string(cfg->timeouts.drain.count())}});
  proxy.beginDrain();
  // When the application has already exited (a native sidecar is stopped after the app), a new
  // client could only get a 502: stop accepting then, so it is refused and retries elsewhere.
  while (std::chrono::steady_clock::now() < termAt + delay) {
    if (!appAccepting(app)) {
      kLog.info("application no longer accepts connections; drain window ends early",
                {{"upstream", app.str()}});
      break;
    }
    std::this_thread::sleep_until(std::min(termAt + delay, std::chrono::steady_clock::now() +
                                                                std::chrono::milliseconds(250)));
  }
  proxy.stopAccepting();
  proxy.waitDrained(termAt + cfg->timeouts.drain);
  const auto left = proxy.activeConnections();
  proxy.stop();
  (*status)->stop();
  kLog.info("stopped", {{"connections_cut", std::to_string(left)}});
  return cli::kExitOk;
}

} // namespace bulwark::filter

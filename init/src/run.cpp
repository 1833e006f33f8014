#include "bulwark/init/run.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "bulwark/capture/ops.h"
#include "bulwark/common/log.h"
#include "bulwark/common/names.h"

namespace bulwark::init {
namespace {

using capture::Mode;

const log::Logger kLog("init");

// The modes offered are the ones this build has (no nfqueue; ebpf and hold only with the BPF
// program built in).
std::string synopsis() {
  const std::string modes = capture::modeChoices();
  return "bulwark-init plan|apply|verify|cleanup" +
         std::string(capture::ebpfInBuild() ? "|hold" : "") + " [--mode " + modes +
         "]\n                    [--app-port N|all]... [--proxy-port N] "
         "[--fail-open|--fail-closed] [--json]";
}
constexpr std::string_view kDescription =
    "Captures the pod's inbound TCP traffic to the application port(s) into the Bulwark proxy\n"
    "(REDIRECT to port 26001) with nftables (table inet bulwark) or iptables (chains BULWARK_*\n"
    "in the nat table) or eBPF (sk_lookup, no NAT; `hold` is the long-running process that owns\n"
    "the program and takes the proxy's socket). plan = dry run, apply = install (idempotent, atomic), verify = compare\n"
    "the kernel with the plan, cleanup = remove what Bulwark added. Every flag can also be set\n"
    "as BULWARK_<FLAG> (lists comma separated, e.g. BULWARK_APP_PORT=8080,8443); flags win.\n"
    "Exit status: 0 ok, 2 usage or configuration error, 1 failure. See docs/init.md.";

using cli::envName;

// Values of a repeatable flag, else of its comma-separated environment variable.
std::optional<std::pair<std::vector<std::string>, std::string>> pickList(
    const cli::ParsedArgs& args, std::string_view name) {
  if (const auto* v = args.all(name)) {
    std::vector<std::string> out;
    for (const auto& item : *v) {
      for (auto& part : cli::splitList(item)) {
        out.push_back(part);
      }
    }
    return std::make_pair(out, "--" + std::string(name));
  }
  if (auto v = cli::env(name)) {
    return std::make_pair(cli::splitList(*v), envName(name));
  }
  return std::nullopt;
}

std::optional<std::pair<std::string, std::string>> pick(const cli::ParsedArgs& args,
                                                         std::string_view name) {
  if (auto v = args.last(name)) {
    return std::make_pair(*v, "--" + std::string(name));
  }
  if (auto v = cli::env(name)) {
    return std::make_pair(*v, envName(name));
  }
  return std::nullopt;
}

Result<bool> parseBool(const std::string& v, const std::string& where) {
  if (v == "true" || v == "1" || v == "yes") {
    return true;
  }
  if (v == "false" || v == "0" || v == "no") {
    return false;
  }
  return BW_INVALID(where + ": '" + v + "' is not true/false");
}

Result<uint16_t> parsePort(const std::string& v, const std::string& where) {
  auto n = cli::parseUint(v, 1, 65535);
  if (!n) {
    return BW_INVALID(where + ": '" + v + "' is not a port (1-65535)");
  }
  return static_cast<uint16_t>(*n);
}

bool ipv6Enabled() { return ::access("/proc/net/if_inet6", R_OK) == 0; }

double millis(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::string fmtMs(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f ms", ms);
  return buf;
}

// Output of one command: text on stdout, or one JSON object with --json.
struct Output {
  bool json = false;
  nlohmann::json doc = nlohmann::json::object();
  std::string text;

  void line(const std::string& l) { text += l + "\n"; }
  void flush() const {
    if (json) {
      std::printf("%s\n", doc.dump().c_str());
    } else {
      std::fputs(text.c_str(), stdout);
    }
    std::fflush(stdout);
  }
};

// Failure path: one line on stderr; with --fail-open an apply failure is reported but exits 0.
int fail(const Options& o, Output& out, const Error& e) {
  const std::string msg = e.describe();
  out.doc["ok"] = false;
  out.doc["error"] = msg;
  if (o.failOpen && o.command == Command::Apply) {
    out.doc["fail_open"] = true;
    out.line("capture NOT applied (fail-open): " + msg);
    out.flush();
    kLog.warn("capture not applied, continuing (fail-open)", {{"error", msg}});
    return cli::kExitOk;
  }
  out.flush();
  std::fprintf(stderr, "bulwark-init: %s\n", msg.c_str());
  return cli::kExitFailure;
}

void putReport(Output& out, const capture::ApplyReport& rep) {
  out.doc["changed"] = rep.changed;
  out.doc["actions"] = rep.actions;
  for (const auto& a : rep.actions) {
    out.line("  " + a);
  }
}

struct Backends {
  capture::NetlinkOpsPtr netlink = capture::makeNetlinkOps();
  capture::CommandRunnerPtr runner = capture::makeCommandRunner();
  capture::HolderClientPtr holder;
  capture::EbpfKernelPtr kernel = capture::makeEbpfKernel();
  bool failClosed = true;
};

capture::ApplierPtr makeApplier(Backends& b, const capture::ModeChoice& choice) {
  if (choice.mode == Mode::Ebpf) {
    return capture::makeEbpfApplier(*b.holder, *b.kernel, b.failClosed);
  }
  if (choice.mode == Mode::Nftables) {
    return capture::makeNftablesApplier(*b.netlink);
  }
  return capture::makeIptablesApplier(*b.runner, *choice.backend);
}

// cleanup --mode auto: everything Bulwark may have added in any netfilter mode.
int cleanupAll(const Options& o, Backends& b, Output& out) {
  if (!capture::hasCapNetAdmin()) {
    return fail(o, out,
                Error(errnoCode(EPERM), "cleanup needs CAP_NET_ADMIN, which this process lacks"));
  }
  std::vector<capture::ApplierPtr> appliers;
  appliers.push_back(capture::makeEbpfApplier(*b.holder, *b.kernel, b.failClosed));
  if (b.netlink->probe()) {
    appliers.push_back(capture::makeNftablesApplier(*b.netlink));
  }
  for (auto be : {capture::IptablesBackend::Legacy, capture::IptablesBackend::Nft}) {
    if (o.backend && *o.backend != be) {
      continue;
    }
    if (b.runner->available(capture::iptablesTool(be, capture::Family::V4, "restore"))) {
      appliers.push_back(capture::makeIptablesApplier(*b.runner, be));
    }
  }
  capture::ApplyReport all;
  out.line("cleanup:");
  for (auto& a : appliers) {
    auto rep = a->cleanup();
    if (!rep) {
      return fail(o, out, std::move(rep.error()).wrap(a->describe()));
    }
    all.changed = all.changed || rep->changed;
    for (auto& l : rep->actions) {
      all.actions.push_back(a->describe() + ": " + l);
    }
  }
  out.doc["ok"] = true;
  putReport(out, all);
  out.flush();
  return cli::kExitOk;
}

} // namespace

const std::vector<cli::OptionSpec>& initOptions() {
  static const std::vector<cli::OptionSpec> specs = {
      {"mode", "MODE", capture::modeChoices() + " (default auto)", false},
      {"app-port", "N|all", "application port to capture (repeatable; default 80); 'all' = every "
                            "port except --exclude-port",
       true},
      {"exclude-port", "N", "with --app-port all: port never captured (repeatable)", true},
      {"proxy-port", "N", "where captured connections go (default 26001)", false},
      {"pod-ip", "ADDR", "capture only connections to this pod address (repeatable; default any)",
       true},
      {"exclude-cidr", "CIDR", "never capture clients from this source range (repeatable)", true},
      {"skip-uid", "N", "UID whose local traffic is never captured (default 101)", false},
      {"ipv6", "auto|on|off", "IPv6 rules too (default auto: when the kernel has IPv6)", false},
      {"iptables-backend", "auto|legacy|nft",
       "iptables flavour (default auto: the one holding the node's rules)", false},
      {"fail-open", "", "apply: report a failure but exit 0 (pod starts without capture)", false},
      {"fail-closed", "", "apply: a failure exits 1 (default)", false},
      {"json", "", "print one JSON object instead of text", false},
      {"log-level", "LEVEL", "debug|info|warn|error (default info)", false},
      {"run-dir", "DIR", "ebpf: directory of the holder's sockets (default /run/bulwark)", false},
      {"holder-wait", "SECONDS",
       "ebpf: how long apply waits for the holder to answer (default 10, auto 2, others 0)",
       false},
  };
  return specs;
}

Result<Options> loadOptions(const cli::ParsedArgs& args) {
  Options o;
  if (args.positional.empty()) {
    return BW_INVALID("missing command: plan, apply, verify or cleanup (see --help)");
  }
  const auto& cmd = args.positional[0];
  if (cmd == "plan") {
    o.command = Command::Plan;
  } else if (cmd == "apply") {
    o.command = Command::Apply;
  } else if (cmd == "verify") {
    o.command = Command::Verify;
  } else if (cmd == "cleanup") {
    o.command = Command::Cleanup;
  } else if (cmd == "hold") {
    o.command = Command::Hold;
  } else {
    return BW_INVALID("unknown command '" + cmd + "' (plan, apply, verify, cleanup or hold)");
  }
  if (auto v = pick(args, "mode")) {
    auto m = capture::parseMode(v->first);
    if (!m) {
      return tl::unexpected(std::move(m.error()).wrap(v->second));
    }
    o.mode = *m;
  }
  if (auto v = pickList(args, "app-port")) {
    o.plan.appPorts.clear();
    for (const auto& p : v->first) {
      if (p == "all") {
        o.plan.allPorts = true;
        continue;
      }
      auto port = parsePort(p, v->second);
      if (!port) {
        return tl::unexpected(port.error());
      }
      o.plan.appPorts.push_back(*port);
    }
    if (o.plan.allPorts && !o.plan.appPorts.empty()) {
      return BW_INVALID(v->second + ": 'all' cannot be combined with port numbers");
    }
  }
  if (auto v = pickList(args, "exclude-port")) {
    for (const auto& p : v->first) {
      auto port = parsePort(p, v->second);
      if (!port) {
        return tl::unexpected(port.error());
      }
      o.plan.excludePorts.push_back(*port);
    }
    if (!o.plan.allPorts && !o.plan.excludePorts.empty()) {
      return BW_INVALID(v->second + ": only meaningful with --app-port all");
    }
  }
  if (auto v = pick(args, "proxy-port")) {
    auto port = parsePort(v->first, v->second);
    if (!port) {
      return tl::unexpected(port.error());
    }
    o.plan.proxyPort = *port;
  }
  if (auto v = pickList(args, "pod-ip")) {
    o.plan.podAddresses = v->first;
  }
  if (auto v = pickList(args, "exclude-cidr")) {
    o.plan.excludeCidrs = v->first;
  }
  if (auto v = pick(args, "skip-uid")) {
    auto n = cli::parseUint(v->first, 0, UINT32_MAX - 1);
    if (!n) {
      return BW_INVALID(v->second + ": '" + v->first + "' is not a UID");
    }
    o.plan.skipUid = static_cast<uint32_t>(*n);
  }
  if (auto v = pick(args, "ipv6")) {
    if (v->first == "on") {
      o.plan.ipv6 = true;
    } else if (v->first == "off") {
      o.plan.ipv6 = false;
    } else if (v->first == "auto") {
      o.plan.ipv6 = ipv6Enabled();
    } else {
      return BW_INVALID(v->second + ": '" + v->first + "' is not auto|on|off");
    }
  } else {
    o.plan.ipv6 = ipv6Enabled();
  }
  if (auto v = pick(args, "iptables-backend")) {
    if (v->first == "legacy") {
      o.backend = capture::IptablesBackend::Legacy;
    } else if (v->first == "nft") {
      o.backend = capture::IptablesBackend::Nft;
    } else if (v->first != "auto") {
      return BW_INVALID(v->second + ": '" + v->first + "' is not auto|legacy|nft");
    }
  }
  const bool open = args.has("fail-open");
  const bool closed = args.has("fail-closed");
  if (open && closed) {
    return BW_INVALID("--fail-open and --fail-closed exclude each other");
  }
  if (open || closed) {
    o.failOpen = open;
  } else if (auto v = cli::env("fail-open")) {
    auto b = parseBool(*v, envName("fail-open"));
    if (!b) {
      return tl::unexpected(b.error());
    }
    o.failOpen = *b;
  }
  if (args.has("json")) {
    o.json = true;
  } else if (auto v = cli::env("json")) {
    auto b = parseBool(*v, envName("json"));
    if (!b) {
      return tl::unexpected(b.error());
    }
    o.json = *b;
  }
  if (auto v = pick(args, "run-dir")) {
    if (v->first.empty() || v->first[0] != '/') {
      return BW_INVALID(v->second + ": '" + v->first + "' is not an absolute directory");
    }
    o.runDir = v->first;
  }
  if (auto v = pick(args, "holder-wait")) {
    auto n = cli::parseUint(v->first, 0, 600);
    if (!n) {
      return BW_INVALID(v->second + ": '" + v->first + "' is not a number of seconds (0-600)");
    }
    o.holderWaitS = static_cast<unsigned>(*n);
  }
  if (o.command == Command::Hold && o.mode != Mode::Auto && o.mode != Mode::Ebpf) {
    return BW_INVALID("hold is the eBPF capture's holder: --mode must be ebpf (or auto)");
  }
  if (auto v = pick(args, "log-level")) {
    log::Level l;
    if (!log::parseLevel(v->first, l)) {
      return BW_INVALID(v->second + ": '" + v->first + "' is not debug|info|warn|error");
    }
    log::setLevel(l);
  }
  return o;
}

int run(int argc, const char* const* argv) {
  cli::ParsedArgs args;
  const std::string synopsisText = synopsis();
  if (auto done = cli::prologue({.name = "bulwark-init",
                                 .synopsis = synopsisText,
                                 .description = kDescription,
                                 .options = initOptions(), .maxPositional = 1},
                                argc, argv, args)) {
    return *done;
  }
  auto opts = loadOptions(args);
  if (!opts) {
    std::fprintf(stderr, "bulwark-init: %s\n", opts.error().describe().c_str());
    return cli::kExitUsage;
  }
  const Options& o = *opts;
  auto plan = capture::buildPlan(o.plan);
  if (!plan) {
    std::fprintf(stderr, "bulwark-init: %s\n", plan.error().describe().c_str());
    return cli::kExitUsage;
  }
  if (o.command == Command::Hold) {
    return runHold(o, *plan);
  }
  static constexpr std::string_view kCommands[] = {"plan", "apply", "verify", "cleanup"};
  Output out;
  out.json = o.json;
  out.doc["command"] = kCommands[static_cast<int>(o.command)];

  Backends backends;
  backends.failClosed = !o.failOpen;
  {
    // The holder's control socket; apply waits for a holder sidecar that is still starting.
    // apply waits for a holder sidecar that may still be starting (auto only briefly: most
    // pods have none); a verify or cleanup finds the holder there or not at all.
    const unsigned defWait = o.command != Command::Apply ? 0 : o.mode == Mode::Ebpf ? 10 : 2;
    backends.holder = capture::makeHolderClient(
        o.runDir + "/" + std::string(capture::kControlSocketName),
        std::chrono::seconds(o.holderWaitS.value_or(defWait)));
  }
  if (o.command == Command::Cleanup && o.mode == Mode::Auto) {
    out.doc["mode"] = "auto";
    return cleanupAll(o, backends, out);
  }

  // plan: a dry run that needs no privilege. Without a concrete mode it shows both renderings.
  if (o.command == Command::Plan && o.mode == Mode::Ebpf) {
    const auto text = capture::renderEbpf(capture::ebpfConfig(*plan, !o.failOpen));
    out.doc["mode"] = "ebpf";
    out.doc["ok"] = true;
    out.doc["rules"] = text;
    out.text += text;
    out.flush();
    return cli::kExitOk;
  }
  if (o.command == Command::Plan && o.mode != Mode::Nftables && o.mode != Mode::Iptables) {
    out.doc["mode"] = capture::modeName(o.mode);
    if (o.mode == Mode::None || o.mode == Mode::Nfqueue) {
      auto c = capture::chooseMode(o.mode, {});
      if (!c) {
        return fail(o, out, c.error());
      }
      out.line("mode none: nothing is captured; clients reach the proxy on port " +
               std::to_string(plan->proxyPort) + " (container port 'proxy')");
      out.doc["ok"] = true;
      out.flush();
      return cli::kExitOk;
    }
    const auto nft = capture::makeNftablesApplier(*backends.netlink)->render(*plan);
    const auto ipt = capture::makeIptablesApplier(*backends.runner,
                                                  o.backend.value_or(capture::IptablesBackend::Nft))
                         ->render(*plan);
    out.doc["ok"] = true;
    out.doc["nftables"] = nft;
    out.doc["iptables"] = ipt;
    out.line("# mode auto: nftables where it works, else iptables\n# --- nftables ---\n" + nft +
             "# --- iptables ---\n" + ipt);
    out.flush();
    return cli::kExitOk;
  }

  capture::ProbeResult probe;
  // apply/cleanup --mode ebpf only talk to the holder, which does the privileged part: no
  // probe (the init container then needs no capability at all).
  const bool holderOnly =
      o.mode == Mode::Ebpf && (o.command == Command::Apply || o.command == Command::Cleanup);
  // ebpf never needs the netfilter probe (it runs the iptables tools): verify, the holder's
  // startup probe, stays quick.
  if (o.mode != Mode::None && o.mode != Mode::Ebpf) {
    probe = capture::probeEnvironment(*backends.netlink, *backends.runner, o.backend);
  }
  if (o.mode == Mode::Auto && probe.netAdmin) {
    probe.ebpf = capture::probeEbpf();
    if (probe.ebpf.missing().empty()) {
      auto st = backends.holder->status();
      probe.ebpfHolder = st && st->has_value();
      probe.ebpfHolderWhy = !st ? st.error().describe()
                                : "nothing answers at " + o.runDir + "/" +
                                      std::string(capture::kControlSocketName);
    }
  } else if (o.mode == Mode::Ebpf && !holderOnly) {
    probe.ebpf = capture::probeEbpf();
  }
  if (o.command == Command::Plan) {
    probe.netAdmin = true; // a dry run: render even where apply would lack the capability
    if (o.mode == Mode::Nftables) {
      probe.nftables = {};
    } else if (!probe.iptables) {
      probe.iptables =
          capture::BackendChoice{o.backend.value_or(capture::IptablesBackend::Nft), "plan"};
    }
  }
  auto choice = holderOnly ? Result<capture::ModeChoice>(capture::ModeChoice{
                                Mode::Ebpf, "requested; the holder does the privileged part", {}})
                          : capture::chooseMode(o.mode, probe);
  if (!choice) {
    out.doc["mode"] = capture::modeName(o.mode);
    return fail(o, out, choice.error());
  }
  out.doc["mode"] = capture::modeName(choice->mode);
  out.doc["why"] = choice->why;
  if (choice->backend) {
    out.doc["iptables_backend"] = capture::backendName(*choice->backend);
  }
  kLog.info("capture mode", {{"mode", std::string(capture::modeName(choice->mode))},
                             {"why", choice->why}});
  if (choice->mode == Mode::None) {
    out.doc["ok"] = true;
    out.line(std::string(kCommands[static_cast<int>(o.command)]) +
             ": mode none, nothing captured; clients reach the proxy on port " +
             std::to_string(plan->proxyPort) + " (container port 'proxy')");
    out.flush();
    return cli::kExitOk;
  }

  auto applier = makeApplier(backends, *choice);
  out.line(std::string(kCommands[static_cast<int>(o.command)]) + ": mode " +
           applier->describe() + " (" + choice->why + ")");

  switch (o.command) {
  case Command::Plan: {
    const auto text = applier->render(*plan);
    out.doc["ok"] = true;
    out.doc["rules"] = text;
    out.text += text;
    out.flush();
    return cli::kExitOk;
  }
  case Command::Apply: {
    const auto start = std::chrono::steady_clock::now();
    auto rep = applier->apply(*plan);
    if (!rep && o.mode == Mode::Auto && choice->mode == Mode::Nftables && probe.iptables) {
      // nf_tables answered but refused the rules (e.g. no nat/redir support): fall back.
      kLog.warn("nftables apply failed, falling back to iptables",
                {{"error", rep.error().describe()}});
      choice->mode = Mode::Iptables;
      choice->backend = probe.iptables->backend;
      choice->why = "auto: nftables apply failed (" + rep.error().describe() + ")";
      out.doc["mode"] = "iptables";
      out.doc["why"] = choice->why;
      out.doc["iptables_backend"] = capture::backendName(*choice->backend);
      applier = makeApplier(backends, *choice);
      out.line("apply: falling back to " + applier->describe());
      rep = applier->apply(*plan);
    }
    const double ms = millis(std::chrono::steady_clock::now() - start);
    if (!rep) {
      return fail(o, out, std::move(rep.error()).wrap(applier->describe()));
    }
    putReport(out, *rep);
    out.doc["ok"] = true;
    out.doc["apply_ms"] = std::round(ms * 100) / 100;
    out.line("apply time " + fmtMs(ms) + (ms > 50 ? " (over the 50 ms goal)" : ""));
    kLog.info("capture applied", {{"mode", std::string(applier->mode())},
                                  {"changed", rep->changed ? "true" : "false"},
                                  {"apply_ms", fmtMs(ms)}});
    out.flush();
    return cli::kExitOk;
  }
  case Command::Verify: {
    auto rep = applier->verify(*plan);
    if (!rep) {
      return fail(o, out, std::move(rep.error()).wrap(applier->describe()));
    }
    out.doc["diff"] = rep->diff;
    if (!rep->ok) {
      out.text += rep->diff;
      return fail(o, out,
                  Error(std::make_error_code(std::errc::state_not_recoverable),
                        "verify: the kernel's rules differ from the plan (- expected, + found)"));
    }
    out.doc["ok"] = true;
    out.line("  kernel state matches the plan");
    out.flush();
    return cli::kExitOk;
  }
  case Command::Hold:
    break; // handled before any applier exists
  case Command::Cleanup: {
    auto rep = applier->cleanup();
    if (!rep) {
      return fail(o, out, std::move(rep.error()).wrap(applier->describe()));
    }
    out.doc["ok"] = true;
    putReport(out, *rep);
    out.flush();
    return cli::kExitOk;
  }
  }
  return cli::kExitFailure;
}

} // namespace bulwark::init

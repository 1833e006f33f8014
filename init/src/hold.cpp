// `bulwark-init hold`: the small privileged process of the eBPF capture. It loads the sk_lookup
// program, attaches it to the pod's network namespace (the link lives as long as this process),
// owns the socket map, and serves two Unix sockets in the run directory:
//   steer.sock   (0666) the proxy: {"op":"handoff"} + its listening sockets (SCM_RIGHTS),
//                {"op":"status"}, {"op":"metrics"}; the holder sends {"op":"resend"} to
//                connected proxies when it re-attaches after a cleanup, {"op":"release"}
//                (drop the link reference) after a cleanup.
//   control.sock (0600) the init step: status, apply (new configuration), cleanup (detach).
// Every request is one JSON message, every answer one JSON message.

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bulwark/capture/ebpf.h"
#include "bulwark/common/fdpass.h"
#include "bulwark/common/log.h"
#include "bulwark/init/run.h"

namespace bulwark::init {
namespace {

using capture::EbpfConfig;
using capture::Family;
using nlohmann::json;
using namespace std::chrono_literals;

const log::Logger kLog("hold");

constexpr size_t kMaxClients = 64;

struct Client {
  UniqueFd fd;
  bool control = false;
  bool proxy = false; // sent a handoff: gets "resend" on re-attach
};

std::string errorReply(const std::string& msg) {
  return json{{"ok", false}, {"error", msg}}.dump();
}

class Holder {
public:
  Holder(UniqueFd netns, EbpfConfig cfg) : netns_(std::move(netns)), config_(std::move(cfg)) {}

  // Loads, configures and attaches; the error names what failed.
  Status attach() {
    if (!steering_) {
      auto s = capture::loadSteering();
      if (!s) {
        return tl::unexpected(s.error());
      }
      steering_ = std::move(*s);
    }
    if (auto st = steering_->configure(config_); !st) {
      return st;
    }
    return steering_->attach(netns_.get());
  }

  // The link descriptor to send along with a handoff answer (-1: none).
  int replyFd() { return std::exchange(replyFd_, -1); }

  std::string handle(Client& c, fdpass::Message& m) {
    auto req = json::parse(m.data, nullptr, false);
    if (req.is_discarded() || !req.is_object() || !req.contains("op") ||
        !req["op"].is_string()) {
      return errorReply("request is not a JSON object with an \"op\"");
    }
    const std::string op = req["op"].get<std::string>();
    if (op == "status") {
      return statusJson();
    }
    if (op == "metrics") {
      auto s = status();
      return json{{"ok", true}, {"text", capture::renderEbpfMetrics(s)}}.dump();
    }
    if (op == "handoff") {
      c.proxy = true;
      return handoff(m.fds);
    }
    if (!c.control) {
      return errorReply("'" + op + "' is only accepted on " +
                        std::string(capture::kControlSocketName));
    }
    if (op == "apply") {
      if (!req.contains("config")) {
        return errorReply("apply without a config");
      }
      auto cfg = capture::ebpfConfigFromJson(req["config"].dump());
      if (!cfg) {
        return errorReply(cfg.error().describe());
      }
      return apply(*cfg);
    }
    if (op == "cleanup") {
      return cleanup();
    }
    return errorReply("unknown op '" + op + "'");
  }

  bool wantsResend() { return std::exchange(resend_, false); }
  bool wantsRelease() { return std::exchange(release_, false); }

private:
  capture::HolderStatus status() {
    capture::HolderStatus s;
    s.handoffs = handoffs_;
    if (!steering_) {
      return s;
    }
    s.attached = steering_->attached();
    if (auto i = steering_->info()) {
      s.info = *i;
    }
    if (auto c = steering_->readConfig()) {
      s.config = *c;
    }
    s.listenerV4 = steering_->hasListener(Family::V4);
    s.listenerV6 = steering_->hasListener(Family::V6);
    if (auto n = steering_->counters()) {
      const auto& labels = capture::ebpfReasonLabels();
      for (size_t i = 0; i < n->size() && i < labels.size(); ++i) {
        s.counters.emplace_back(std::string(labels[i]), (*n)[i]);
      }
    }
    return s;
  }

  std::string statusJson() { return capture::statusToJson(status()); }

  std::string handoff(std::vector<UniqueFd>& fds) {
    if (!steering_) {
      // Cleaned up: nothing to insert into. The proxy stays connected and is asked again
      // ("resend") by the next apply.
      return json{{"ok", true}, {"inserted", json::array()}, {"detached", true}}.dump();
    }
    if (fds.empty()) {
      return errorReply("handoff without descriptors");
    }
    json inserted = json::array();
    for (auto& fd : fds) {
      int domain = 0;
      socklen_t len = sizeof domain;
      sockaddr_storage sa{};
      socklen_t salen = sizeof sa;
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
          ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &salen) != 0 ||
          (domain != AF_INET && domain != AF_INET6)) {
        return errorReply("a descriptor is not an IPv4/IPv6 socket");
      }
      const uint16_t port = ntohs(domain == AF_INET
                                      ? reinterpret_cast<sockaddr_in*>(&sa)->sin_port
                                      : reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port);
      if (port != config_.proxyPort) {
        return errorReply("socket bound to port " + std::to_string(port) +
                          ", not the proxy port " + std::to_string(config_.proxyPort));
      }
      const Family f = domain == AF_INET ? Family::V4 : Family::V6;
      if (auto st = steering_->setListener(fd.get(), f); !st) {
        return errorReply(st.error().describe());
      }
      inserted.push_back(capture::familyName(f));
      ++handoffs_;
    }
    // Our copies close here (the fds vector dies with the message): the map entry then lives
    // exactly as long as the proxy's own socket.
    fds.clear();
    kLog.info("proxy listening sockets received", {{"families", inserted.dump()}});
    // The proxy keeps a reference to the link: if this process dies, steering goes on until a
    // restarted holder has the proxy's sockets again (the proxy then drops the old link).
    replyFd_ = steering_->linkFd();
    return json{{"ok", true}, {"inserted", inserted}, {"link", replyFd_ >= 0}}.dump();
  }

  std::string apply(const EbpfConfig& cfg) {
    json actions = json::array();
    bool changed = false;
    if (steering_ && steering_->attached()) {
      auto have = steering_->readConfig();
      if (have && *have == cfg) {
        actions.push_back("already attached with this configuration, nothing written");
        return json{{"ok", true}, {"changed", false}, {"actions", actions}}.dump();
      }
    }
    const bool wasAttached = steering_ && steering_->attached();
    config_ = cfg;
    if (auto st = attach(); !st) {
      return errorReply(st.error().describe());
    }
    changed = true;
    actions.push_back(wasAttached ? "configuration maps rewritten"
                                  : "sk_lookup program loaded and attached (bpf_link)");
    if (!wasAttached) {
      resend_ = true; // a fresh socket map: ask connected proxies for their sockets again
    }
    kLog.info("steering configured", {{"config", capture::ebpfConfigToJson(cfg)}});
    return json{{"ok", true}, {"changed", changed}, {"actions", actions}}.dump();
  }

  std::string cleanup() {
    json actions = json::array();
    if (!steering_) {
      actions.push_back("nothing attached, nothing to remove");
      return json{{"ok", true}, {"changed", false}, {"actions", actions}}.dump();
    }
    if (auto st = steering_->detach(); !st) {
      return errorReply(st.error().describe());
    }
    steering_.reset(); // program and maps released once the proxies drop their link too
    release_ = true;
    actions.push_back("sk_lookup link detached, program and maps released");
    kLog.info("steering removed on request (cleanup)");
    return json{{"ok", true}, {"changed", true}, {"actions", actions}}.dump();
  }

  UniqueFd netns_;
  EbpfConfig config_;
  capture::SteeringPtr steering_;
  uint64_t handoffs_ = 0;
  bool resend_ = false;
  bool release_ = false;
  int replyFd_ = -1;
};

Result<UniqueFd> blockSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
    return BW_ERR(errnoCode(errno), "sigprocmask");
  }
  UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd) {
    return BW_ERR(errnoCode(errno), "signalfd");
  }
  ::signal(SIGPIPE, SIG_IGN);
  return fd;
}

int failHold(const Error& e) {
  std::fprintf(stderr, "bulwark-init: hold: %s\n", e.describe().c_str());
  return cli::kExitFailure;
}

// --mode auto and eBPF unavailable: stay up doing nothing (a sidecar that exits would be
// restarted forever), serve no socket, so the init step's auto falls back to netfilter.
int idle(const std::string& why) {
  kLog.warn("ebpf capture unavailable; holder idle (auto mode: netfilter capture applies)",
            {{"why", why}});
  auto sig = blockSignals();
  if (!sig) {
    return failHold(sig.error());
  }
  pollfd p{sig->get(), POLLIN, 0};
  while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
  return cli::kExitOk;
}

} // namespace

int runHold(const Options& o, const capture::Plan& plan) {
  const auto features = capture::probeEbpf();
  if (auto miss = features.missing(); !miss.empty() && o.mode == capture::Mode::Auto) {
    return idle(miss);
  }
  if (auto miss = features.missing(); !miss.empty()) {
    const bool caps = features.built && (!features.capBpf || !features.capNetAdmin);
    const bool refused = features.built && !features.progType &&
                         features.progType.error().code() == errnoCode(EPERM);
    return failHold(Error(caps || refused ? errnoCode(EPERM)
                                          : std::make_error_code(std::errc::not_supported),
                          "ebpf capture unavailable: " + miss +
                              (caps ? "; the holder needs CAP_BPF and CAP_NET_ADMIN" : "") +
                              "; or use --mode nftables|iptables"));
  }
  UniqueFd netns(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!netns) {
    return failHold(Error(errnoCode(errno), "open /proc/self/ns/net"));
  }
  auto sig = blockSignals();
  if (!sig) {
    return failHold(sig.error());
  }
  if (::mkdir(o.runDir.c_str(), 0755) != 0 && errno != EEXIST) {
    return failHold(Error(errnoCode(errno), "mkdir " + o.runDir));
  }
  Holder holder(std::move(netns), capture::ebpfConfig(plan, !o.failOpen));
  if (auto st = holder.attach(); !st) {
    return failHold(st.error());
  }
  auto steer = fdpass::listenUnix(o.runDir + "/" + std::string(capture::kSteerSocketName), 0666);
  if (!steer) {
    return failHold(steer.error());
  }
  auto control =
      fdpass::listenUnix(o.runDir + "/" + std::string(capture::kControlSocketName), 0600);
  if (!control) {
    return failHold(control.error());
  }
  kLog.info("steering attached; waiting for the proxy's sockets",
            {{"run_dir", o.runDir},
             {"config", capture::ebpfConfigToJson(capture::ebpfConfig(plan, !o.failOpen))}});
  std::printf("hold: sk_lookup attached; sockets %s/{%s,%s}\n", o.runDir.c_str(),
              std::string(capture::kSteerSocketName).c_str(),
              std::string(capture::kControlSocketName).c_str());
  std::fflush(stdout);

  std::vector<Client> clients;
  for (;;) {
    std::vector<pollfd> pfds = {{sig->get(), POLLIN, 0},
                                {steer->get(), POLLIN, 0},
                                {control->get(), POLLIN, 0}};
    for (const auto& c : clients) {
      pfds.push_back({c.fd.get(), POLLIN, 0});
    }
    if (::poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return failHold(Error(errnoCode(errno), "poll"));
    }
    if (pfds[0].revents != 0) {
      // Our link reference closes with us; a proxy that holds one keeps steering going until
      // the pod is gone or a new holder takes over. `cleanup` is the way to stop steering.
      kLog.info("signal received; exiting (the proxy's link reference keeps steering)");
      break;
    }
    // Clients, in the order polled (their indexes start at 3); erase after the pass.
    std::vector<size_t> dead;
    for (size_t k = 3; k < pfds.size(); ++k) {
      if (pfds[k].revents == 0) {
        continue;
      }
      Client& c = clients[k - 3];
      auto msg = fdpass::receive(c.fd.get(), 0ms);
      if (!msg) {
        dead.push_back(k - 3);
        continue;
      }
      const std::string reply = holder.handle(c, *msg);
      const int fd = holder.replyFd();
      std::vector<int> fds;
      if (fd >= 0) {
        fds.push_back(fd);
      }
      if (!fdpass::send(c.fd.get(), reply, fds)) {
        dead.push_back(k - 3);
      }
    }
    for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
      clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(*it));
    }
    // New clients last: the indexes above refer to the client list as it was polled.
    for (int i : {1, 2}) {
      if ((pfds[i].revents & POLLIN) == 0) {
        continue;
      }
      // Non-blocking: a client that stops reading must never stall the holder.
      UniqueFd fd(::accept4(pfds[i].fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!fd) {
        continue;
      }
      if (clients.size() >= kMaxClients) {
        // The oldest client that is not a proxy waiting for "resend" goes first.
        auto victim = std::find_if(clients.begin(), clients.end(),
                                   [](const Client& c) { return !c.proxy; });
        kLog.warn("too many holder clients; dropping the oldest");
        clients.erase(victim != clients.end() ? victim : clients.begin());
      }
      clients.push_back({std::move(fd), i == 2, false});
    }
    // Tell connected proxies: hand the sockets over again (re-attached), or drop the link
    // reference (cleaned up: the program and maps then really go).
    for (const char* op : {holder.wantsResend() ? R"({"op":"resend"})" : nullptr,
                           holder.wantsRelease() ? R"({"op":"release"})" : nullptr}) {
      for (auto& c : clients) {
        if (op != nullptr && c.proxy) {
          (void)fdpass::send(c.fd.get(), op);
        }
      }
    }
  }
  return cli::kExitOk;
}

} // namespace bulwark::init

#include "bulwark/filter/ebpf_handoff.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "bulwark/common/fdpass.h"
#include "bulwark/common/log.h"

namespace bulwark::filter {
namespace {

using namespace std::chrono_literals;

const log::Logger kLog("ebpf-handoff");

constexpr auto kFirstBackoff = 50ms;
constexpr auto kMaxBackoff = 2000ms;
constexpr auto kAnswerTimeout = 2000ms;
constexpr auto kMetricsTimeout = 200ms;

bool isOk(const std::string& reply) {
  return reply.find("\"ok\":true") != std::string::npos;
}

class Handoff : public EbpfHandoff {
public:
  Handoff(std::string path, std::vector<int> fds) : path_(std::move(path)), fds_(std::move(fds)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Handoff() override {
    stop_ = true;
    thread_.join();
  }

  std::string metrics() override {
    auto fd = fdpass::connectUnix(path_);
    if (!fd) {
      return {};
    }
    auto reply = fdpass::call(fd->get(), R"({"op":"metrics"})", {}, kMetricsTimeout);
    if (!reply || !isOk(reply->data)) {
      return {};
    }
    // {"ok":true,"text":"..."}: the text is JSON-escaped; undo the escapes the holder uses.
    const auto pos = reply->data.find("\"text\":\"");
    if (pos == std::string::npos) {
      return {};
    }
    std::string out;
    const std::string& d = reply->data;
    for (size_t i = pos + 8; i < d.size() && d[i] != '"'; ++i) {
      if (d[i] == '\\' && i + 1 < d.size()) {
        ++i;
        out += d[i] == 'n' ? '\n' : d[i];
      } else {
        out += d[i];
      }
    }
    return out;
  }

private:
  // Sends the sockets; true when the holder took them.
  bool send(int sock) {
    auto reply = fdpass::call(sock, R"({"op":"handoff"})", fds_, kAnswerTimeout);
    if (!reply) {
      kLog.warn("eBPF holder did not take the listening sockets",
                {{"socket", path_}, {"error", reply.error().describe()}});
      return false;
    }
    if (!isOk(reply->data)) {
      kLog.warn("eBPF holder refused the listening sockets",
                {{"socket", path_}, {"answer", reply->data.substr(0, 300)}});
      return false;
    }
    // The holder's link comes back with the answer: holding it keeps steering alive if the
    // holder dies; the previous holder's link (if any) is released here.
    linkRefs_ = std::move(reply->fds);
    kLog.info("listening sockets handed to the eBPF holder",
              {{"socket", path_}, {"sockets", std::to_string(fds_.size())}});
    return true;
  }

  void sleepFor(std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (!stop_ && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(d, 50ms));
    }
  }

  void loop() {
    auto backoff = kFirstBackoff;
    bool warned = false;
    while (!stop_) {
      auto fd = fdpass::connectUnix(path_);
      if (!fd || !send(fd->get())) {
        if (!warned) {
          kLog.warn("eBPF holder not reachable yet; retrying with backoff",
                    {{"socket", path_},
                     {"error", fd ? std::string("refused") : fd.error().describe()}});
          warned = true;
        }
        sleepFor(backoff);
        backoff = std::min(backoff * 2, kMaxBackoff);
        continue;
      }
      backoff = kFirstBackoff;
      warned = false;
      // Stay connected: the holder asks again after a re-attach; its exit closes the socket.
      while (!stop_) {
        auto msg = fdpass::receive(fd->get(), 200ms);
        if (msg) {
          if (msg->data.find("\"release\"") != std::string::npos) {
            linkRefs_.clear(); // steering removed on purpose: let program and maps go
          } else if (msg->data.find("\"resend\"") != std::string::npos && !send(fd->get())) {
            break;
          }
          continue;
        }
        if (msg.error().code().value() == ETIMEDOUT) {
          continue;
        }
        kLog.warn("eBPF holder went away; reconnecting", {{"socket", path_}});
        break;
      }
    }
  }

  std::string path_;
  std::vector<int> fds_;
  std::vector<UniqueFd> linkRefs_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace

EbpfHandoffPtr startEbpfHandoff(const std::string& socketPath, std::vector<int> listenerFds) {
  if (socketPath.empty() || listenerFds.empty()) {
    return nullptr;
  }
  return std::make_unique<Handoff>(socketPath, std::move(listenerFds));
}

} // namespace bulwark::filter

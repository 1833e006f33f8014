// eBPF capture, init side: the applier talks to the holder (bulwark-init hold) over its control
// socket and checks the kernel itself for verify.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <nlohmann/json.hpp>

#include "bulwark/capture/ebpf.h"

namespace bulwark::capture {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kCallTimeout = 5000ms;

class SocketHolderClient : public HolderClient {
public:
  SocketHolderClient(std::string path, std::chrono::milliseconds wait)
      : path_(std::move(path)), wait_(wait) {}

  Result<std::optional<HolderStatus>> status() override {
    auto fd = connect();
    if (!fd) {
      return tl::unexpected(fd.error());
    }
    if (!*fd) {
      return std::optional<HolderStatus>();
    }
    auto reply = fdpass::call(fd->get(), R"({"op":"status"})", {}, kCallTimeout);
    if (!reply) {
      return tl::unexpected(std::move(reply.error()).wrap("holder " + path_));
    }
    auto s = statusFromJson(reply->data);
    if (!s) {
      return tl::unexpected(s.error());
    }
    return std::optional<HolderStatus>(std::move(*s));
  }

  Result<ApplyReport> apply(const EbpfConfig& cfg) override {
    json req = {{"op", "apply"}, {"config", json::parse(ebpfConfigToJson(cfg))}};
    return report(req.dump());
  }

  Result<ApplyReport> cleanup() override { return report(R"({"op":"cleanup"})"); }

private:
  // A connected socket; an empty one when nothing listens at path_ within wait_.
  Result<UniqueFd> connect() {
    const auto deadline = std::chrono::steady_clock::now() + wait_;
    for (;;) {
      auto fd = fdpass::connectUnix(path_);
      if (fd) {
        return fd;
      }
      const int e = fd.error().code().value();
      if (e != ENOENT && e != ECONNREFUSED) {
        return tl::unexpected(fd.error());
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return UniqueFd();
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  Result<ApplyReport> report(const std::string& request) {
    auto fd = connect();
    if (!fd) {
      return tl::unexpected(fd.error());
    }
    if (!*fd) {
      return BW_ERR(errnoCode(ENOENT), "no eBPF holder answers at " + path_);
    }
    auto reply = fdpass::call(fd->get(), request, {}, kCallTimeout);
    if (!reply) {
      return tl::unexpected(std::move(reply.error()).wrap("holder " + path_));
    }
    auto j = json::parse(reply->data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return BW_INVALID("holder " + path_ + ": answer is not a JSON object");
    }
    if (!j.value("ok", false)) {
      return BW_ERR(std::make_error_code(std::errc::io_error),
                    "holder: " + j.value("error", std::string("request failed")));
    }
    ApplyReport rep;
    rep.changed = j.value("changed", false);
    if (j.contains("actions") && j["actions"].is_array()) {
      for (const auto& a : j["actions"]) {
        if (a.is_string()) {
          rep.actions.push_back(a.get<std::string>());
        }
      }
    }
    return rep;
  }

  std::string path_;
  std::chrono::milliseconds wait_;
};

class RealEbpfKernel : public EbpfKernel {
public:
  Result<std::vector<uint32_t>> attachedPrograms() override {
    UniqueFd ns(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!ns) {
      return BW_ERR(errnoCode(errno), "open /proc/self/ns/net");
    }
    return queryNetnsSkLookup(ns.get());
  }
  Result<std::string> expectedTag() override { return expectedProgTag(); }
};

std::string noHolder() {
  return "no eBPF holder is running: start `bulwark-init hold` (the bulwark-hold sidecar) "
         "first, or use --mode nftables|iptables";
}

class EbpfApplier : public Applier {
public:
  EbpfApplier(HolderClient& holder, EbpfKernel& kernel, bool failClosed)
      : holder_(holder), kernel_(kernel), failClosed_(failClosed) {}

  std::string_view mode() const override { return "ebpf"; }
  std::string describe() const override { return "ebpf (sk_lookup)"; }
  std::string render(const Plan& plan) const override {
    return renderEbpf(ebpfConfig(plan, failClosed_));
  }

  Result<ApplyReport> apply(const Plan& plan) override {
    const EbpfConfig want = ebpfConfig(plan, failClosed_);
    auto st = holder_.status();
    if (!st) {
      return tl::unexpected(st.error());
    }
    if (!*st) {
      return BW_ERR(errnoCode(ENOENT), noHolder());
    }
    if ((*st)->attached && (*st)->config == want) {
      ApplyReport rep;
      rep.actions.push_back("sk_lookup program " + std::to_string((*st)->info.progId) +
                            " already attached with this configuration, nothing written");
      return rep;
    }
    return holder_.apply(want);
  }

  Result<VerifyReport> verify(const Plan& plan) override {
    const EbpfConfig want = ebpfConfig(plan, failClosed_);
    VerifyReport rep;
    auto st = holder_.status();
    if (!st) {
      return tl::unexpected(st.error());
    }
    if (!*st) {
      rep.ok = false;
      rep.diff = "- eBPF holder (not running; nothing attached)\n";
      return rep;
    }
    const HolderStatus& s = **st;
    if (!s.attached) {
      rep.ok = false;
      rep.diff += "- sk_lookup link (the holder has nothing attached)\n";
    } else {
      auto ids = kernel_.attachedPrograms();
      if (!ids) {
        return tl::unexpected(ids.error());
      }
      if (std::find(ids->begin(), ids->end(), s.info.progId) == ids->end()) {
        rep.ok = false;
        rep.diff += "- sk_lookup program " + std::to_string(s.info.progId) +
                    " attached to this network namespace\n";
      }
      auto tag = kernel_.expectedTag();
      if (!tag) {
        return tl::unexpected(tag.error());
      }
      if (*tag != s.info.progTag) {
        rep.ok = false;
        rep.diff += "- program tag " + *tag + "\n+ program tag " + s.info.progTag + "\n";
      }
    }
    if (!s.config || *s.config != want) {
      rep.ok = false;
      rep.diff += lineDiff(renderEbpf(want), s.config ? renderEbpf(*s.config) : std::string());
    }
    return rep;
  }

  Result<ApplyReport> cleanup() override {
    auto st = holder_.status();
    if (!st) {
      return tl::unexpected(st.error());
    }
    if (!*st) {
      ApplyReport rep;
      rep.actions.push_back("no eBPF holder running: no link, nothing to remove");
      return rep;
    }
    return holder_.cleanup();
  }

private:
  HolderClient& holder_;
  EbpfKernel& kernel_;
  bool failClosed_;
};

} // namespace

HolderClientPtr makeHolderClient(std::string controlPath, std::chrono::milliseconds wait) {
  return std::make_unique<SocketHolderClient>(std::move(controlPath), wait);
}

EbpfKernelPtr makeEbpfKernel() { return std::make_unique<RealEbpfKernel>(); }

ApplierPtr makeEbpfApplier(HolderClient& holder, EbpfKernel& kernel, bool failClosed) {
  return std::make_unique<EbpfApplier>(holder, kernel, failClosed);
}

} // namespace bulwark::capture

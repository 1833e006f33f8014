#include <linux/capability.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "bulwark/capture/apply.h"
#include "bulwark/capture/probe.h"

namespace bulwark::capture {
namespace {

// What iptables-save shows of Bulwark in the nat table of one family.
struct SavedState {
  std::vector<std::string> chains; // ours, sorted
  std::vector<std::string> rules;  // "-A BULWARK_…", grouped by chain (stable)
  std::vector<IptablesHook> hooks; // jumps from other chains into ours, in save order

  bool empty() const { return chains.empty() && rules.empty() && hooks.empty(); }
};

bool ours(std::string_view chain) { return chain.substr(0, kChainPrefix.size()) == kChainPrefix; }

std::string_view chainOf(std::string_view ruleLine) {
  auto rest = ruleLine.substr(3);
  return rest.substr(0, rest.find(' '));
}

void sortByChain(std::vector<std::string>& rules) {
  std::stable_sort(rules.begin(), rules.end(), [](const std::string& a, const std::string& b) {
    return chainOf(a) < chainOf(b);
  });
}

std::string trimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

SavedState parseSave(std::string_view text) {
  SavedState st;
  bool inNat = false;
  while (!text.empty()) {
    auto nl = text.find('\n');
    const std::string line = trimRight(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line[0] == '#') {
      continue;
    }
    if (line[0] == '*') {
      inNat = line == "*" + std::string(kIptablesTable);
      continue;
    }
    if (!inNat) {
      continue;
    }
    if (line[0] == ':') {
      auto name = line.substr(1, line.find(' ') - 1);
      if (ours(name)) {
        st.chains.push_back(name);
      }
    } else if (line.rfind("-A ", 0) == 0) {
      const std::string chain(chainOf(line));
      if (ours(chain)) {
        st.rules.push_back(line);
      } else if (line.find(" -j " + std::string(kChainPrefix)) != std::string::npos) {
        st.hooks.push_back({chain, line.substr(3 + chain.size() + 1)});
      }
    }
  }
  std::sort(st.chains.begin(), st.chains.end());
  sortByChain(st.rules);
  return st;
}

bool matches(const SavedState& have, const IptablesRules& want) {
  if (have.chains != want.chains || have.rules != want.rules) {
    return false;
  }
  auto a = have.hooks;
  auto b = want.hooks;
  auto byLine = [](const IptablesHook& x, const IptablesHook& y) { return x.line() < y.line(); };
  std::sort(a.begin(), a.end(), byLine);
  std::sort(b.begin(), b.end(), byLine);
  return a == b;
}

std::string stateText(const std::vector<std::string>& chains,
                      const std::vector<std::string>& rules,
                      const std::vector<IptablesHook>& hooks) {
  std::string out;
  for (const auto& c : chains) {
    out += ":" + c + "\n";
  }
  for (const auto& r : rules) {
    out += r + "\n";
  }
  auto sorted = hooks;
  std::sort(sorted.begin(), sorted.end(),
            [](const IptablesHook& x, const IptablesHook& y) { return x.line() < y.line(); });
  for (const auto& h : sorted) {
    out += h.line() + "\n";
  }
  return out;
}

// Restore text that turns `have` into `want` (want == nullptr: remove everything of ours).
std::string transition(const SavedState& have, const IptablesRules* want) {
  std::string out = "*" + std::string(kIptablesTable) + "\n";
  std::vector<std::string> declare = want ? want->chains : std::vector<std::string>{};
  std::vector<std::string> stale;
  for (const auto& c : have.chains) {
    if (std::find(declare.begin(), declare.end(), c) == declare.end()) {
      stale.push_back(c);
    }
  }
  // Declaring a chain creates it or, with --noflush, flushes it.
  for (const auto& c : declare) {
    out += ":" + c + " - [0:0]\n";
  }
  for (const auto& c : stale) {
    out += ":" + c + " - [0:0]\n";
  }
  // Drop hooks that are not wanted, and duplicates of wanted ones.
  std::vector<IptablesHook> kept;
  for (const auto& h : have.hooks) {
    const bool wanted = want && std::find(want->hooks.begin(), want->hooks.end(), h) !=
                                    want->hooks.end();
    if (!wanted || std::find(kept.begin(), kept.end(), h) != kept.end()) {
      out += "-D " + h.chain + " " + h.spec + "\n";
    } else {
      kept.push_back(h);
    }
  }
  for (const auto& c : stale) {
    out += "-X " + c + "\n";
  }
  if (want) {
    for (const auto& r : want->rules) {
      out += r + "\n";
    }
    for (const auto& h : want->hooks) {
      if (std::find(kept.begin(), kept.end(), h) == kept.end()) {
        out += "-I " + h.chain + " 1 " + h.spec + "\n";
      }
    }
  }
  out += "COMMIT\n";
  return out;
}

std::string firstLine(std::string_view s) {
  auto t = s.substr(0, s.find('\n'));
  return std::string(t.substr(0, 300));
}

class IptablesApplier : public Applier {
public:
  IptablesApplier(CommandRunner& runner, IptablesBackend backend)
      : runner_(runner), backend_(backend) {}

  std::string_view mode() const override { return "iptables"; }
  std::string describe() const override {
    return "iptables (" + std::string(backendName(backend_)) + " backend)";
  }

  std::string render(const Plan& plan) const override {
    std::string out;
    for (auto f : {Family::V4, Family::V6}) {
      if (plan.hasFamily(f)) {
        out += "# " + iptablesTool(backend_, f, "restore") + " --noflush\n" +
               renderIptablesRestore(renderIptables(plan, f));
      }
    }
    return out;
  }

  Result<ApplyReport> apply(const Plan& plan) override {
    std::vector<Family> families;
    for (auto f : {Family::V4, Family::V6}) {
      if (plan.hasFamily(f)) {
        families.push_back(f);
      }
    }
    // One restore per family; the families are independent kernel tables, so with a runner
    // that allows it they run side by side (process start-up dominates the apply time).
    std::vector<ApplyReport> reps(families.size());
    std::vector<Status> results(families.size());
    if (runner_.concurrent() && families.size() == 2) {
      std::thread other([&] { results[1] = applyFamily(plan, families[1], reps[1]); });
      results[0] = applyFamily(plan, families[0], reps[0]);
      other.join();
    } else {
      for (size_t i = 0; i < families.size(); ++i) {
        results[i] = applyFamily(plan, families[i], reps[i]);
        if (!results[i]) {
          break;
        }
      }
    }
    ApplyReport rep;
    std::optional<Error> failure;
    for (size_t i = 0; i < families.size(); ++i) {
      rep.changed = rep.changed || reps[i].changed;
      rep.actions.insert(rep.actions.end(), reps[i].actions.begin(), reps[i].actions.end());
      if (!results[i] && !failure) {
        failure = results[i].error();
      }
    }
    if (failure) {
      // Never leave half a rule set: take out what this run put in for the other family.
      for (size_t i = 0; i < families.size(); ++i) {
        if (results[i] && reps[i].changed) {
          ApplyReport undo;
          (void)cleanupFamily(families[i], undo, false);
        }
      }
      return tl::unexpected(*failure);
    }
    return rep;
  }

  Result<VerifyReport> verify(const Plan& plan) override {
    VerifyReport rep;
    for (auto f : {Family::V4, Family::V6}) {
      if (!plan.hasFamily(f)) {
        continue;
      }
      auto have = save(f);
      if (!have) {
        return tl::unexpected(have.error());
      }
      const auto want = renderIptables(plan, f);
      if (!matches(*have, want)) {
        rep.ok = false;
        rep.diff += "# " + std::string(familyName(f)) + " (" +
                    iptablesTool(backend_, f, "save") + " -t nat)\n" +
                    lineDiff(stateText(want.chains, want.rules, want.hooks),
                             stateText(have->chains, have->rules, have->hooks));
      }
    }
    return rep;
  }

  Result<ApplyReport> cleanup() override {
    ApplyReport rep;
    for (auto f : {Family::V4, Family::V6}) {
      if (auto st = cleanupFamily(f, rep, true); !st) {
        return tl::unexpected(st.error());
      }
    }
    return rep;
  }

private:
  // iptables-legacy talks to the kernel through a raw socket: without CAP_NET_RAW it only says
  // "Permission denied (you must be root)" or "unable to initialize table". Name the capability.
  tl::unexpected<Error> toolFailed(const std::string& what, const CommandResult& res) const {
    std::string msg = what + " exited " + std::to_string(res.exitCode) + ": " + firstLine(res.err);
    if (backend_ == IptablesBackend::Legacy && !hasEffectiveCap(CAP_NET_RAW)) {
      return BW_ERR(errnoCode(EPERM),
                    msg + "; iptables-legacy needs CAP_NET_RAW (a raw socket), which this "
                          "process lacks: grant NET_RAW to the init container, or use --mode "
                          "nftables (NET_ADMIN only)");
    }
    return BW_ERR(std::make_error_code(std::errc::io_error), msg);
  }

  Result<SavedState> save(Family f) {
    const std::string tool = iptablesTool(backend_, f, "save");
    auto res = runner_.run({tool, "-t", std::string(kIptablesTable)}, {});
    if (!res) {
      return tl::unexpected(std::move(res.error()).wrap(std::string(familyName(f))));
    }
    if (res->exitCode != 0) {
      return toolFailed(tool + " -t nat", *res);
    }
    return parseSave(res->out);
  }

  Status restore(Family f, const std::string& text) {
    const std::string tool = iptablesTool(backend_, f, "restore");
    auto res = runner_.run({tool, "--noflush", "--wait=5"}, text);
    if (!res) {
      return tl::unexpected(res.error());
    }
    if (res->exitCode != 0) {
      return toolFailed(tool + " --noflush", *res);
    }
    return {};
  }

  Status applyFamily(const Plan& plan, Family f, ApplyReport& rep) {
    auto have = save(f);
    if (!have) {
      return tl::unexpected(have.error());
    }
    const auto want = renderIptables(plan, f);
    const std::string fam(familyName(f));
    if (matches(*have, want)) {
      rep.actions.push_back(fam + ": nat chains already up to date, nothing written");
      return {};
    }
    if (auto st = restore(f, transition(*have, &want)); !st) {
      return tl::unexpected(std::move(st.error()).wrap(fam));
    }
    rep.changed = true;
    rep.actions.push_back(fam + ": " + (have->empty() ? "installed " : "replaced ") +
                          std::to_string(want.chains.size()) + " chains, " +
                          std::to_string(want.rules.size()) + " rules, " +
                          std::to_string(want.hooks.size()) + " hooks with one " +
                          iptablesTool(backend_, f, "restore") + " --noflush");
    return {};
  }

  Status cleanupFamily(Family f, ApplyReport& rep, bool strict) {
    const std::string fam(familyName(f));
    auto have = save(f);
    if (!have) {
      if (!strict) {
        return {};
      }
      return tl::unexpected(std::move(have.error()).wrap(fam));
    }
    if (have->empty()) {
      rep.actions.push_back(fam + ": no Bulwark chains, nothing to remove");
      return {};
    }
    if (auto st = restore(f, transition(*have, nullptr)); !st) {
      return tl::unexpected(std::move(st.error()).wrap(fam));
    }
    rep.changed = true;
    rep.actions.push_back(fam + ": removed " + std::to_string(have->chains.size()) +
                          " chains and " + std::to_string(have->hooks.size()) + " hooks");
    return {};
  }

  CommandRunner& runner_;
  IptablesBackend backend_;
};

} // namespace

std::string_view backendName(IptablesBackend b) {
  return b == IptablesBackend::Legacy ? "legacy" : "nft";
}

std::string iptablesTool(IptablesBackend b, Family f, std::string_view suffix) {
  return std::string(f == Family::V4 ? "iptables-" : "ip6tables-") + std::string(backendName(b)) +
         "-" + std::string(suffix);
}

ApplierPtr makeIptablesApplier(CommandRunner& runner, IptablesBackend backend) {
  return std::make_unique<IptablesApplier>(runner, backend);
}

} // namespace bulwark::capture

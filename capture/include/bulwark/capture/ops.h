#pragma once

// The only ways the appliers reach the OS: running a program (iptables-restore / -save) and
// talking nftables netlink. Each has a real implementation and a recording fake for tests.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/capture/render.h"
#include "bulwark/common/result.h"

namespace bulwark::capture {

struct CommandResult {
  int exitCode = 0;
  std::string out;
  std::string err;
};

class CommandRunner {
public:
  virtual ~CommandRunner() = default;
  // Runs argv (argv[0] looked up in PATH) with `input` on stdin and waits for it. An error only
  // when the program could not be run at all; a non-zero exit is a CommandResult.
  virtual Result<CommandResult> run(const std::vector<std::string>& argv,
                                    std::string_view input) = 0;
  // Whether argv[0] would be found (for probes).
  virtual bool available(std::string_view program) = 0;
  // Whether run() may be called from two threads at once (the real runner: yes).
  virtual bool concurrent() const { return false; }
};
using CommandRunnerPtr = std::unique_ptr<CommandRunner>;

// fork/exec with pipes; every call bounded by `timeoutMs` (killed after it).
CommandRunnerPtr makeCommandRunner(int timeoutMs = 10000);

// Records every call ("$ argv…" then the stdin text) and answers from a script.
class RecordingCommandRunner : public CommandRunner {
public:
  // The answer for `program` (argv[0]) from now on; unscripted programs exit 0 silently.
  void script(const std::string& program, CommandResult result) { answers_[program] = result; }
  // Programs that available() denies.
  void hide(const std::string& program) { hidden_[program] = true; }
  const std::string& log() const { return log_; }
  size_t calls() const { return calls_; }
  void clearLog() {
    log_.clear();
    calls_ = 0;
  }

  Result<CommandResult> run(const std::vector<std::string>& argv,
                            std::string_view input) override;
  bool available(std::string_view program) override {
    return hidden_.find(std::string(program)) == hidden_.end();
  }

private:
  std::map<std::string, CommandResult> answers_;
  std::map<std::string, bool> hidden_;
  std::string log_;
  size_t calls_ = 0;
};

class NetlinkOps {
public:
  virtual ~NetlinkOps() = default;
  // Whether nf_tables answers at all (a table dump); the error says why not.
  virtual Status probe() = 0;
  // The `inet <name>` table as the kernel holds it (chains sorted by name), nullopt if absent.
  virtual Result<std::optional<NftTable>> readTable(std::string_view name) = 0;
  // ONE transaction: add table; delete table; then, when `table` is set, add it again with all
  // its chains and rules. Atomic: the kernel applies all of it or nothing.
  virtual Status replaceTable(std::string_view name, const NftTable* table) = 0;
};
using NetlinkOpsPtr = std::unique_ptr<NetlinkOps>;

// libnftnl + libmnl over NETLINK_NETFILTER in the caller's network namespace.
NetlinkOpsPtr makeNetlinkOps();

// Keeps tables in memory and logs every batch in nft syntax.
class RecordingNetlinkOps : public NetlinkOps {
public:
  Status probe() override;
  Result<std::optional<NftTable>> readTable(std::string_view name) override;
  Status replaceTable(std::string_view name, const NftTable* table) override;

  const std::string& log() const { return log_; }
  size_t batches() const { return batches_; }
  // The next operation fails with this error (once).
  void failNext(Error e) { fail_ = std::move(e); }
  // Direct access to the "kernel" state (to simulate drift).
  std::map<std::string, NftTable, std::less<>>& tables() { return tables_; }

private:
  std::optional<Error> takeFailure();
  std::map<std::string, NftTable, std::less<>> tables_;
  std::optional<Error> fail_;
  std::string log_;
  size_t batches_ = 0;
};

} // namespace bulwark::capture

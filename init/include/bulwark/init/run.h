#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bulwark/capture/apply.h"
#include "bulwark/capture/plan.h"
#include "bulwark/capture/probe.h"
#include "bulwark/common/cli.h"
#include "bulwark/common/result.h"

namespace bulwark::init {

enum class Command : uint8_t { Plan, Apply, Verify, Cleanup, Hold };

struct Options {
  Command command = Command::Plan;
  capture::Mode mode = capture::Mode::Auto;
  capture::PlanInput plan;
  std::optional<capture::IptablesBackend> backend; // nullopt = detect
  bool failOpen = false;
  bool json = false;
  std::string runDir = "/run/bulwark"; // ebpf: the holder's sockets (emptyDir bulwark-run)
  std::optional<unsigned> holderWaitS;  // ebpf: how long apply/verify wait for the holder
};

const std::vector<cli::OptionSpec>& initOptions();

// Flags, then BULWARK_<FLAG> environment, then defaults. Errors are usage errors (exit 2).
[[nodiscard]] Result<Options> loadOptions(const cli::ParsedArgs& args);

// `bulwark-init hold`: loads and attaches the eBPF steering program for `plan`, then serves the
// proxy's socket hand-off and the init step's requests until SIGTERM (docs/init.md).
int runHold(const Options& o, const capture::Plan& plan);

// bulwark-init entry point: exit 0 ok, 2 usage/config error, 1 failure (docs/init.md).
int run(int argc, const char* const* argv);

} // namespace bulwark::init

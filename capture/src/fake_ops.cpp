#include "bulwark/capture/ops.h"

namespace bulwark::capture {

Result<CommandResult> RecordingCommandRunner::run(const std::vector<std::string>& argv,
                                                  std::string_view input) {
  ++calls_;
  log_ += "$";
  for (const auto& a : argv) {
    log_ += " " + a;
  }
  log_ += "\n";
  if (!input.empty()) {
    log_ += input;
    if (input.back() != '\n') {
      log_ += "\n";
    }
  }
  if (argv.empty()) {
    return BW_INVALID("empty command");
  }
  auto it = answers_.find(argv[0]);
  return it == answers_.end() ? CommandResult{} : it->second;
}

std::optional<Error> RecordingNetlinkOps::takeFailure() {
  auto f = std::move(fail_);
  fail_.reset();
  return f;
}

Status RecordingNetlinkOps::probe() {
  if (auto f = takeFailure()) {
    return tl::unexpected(*f);
  }
  return {};
}

Result<std::optional<NftTable>> RecordingNetlinkOps::readTable(std::string_view name) {
  if (auto f = takeFailure()) {
    return tl::unexpected(*f);
  }
  auto it = tables_.find(name);
  if (it == tables_.end()) {
    return std::optional<NftTable>();
  }
  return std::optional<NftTable>(it->second);
}

Status RecordingNetlinkOps::replaceTable(std::string_view name, const NftTable* table) {
  ++batches_;
  const std::string t = "inet " + std::string(name);
  log_ += "batch begin\nadd table " + t + "\ndelete table " + t + "\n";
  if (table != nullptr) {
    log_ += "add table " + t + "\n";
    for (const auto& c : table->chains) {
      log_ += "add chain " + t + " " + c.name + " { type " + c.type + " hook " + c.hook +
              " priority " + std::to_string(c.priority) + "; policy accept; }\n";
    }
    for (const auto& c : table->chains) {
      for (const auto& r : c.rules) {
        log_ += "add rule " + t + " " + c.name + " " + renderNftRule(r) + "\n";
      }
    }
  }
  log_ += "batch end\n";
  if (auto f = takeFailure()) {
    log_ += "(aborted)\n";
    return tl::unexpected(*f);
  }
  if (table != nullptr) {
    tables_[std::string(name)] = *table;
  } else {
    tables_.erase(std::string(name));
  }
  return {};
}

} // namespace bulwark::capture

#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/common/result.h"

namespace bulwark::cli {

// Exit codes shared by every binary (DESIGN.md "Command lines").
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct OptionSpec {
  std::string name;    // long name without dashes, e.g. "listen"
  std::string metavar; // empty for a boolean flag
  std::string help;
  bool repeatable = false;
};

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>, std::less<>> values;
  std::vector<std::string> positional;
  bool help = false;
  bool version = false;

  bool has(std::string_view name) const { return values.find(name) != values.end(); }
  // The last value given for a flag (flags given twice: the last wins, like most tools).
  std::optional<std::string> last(std::string_view name) const;
  const std::vector<std::string>* all(std::string_view name) const;
};

// Parses `--name value`, `--name=value` and boolean `--name`; `--help`/`-h` and `--version` are
// always known. Unknown flags, missing values and repeated non-repeatable flags are errors.
Result<ParsedArgs> parse(int argc, const char* const* argv, const std::vector<OptionSpec>& specs,
                         size_t maxPositional = 0);

// "BULWARK_<NAME>": the environment variable of a flag, '-' turned into '_', upper-cased.
std::string envName(std::string_view flagName);

// The value of envName(flagName); nullopt when unset or empty.
std::optional<std::string> env(std::string_view flagName);

// Renders a --help text: synopsis line, description, then one line per option.
std::string usage(std::string_view synopsis, std::string_view description,
                  const std::vector<OptionSpec>& specs);

// What a program says about itself on the command line.
struct Program {
  std::string_view name; // "bulwark-proxy": prefix of usage errors and of --version
  std::string_view synopsis;
  std::string_view description;
  const std::vector<OptionSpec>& options;
  size_t maxPositional = 0;
};

// The prologue every binary shares: parses the command line and answers --help (stdout,
// exit 0), --version (stdout, exit 0) and usage errors (stderr, exit 2). Returns the exit code
// when the program is done, nullopt when `out` holds arguments to run with.
std::optional<int> prologue(const Program& program, int argc, const char* const* argv,
                            ParsedArgs& out);

std::optional<uint64_t> parseUint(std::string_view text, uint64_t min, uint64_t max);

// Splits "a,b, c" into trimmed, non-empty items.
std::vector<std::string> splitList(std::string_view text);

} // namespace bulwark::cli

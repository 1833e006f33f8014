#include "bulwark/common/cli.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace bulwark::cli {

std::optional<std::string> ParsedArgs::last(std::string_view name) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) {
    return std::nullopt;
  }
  return it->second.back();
}

const std::vector<std::string>* ParsedArgs::all(std::string_view name) const {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

Result<ParsedArgs> parse(int argc, const char* const* argv, const std::vector<OptionSpec>& specs,
                         size_t maxPositional) {
  ParsedArgs out;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (arg == "--version") {
      out.version = true;
      continue;
    }
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      if (!arg.empty() && arg[0] == '-') {
        return BW_INVALID("unknown option '" + std::string(arg) + "' (see --help)");
      }
      if (out.positional.size() >= maxPositional) {
        return BW_INVALID("unexpected argument '" + std::string(arg) + "' (see --help)");
      }
      out.positional.emplace_back(arg);
      continue;
    }
    std::string_view name = arg.substr(2);
    std::optional<std::string> inlineValue;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      inlineValue = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs) {
      if (s.name == name) {
        spec = &s;
        break;
      }
    }
    if (spec == nullptr) {
      return BW_INVALID("unknown option '--" + std::string(name) + "' (see --help)");
    }
    std::string value;
    if (spec->metavar.empty()) {
      if (inlineValue) {
        return BW_INVALID("option '--" + spec->name + "' takes no value");
      }
      value = "true";
    } else if (inlineValue) {
      value = *inlineValue;
    } else {
      if (i + 1 >= argc) {
        return BW_INVALID("option '--" + spec->name + "' needs a value " + spec->metavar);
      }
      value = argv[++i];
    }
    auto& slot = out.values[spec->name];
    if (!slot.empty() && !spec->repeatable && !spec->metavar.empty()) {
      return BW_INVALID("option '--" + spec->name + "' given more than once");
    }
    slot.push_back(std::move(value));
  }
  return out;
}

std::string envName(std::string_view flagName) {
  std::string key = "BULWARK_";
  for (char c : flagName) {
    key += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return key;
}

std::optional<std::string> env(std::string_view flagName) {
  const std::string key = envName(flagName);
  const char* v = std::getenv(key.c_str());
  if (v == nullptr || *v == '\0') {
    return std::nullopt;
  }
  return std::string(v);
}

std::string usage(std::string_view synopsis, std::string_view description,
                  const std::vector<OptionSpec>& specs) {
  std::string out = "usage: ";
  out += synopsis;
  out += "\n\n";
  out += description;
  out += "\n\noptions:\n";
  auto addLine = [&out](std::string left, std::string_view help) {
    out += "  ";
    out += left;
    out += left.size() < 30 ? std::string(30 - left.size(), ' ') : std::string("\n" + std::string(32, ' '));
    out += help;
    out += '\n';
  };
  for (const auto& s : specs) {
    addLine("--" + s.name + (s.metavar.empty() ? "" : " " + s.metavar), s.help);
  }
  addLine("--help", "show this help and exit");
  addLine("--version", "print the version and exit");
  return out;
}

std::optional<uint64_t> parseUint(std::string_view text, uint64_t min, uint64_t max) {
  uint64_t v = 0;
  if (text.empty() || text.size() > 20) {
    return std::nullopt;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max) {
    return std::nullopt;
  }
  return v;
}

std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view item = text.substr(start, end - start);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
      item.remove_prefix(1);
    }
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
      item.remove_suffix(1);
    }
    if (!item.empty()) {
      out.emplace_back(item);
    }
    start = end + 1;
  }
  return out;
}

std::optional<int> prologue(const Program& program, int argc, const char* const* argv,
                            ParsedArgs& out) {
  auto args = parse(argc, argv, program.options, program.maxPositional);
  if (!args) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.name.size()),
                 program.name.data(), args.error().describe().c_str());
    return kExitUsage;
  }
  if (args->help) {
    std::fputs(usage(program.synopsis, program.description, program.options).c_str(), stdout);
    return kExitOk;
  }
  if (args->version) {
    std::printf("%.*s %s\n", static_cast<int>(program.name.size()), program.name.data(),
                BULWARK_VERSION);
    return kExitOk;
  }
  out = std::move(*args);
  return std::nullopt;
}

} // namespace bulwark::cli

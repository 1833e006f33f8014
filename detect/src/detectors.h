#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

// Detectors that are code, not patterns. Each takes a normalised, lower-cased value and returns
// a rule id (0 = nothing found). Every id has its row (class, meaning) in rule_registry.cpp.
namespace bulwark::detect::internal {

// ASCII case-insensitive comparison for header names, methods and media types (the `| 0x20`
// fold is exact for letters; callers compare against lower-case literals).
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) {
      return false;
    }
  }
  return true;
}

// The value of a hex digit, -1 for any other character.
inline int hexValue(unsigned char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

inline bool istartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// SQL injection: a SQL tokenizer run in three contexts (as-is, inside '...', inside "...")
// followed by a small grammar over the token stream (breakout, tautology, UNION, stacked query,
// SQL-only functions).
uint32_t detectSqli(std::string_view low);

// XSS: an HTML tag/attribute scanner (dangerous elements, event handlers, script URLs) plus
// attribute and JavaScript string breakouts.
uint32_t detectXss(std::string_view low);

// Log4j lookups: resolves ${lower:x}, ${upper:x}, ${::-x}, ${env:NAME:-x} ... nesting, then
// looks for jndi and the other dangerous lookups.
uint32_t detectLog4j(std::string_view low);

// OS command injection over the shell-normalised value (quotes, backslashes, $IFS, empty
// variables removed): command separators or substitutions followed by a known command.
uint32_t detectShell(std::string_view low);

// The whole value is a command line: a known command with an argument, or a host-reporting
// command alone ("id", "whoami"). Judged only for parameters named for a command (cmd=).
bool commandLine(std::string_view low);

// A splice (pi``ng, cu$@rl, c$*at, p""y""thon, three variables in a row) that joins the
// letters around it into a known command: the evidence 4030 needs at PL1 (random text with
// "$@" or "``" in it splices nothing).
bool splicesCommand(std::string_view value);

// LDAP filter breakout: an unbalanced ')' followed by a new filter component.
uint32_t detectLdap(std::string_view low);

} // namespace bulwark::detect::internal

// Log4j 2 lookups: the ${...} evaluator that undoes obfuscation, then the dangerous lookups.
#include <array>
#include <cstddef>
#include <string>

#include "detectors.h"

namespace bulwark::detect::internal {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

// Evaluates Log4j 2 lookups enough to undo obfuscation: ${lower:j} -> j, ${::-n} -> n,
// ${env:X:-d} -> d, ${date:'i'} -> i. Unknown lookups stay as "${...}".
std::string resolveLookups(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::array<size_t, 64> stack{};
  size_t depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{' && depth < stack.size()) {
      stack[depth++] = out.size();
      out.append("${");
      ++i;
      continue;
    }
    if (s[i] == '}' && depth > 0) {
      const size_t start = stack[--depth];
      const std::string inner = out.substr(start + 2);
      std::string value;
      bool resolved = true;
      if (inner.starts_with("lower:") || inner.starts_with("upper:")) {
        value = inner.substr(6);
      } else if (const size_t dflt = inner.find(":-");
                 dflt != std::string::npos && inner.find("jndi") != 0) {
        value = inner.substr(dflt + 2);
      } else if (inner.starts_with("date:")) {
        value = inner.substr(5);
        std::erase(value, '\'');
      } else {
        resolved = false;
      }
      out.resize(start);
      if (resolved) {
        out.append(value);
      } else {
        out.append("${").append(inner).append("}");
      }
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

} // namespace

uint32_t detectLog4j(std::string_view low) {
  const size_t at = low.find("${");
  if (at == std::string_view::npos) {
    return 0;
  }
  const std::string r = resolveLookups(low.substr(at, 4096));
  if (r.find("${jndi:") != std::string::npos) {
    return 11001;
  }
  std::string compact;
  for (const char c : r) {
    if (!isSpace(c)) {
      compact.push_back(c);
    }
  }
  if (compact.find("${jndi:") != std::string::npos ||
      compact.find("jndi:ldap") != std::string::npos ||
      compact.find("jndi:rmi") != std::string::npos ||
      compact.find("jndi:dns") != std::string::npos) {
    return 11001;
  }
  // Other lookups that leak secrets or only make sense as an attack.
  for (const std::string_view l : {"${env:", "${sys:", "${java:", "${main:", "${bundle:", "${ctx:",
                                   "${base64:", "${k8s:", "${docker:", "${spring:", "${log4j:",
                                   "${web:", "${jvmrunargs:", "${event:", "${sd:", "${marker:"}) {
    if (compact.find(l) != std::string::npos) {
      return 11002;
    }
  }
  // Heavy nesting of lookups is itself obfuscation.
  if (low.find("${${") != std::string_view::npos || low.find("${::-") != std::string_view::npos ||
      low.find("${lower:") != std::string_view::npos ||
      low.find("${upper:") != std::string_view::npos) {
    return 11003;
  }
  return 0;
}

} // namespace bulwark::detect::internal

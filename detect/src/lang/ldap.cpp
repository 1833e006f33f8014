#include "ldap.h"

#include <cstddef>
#include <string>

#include "../detectors.h"

namespace bulwark::detect::lang {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool attrChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ';' ||
         c == '_' || c == ':';
}

// "(attr op value)" starting at s[i] == '('; on success i is past the ')'. The value may hold a
// nested component only through the caller (this is one simple item).
bool simpleItem(std::string_view s, size_t& i) {
  size_t j = i + 1;
  while (j < s.size() && isSpace(s[j])) {
    ++j;
  }
  const size_t a = j;
  while (j < s.size() && attrChar(s[j])) {
    ++j;
  }
  if (j == a || !(s[a] >= 'a' && s[a] <= 'z')) {
    return false;
  }
  while (j < s.size() && isSpace(s[j])) {
    ++j;
  }
  if (j < s.size() && (s[j] == '~' || s[j] == '<' || s[j] == '>')) {
    ++j;
  }
  if (j >= s.size() || s[j] != '=') {
    return false;
  }
  ++j;
  while (j < s.size() && s[j] != ')' && s[j] != '(') {
    ++j;
  }
  if (j >= s.size() || s[j] != ')') {
    return false;
  }
  i = j + 1;
  return true;
}

// "(&" / "(|" / "(!" followed by one or more items (simple or composite).
bool composite(std::string_view s, size_t& i, int depth) {
  if (depth > 8 || i + 2 >= s.size() || s[i] != '(') {
    return false;
  }
  size_t j = i + 1;
  while (j < s.size() && isSpace(s[j])) {
    ++j;
  }
  if (j >= s.size() || (s[j] != '&' && s[j] != '|' && s[j] != '!')) {
    return false;
  }
  ++j;
  size_t items = 0;
  while (j < s.size()) {
    while (j < s.size() && isSpace(s[j])) {
      ++j;
    }
    if (j >= s.size() || s[j] != '(') {
      break;
    }
    size_t k = j;
    if (simpleItem(s, k) || composite(s, k, depth + 1)) {
      ++items;
      j = k;
      continue;
    }
    break;
  }
  if (items == 0) {
    return false;
  }
  // The composite's own ')' may be missing: the application's filter supplies it.
  if (j < s.size() && s[j] == ')') {
    ++j;
  }
  i = j;
  return true;
}

// What a value inside the application's "(attr=" holds when a user types it: a name, an
// address, a pattern (letters, digits, blanks, "*._-@+,'=:/", RFC 4515 escapes, non-ASCII).
bool assertionValue(std::string_view v) {
  for (const char c : v) {
    if (!(attrChar(c) || isSpace(c) || c == '*' || c == '@' || c == '\\' || c == '+' ||
          c == ',' || c == '\'' || c == '=' || c == '/' || static_cast<unsigned char>(c) >= 0x80)) {
      return false;
    }
  }
  return true;
}

} // namespace

uint32_t detectLdapFilter(std::string_view low) {
  if (low.size() < 2 || low.size() > 4096) {
    return 0;
  }
  const bool hasOpen = low.find('(') != std::string_view::npos;
  const bool hasClose = low.find(')') != std::string_view::npos;
  if (!hasOpen && !hasClose) {
    return 0;
  }
  // 10002: a composite filter after data ("*(|(mail=*))"). A value that is a whole filter
  // ("(&(objectclass=user)(cn=x))") is what some applications take as input: not an injection.
  size_t lead = 0;
  while (lead < low.size() && isSpace(low[lead])) {
    ++lead;
  }
  if (lead < low.size() && low[lead] == '(') {
    return 0;
  }
  for (size_t p = low.find('('); p != std::string_view::npos; p = low.find('(', p + 1)) {
    size_t i = p;
    if (composite(low, i, 0)) {
      return 10002;
    }
  }
  // 10003: a wildcard that closes the enclosing filter (no '(' opened before it in the value).
  int depth = 0;
  for (size_t i = 0; i < low.size(); ++i) {
    const char c = low[i];
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (depth == 0 && i > 0 && low[i - 1] == '*' && assertionValue(low.substr(0, i))) {
        size_t k = i + 1;
        while (k < low.size() && low[k] == ')') {
          ++k;
        }
        const std::string_view rest = low.substr(k);
        if (k > i + 1 || rest.empty() || rest.front() == '\0' || rest.starts_with("%00")) {
          return 10003;
        }
      }
      depth = depth > 0 ? depth - 1 : 0;
    }
  }
  // 10004: only metacharacters: wildcard, both parentheses and a filter operator.
  bool star = false;
  bool op = false;
  for (const char c : low) {
    if (c == '*') {
      star = true;
    } else if (c == '|' || c == '&' || c == '!') {
      op = true;
    } else if (c != '(' && c != ')' && c != '\'' && c != '"' && c != '=' && !isSpace(c) &&
               c != '\\') {
      return 0;
    }
  }
  return star && op && hasOpen && hasClose ? 10004 : 0;
}

uint32_t detectLdapWildcardProbe(std::string_view low) {
  // "*)(", "*|", "@*", "admin*)": a wildcard with filter metacharacters and at most one word,
  // no blank. A lone "*" (every API's "all fields"), name patterns ("logs-*", "release/*") and
  // globs with a file suffix ("*.js") are left alone.
  if (low.size() < 2 || low.size() > 64) {
    return 0;
  }
  bool star = false;
  bool meta = false;
  size_t words = 0;
  bool inWord = false;
  for (const char c : low) {
    const bool w = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (w) {
      words += inWord ? 0 : 1;
      inWord = true;
      continue;
    }
    inWord = false;
    if (c == '*') {
      star = true;
    } else if (c == '(' || c == ')' || c == '|' || c == '&' || c == '!' || c == '@' ||
               c == '=') {
      meta = true;
    } else {
      return 0;
    }
  }
  return star && meta && words <= 1 ? 10005 : 0;
}

} // namespace bulwark::detect::lang

// The LDAP filter breakout detector (10001) over the value and its RFC 4515 escapes.
namespace bulwark::detect::internal {
namespace {

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }
bool isWord(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

uint32_t detectLdapOnce(std::string_view low) {
  // A filter breakout: the value closes the application's "(attr=" with ')' before opening
  // anything, then starts a new filter component: "x)(uid=*)", "*)(|(pw=*", "a)&(cn=b".
  const size_t close = low.find(')');
  if (close == std::string_view::npos || low.substr(0, close).find('(') != std::string_view::npos) {
    return 0;
  }
  // What the value closes is an assertion value a user types (a name, an address, a pattern:
  // letters, digits, blanks, "*._@-+,'=:/" and RFC 4515 escapes); random text before the ')'
  // (",I[x*7Ix-A4B2)&", "{Nz};4D1x)!") closes nothing.
  for (const char c : low.substr(0, close)) {
    if (!(isWord(c) || isBlank(c) || c == '*' || c == '@' || c == '\\' || c == '+' || c == ',' ||
          c == '\'' || c == '=' || c == ':' || c == '/' || static_cast<unsigned char>(c) >= 0x80)) {
      return 0;
    }
  }
  size_t i = close;
  while (i < low.size() && (low[i] == ')' || isBlank(low[i]))) {
    ++i;
  }
  if (i >= low.size()) {
    return 0;
  }
  const char op = low[i];
  if (op != '(' && op != '&' && op != '|' && op != '!') {
    return 0;
  }
  ++i;
  bool logic = op != '(';
  while (i < low.size() &&
         (isBlank(low[i]) || low[i] == '(' || low[i] == '&' || low[i] == '|' || low[i] == '!')) {
    logic |= low[i] == '&' || low[i] == '|' || low[i] == '!';
    ++i;
  }
  if (i >= low.size() || low[i] == ')') {
    return logic ? 10001 : 0; // "admin)(|", "x)(&)": an operator with no operand left
  }
  size_t j = i;
  while (j < low.size() && (isWord(low[j]) || low[j] == ';' || low[j] == ':')) {
    ++j;
  }
  while (j < low.size() && isBlank(low[j])) {
    ++j;
  }
  // An attribute type: a name of two or more characters starting with a letter (cn, uid,
  // objectClass); inside an operator ("admin)(!(&(1=0") any item.
  const bool attribute =
      (j >= i + 2 && low[i] >= 'a' && low[i] <= 'z') || (j > i && logic && low[i - 1] == '(');
  if (attribute && j < low.size() &&
      (low[j] == '=' || ((low[j] == '~' || low[j] == '<' || low[j] == '>') && j + 1 < low.size() &&
                         low[j + 1] == '='))) {
    return 10001;
  }
  return 0;
}

} // namespace

// RFC 4515 escapes (\2a, \28, \75) decoded: the server reads "\2a)(\75id=\2a" as "*)(uid=*".
uint32_t detectLdap(std::string_view low) {
  if (const uint32_t r = detectLdapOnce(low); r != 0) {
    return r;
  }
  if (low.find('\\') == std::string_view::npos) {
    return 0;
  }
  std::string out;
  bool changed = false;
  for (size_t i = 0; i < low.size(); ++i) {
    const int hi = i + 2 < low.size() && low[i] == '\\' ? hexValue(low[i + 1]) : -1;
    const int lo = hi >= 0 ? hexValue(low[i + 2]) : -1;
    if (lo >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
      changed = true;
      continue;
    }
    out.push_back(low[i]);
  }
  return changed ? detectLdapOnce(out) : 0;
}

} // namespace bulwark::detect::internal

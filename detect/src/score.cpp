#include "score.h"

#include <array>
#include <span>

namespace bulwark::detect {

std::string_view confidenceName(Confidence c) {
  switch (c) {
  case Confidence::Tokens:
    return "tokens";
  case Confidence::Probe:
    return "probe";
  case Confidence::Strong:
    return "strong";
  case Confidence::Confirmed:
    return "confirmed";
  }
  return "unknown";
}

namespace internal {
namespace {

struct IdRange {
  uint32_t first;
  uint32_t last;
};

// Rules that describe probes: a value that is only a fragment (an operator, a comparison, a
// quote break, a call left open, a bare expansion, a tool name), the shapes scanners send to
// learn whether a value reaches an interpreter; and pattern rules whose shape also occurs in
// ordinary traffic (a hidden path, a public URL with a trailing '?', a numeric host, Node's
// console calls in telemetry, controls in a cookie). The technique rules beside them in
// rules.cpp (spliced keywords, obfuscated commands, dynamic PHP calls) stay strong.
constexpr std::array kProbeRules = std::to_array<IdRange>({
    {1015, 1015}, // a dangling boolean fragment: "and 1=(", "or deleted = 0)"
    {1050, 1057}, // SQL fragments: a call left open, a bare operator, a quote break
    {1059, 1059},
    {2030, 2031}, // a lone "-->", JS timers and codecs named
    {3021, 3021}, // a hidden file or directory in the path (/.well-known aside)
    {3030, 3031},
    {4006, 4007}, // administration tools as a value
    {4041, 4043}, // cmd.exe IF, ~+ / !-1, a bare ${x}
    {4050, 4051}, // package installs, a dangling pipe
    {5037, 5037}, // Node reflection: console.log( is in every JS stack trace
    {5040, 5042}, // a PHP call as the whole value, php.ini directives
    {5047, 5048},
    {5050, 5050},
    {5052, 5052},
    {6010, 6010},
    {7005, 7006}, // a public URL shaped for remote inclusion (trailing '?', script suffix)
    {7020, 7020}, // a numeric host
    {10005, 10005}, // an LDAP wildcard with metacharacters as the whole value
    {13010, 13013},
});

// Code detectors whose result is a parse of the value past a breakout (SQL grammar over the
// tokens in the three quote contexts, HTML tag/attribute scanner, shell command view, Log4j
// lookup evaluator, LDAP filter breakout).
constexpr std::array kConfirmedRules = std::to_array<IdRange>({
    {1001, 1008},
    {1010, 1010},
    {1013, 1013},
    {2001, 2006},
    {4001, 4005},
    {10001, 10001},
    {11001, 11003},
});

bool inRanges(std::span<const IdRange> ranges, uint32_t id) {
  for (const auto& r : ranges) {
    if (id >= r.first && id <= r.last) {
      return true;
    }
  }
  return false;
}

Confidence lower(Confidence c) {
  return c == Confidence::Tokens ? Confidence::Tokens : static_cast<Confidence>(static_cast<int>(c) - 1);
}

// CR/LF (or U+560A/U+560D, whose low bytes are LF/CR for servers that keep only those) followed
// by what splits a response: Set-Cookie, Location, Content-Length, a status line, HTML.
bool splitsResponse(std::string_view v) {
  for (size_t k = 0; k < v.size(); ++k) {
    size_t next;
    if (v[k] == '\r' || v[k] == '\n') {
      next = k + 1;
    } else if (v.compare(k, 3, "\xe5\x98\x8a") == 0 || v.compare(k, 3, "\xe5\x98\x8d") == 0) {
      next = k + 3;
    } else {
      continue;
    }
    std::string_view rest = v.substr(next);
    while (!rest.empty() && (rest[0] == '\r' || rest[0] == '\n' || rest[0] == ' ' ||
                             rest[0] == '\t')) {
      rest.remove_prefix(1);
    }
    for (const std::string_view h :
         {"set-cookie", "location", "http/1", "content-length", "content-type", "<html",
          "<script"}) {
      if (rest.size() >= h.size()) {
        bool eq = true;
        for (size_t i = 0; i < h.size() && eq; ++i) {
          eq = static_cast<char>(rest[i] | 0x20) == h[i] || rest[i] == h[i];
        }
        if (eq) {
          return true;
        }
      }
    }
  }
  return false;
}

// A value that reads as prose: at least eight whitespace-separated words made of letters (a
// comment, an issue body, an advisory, a commit message), at least half of all its tokens, as
// opposed to a payload, which is mostly syntax (a dotted chain, a call, a quote break).
bool prose(std::string_view v) {
  if (v.size() < 40) {
    return false;
  }
  size_t words = 0;
  size_t tokens = 0;
  size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\n' || v[i] == '\r' || v[i] == '\t')) {
      ++i;
    }
    size_t e = i;
    while (e < v.size() && v[e] != ' ' && v[e] != '\n' && v[e] != '\r' && v[e] != '\t') {
      ++e;
    }
    if (e == i) {
      break;
    }
    std::string_view t = v.substr(i, e - i);
    i = e;
    ++tokens;
    while (!t.empty() && std::string_view(".,:;!?()\"'").find(t.back()) != std::string_view::npos) {
      t.remove_suffix(1);
    }
    while (!t.empty() && std::string_view("(\"'").find(t.front()) != std::string_view::npos) {
      t.remove_prefix(1);
    }
    bool letters = t.size() >= 2;
    for (const char ch : t) {
      const unsigned char c = static_cast<unsigned char>(ch);
      letters &= ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c >= 0x80 || c == '-';
    }
    words += letters;
  }
  return words >= 8 && words * 2 >= tokens;
}

} // namespace

Confidence ruleConfidence(uint32_t id) {
  if (inRanges(kProbeRules, id)) {
    return Confidence::Probe;
  }
  if (inRanges(kConfirmedRules, id)) {
    return Confidence::Confirmed;
  }
  return Confidence::Strong;
}

Grade gradeFinding(AttackClass cls, uint32_t id, PartKind kind, std::string_view name,
                   std::string_view value) {
  Confidence c = ruleConfidence(id);
  const bool document = kind == PartKind::JsonString || kind == PartKind::XmlText ||
                        kind == PartKind::BodyText || kind == PartKind::FileContent;
  // Code quoted in prose inside a document (markdown in an issue, a stack trace in an error
  // report, an advisory describing an exploit): a technique pattern there is a probe; a
  // syntax-confirmed injection still counts.
  if (document && c == Confidence::Strong &&
      (cls == AttackClass::Rce || cls == AttackClass::CodeInjection ||
       cls == AttackClass::Sqli || cls == AttackClass::PathTraversal ||
       cls == AttackClass::Nosqli || cls == AttackClass::Ssti) &&
      prose(value)) {
    c = Confidence::Probe;
  }
  switch (cls) {
  case AttackClass::Ssrf:
    // A server fetches URLs from its parameters, never from the page address the browser
    // reports or from a product list.
    if (inMask(kClientText, kind)) {
      return {c, 0};
    }
    break;
  case AttackClass::Crlf:
    // Line breaks reach a response header only from the path, query, cookies and headers; in
    // a JSON/XML string or a text body they are data unless they carry a response's headers.
    if (!inMask(kResponseHeaderReach, kind) && !splitsResponse(value)) {
      c = lower(c);
    }
    break;
  case AttackClass::PathTraversal:
    // An absolute path inside a document (config, alert, inventory) is data; a climb or a
    // well-known target is still a finding (3001-3008 stay strong).
    if (document && (id == 3009 || id == 3010)) {
      c = lower(c);
    }
    break;
  case AttackClass::Sqli:
    // A whole SELECT ... FROM statement is a command, not an injection: in a document (a saved
    // report's query, a sigma rule) it is data; in a parameter it still counts.
    if (document && id == 1014) {
      c = Confidence::Probe;
    }
    [[fallthrough]];
  case AttackClass::Xss:
  case AttackClass::Rce:
  case AttackClass::CodeInjection:
  case AttackClass::Ssti:
  case AttackClass::Nosqli:
    // The page URL the browser reports: its query string was the page's, not the user's, and
    // a site's own search page puts prose there; only a confirmed injection counts at PL1.
    if (kind == PartKind::RefererOrigin && c == Confidence::Strong) {
      c = lower(c);
    }
    break;
  default:
    break;
  }
  (void)name;
  return {c, paranoiaOf(c)};
}

} // namespace internal
} // namespace bulwark::detect

#include "score.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <span>
#include <vector>

#include "bulwark/detect/normalize.h"
#include "detectors.h"
#include "lang/js.h"

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
    {13010, 13010},
    {13012, 13013},
    {13021, 13021}, // a session cookie name as a parameter, no Referer
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

bool isLetter(char ch);

// After a header name at the start of a line: the field's colon (a GraphQL selection or YAML
// key "locationId", "location: $location" is no header), and for Location a URL to send the
// browser to ("Location: http://...", "Location: /x").
bool headerField(std::string_view name, std::string_view after) {
  if (name.front() == '<' || name.ends_with(':') || name == "http/1") {
    return true;
  }
  size_t i = 0;
  if (name.ends_with('-')) { // a family of headers: "access-control-allow-" + "origin"
    while (i < after.size() && (isLetter(after[i]) || after[i] == '-')) {
      ++i;
    }
  }
  while (i < after.size() && (after[i] == ' ' || after[i] == '\t')) {
    ++i;
  }
  if (i >= after.size() || after[i] != ':') {
    return false;
  }
  if (name != "location") {
    return true;
  }
  ++i;
  while (i < after.size() && (after[i] == ' ' || after[i] == '\t')) {
    ++i;
  }
  const std::string_view url = after.substr(i);
  if (url.starts_with("/") || url.starts_with("\\")) {
    return true;
  }
  size_t k = 0;
  while (k < url.size() && (isLetter(url[k]) || url[k] == '+' || url[k] == '-' || url[k] == '.')) {
    ++k;
  }
  return k > 0 && k < url.size() && url[k] == ':';
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
    // Response headers that switch off a browser protection or grant access
    // (X-XSS-Protection, CSP, CORS, framing, HSTS, a download's file name, a refresh) exist
    // only in responses: a request value carrying one after a line break is written to split
    // a response, not a dump of the request's own headers.
    for (const std::string_view h :
         {"set-cookie", "location", "http/1", "content-length", "content-type", "<html",
          "<script", "x-xss-protection", "content-security-policy", "access-control-allow-",
          "x-frame-options", "strict-transport-security", "content-disposition", "refresh:",
          "x-content-type-options"}) {
      if (rest.size() >= h.size()) {
        bool eq = true;
        for (size_t i = 0; i < h.size() && eq; ++i) {
          eq = static_cast<char>(rest[i] | 0x20) == h[i] || rest[i] == h[i];
        }
        if (eq && headerField(h, rest.substr(h.size()))) {
          return true;
        }
      }
    }
    // The other breaks of this run of line breaks and blanks lead to the same rest.
    k = static_cast<size_t>(rest.data() - v.data()) - 1;
  }
  return false;
}

// Markup a rich-text editor sends: a few hundred bytes or more that open with a tag or
// comment and hold closing tags, with every URL inside an attribute (src="...", href='...').
// A URL that is the value itself, with markup padding after it, is no such document.
bool richText(std::string_view v) {
  size_t b = 0;
  while (b < v.size() && (v[b] == ' ' || v[b] == '\n' || v[b] == '\r' || v[b] == '\t')) {
    ++b;
  }
  if (v.size() < 200 || b >= v.size() || v[b] != '<') {
    return false;
  }
  const size_t first = v.find("</");
  if (first == std::string_view::npos || v.find("</", first + 2) == std::string_view::npos) {
    return false;
  }
  for (size_t at = v.find("://"); at != std::string_view::npos; at = v.find("://", at + 3)) {
    size_t k = at;
    while (k > 0 && isLetter(v[k - 1])) {
      --k;
    }
    if (k == 0 || (v[k - 1] != '"' && v[k - 1] != '\'')) {
      return false;
    }
  }
  return true;
}

// A value that reads as prose: at least eight whitespace-separated words made of letters (a
// comment, an issue body, an advisory, a commit message), at least half of all its tokens, as
// opposed to a payload, which is mostly syntax (a dotted chain, a call, a quote break). In
// markup (a CMS post, an e-mail body) the words are those of its text: tags and comments
// ("<p>", "<a href=...>", "<!-- wp:paragraph -->") separate words and are not tokens.
bool prose(std::string_view v) {
  if (v.size() < 40) {
    return false;
  }
  size_t words = 0;
  size_t tokens = 0;
  size_t i = 0;
  const bool markup = v.find("</") != std::string_view::npos;
  const auto blank = [&](size_t k) {
    return v[k] == ' ' || v[k] == '\n' || v[k] == '\r' || v[k] == '\t';
  };
  // The end of a tag or comment opening at k, or k when none opens there. (The next '>' is
  // searched for once per position it can be at: k only grows, so the text is read once.)
  size_t nextGt = 0;
  const auto tagEnd = [&](size_t k) {
    if (!markup || v[k] != '<' || k + 1 >= v.size() ||
        !(isLetter(v[k + 1]) || v[k + 1] == '/' || v[k + 1] == '!')) {
      return k;
    }
    if (nextGt != std::string_view::npos && nextGt <= k) {
      nextGt = v.find('>', k + 1);
    }
    return nextGt == std::string_view::npos || nextGt - k > 4096 ? k : nextGt + 1;
  };
  while (i < v.size()) {
    while (i < v.size() && (blank(i) || tagEnd(i) != i)) {
      i = blank(i) ? i + 1 : tagEnd(i);
    }
    size_t e = i;
    while (e < v.size() && !blank(e) && (e == i || tagEnd(e) == e)) {
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


bool isLetter(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c >= 0x80;
}

// A lower-case (ASCII) copy.
std::string lowered(std::string_view v) {
  std::string out;
  toLowerAscii(v, out);
  return out;
}

// Runs of two letters or more in t, counted up to `cap` (a cap stops the count early).
size_t letterWords(std::string_view t, size_t cap = SIZE_MAX) {
  size_t words = 0;
  for (size_t k = 0; k < t.size() && words < cap;) {
    size_t e = k;
    while (e < t.size() && isLetter(t[e])) {
      ++e;
    }
    words += e - k >= 2;
    k = e == k ? k + 1 : e;
  }
  return words;
}

// Text around quoted code that is only words and sentence punctuation: no quote that could
// close a string, no statement or pipeline separator, no bracket, operator or markup. An apostrophe inside a word
// ("don't") is prose.
bool plainText(std::string_view t) {
  // A markdown table's cell borders: "|---|---|" under the header row.
  const bool table = t.find("|---") != std::string_view::npos ||
                     t.find("| ---") != std::string_view::npos ||
                     t.find("|:--") != std::string_view::npos;
  bool aside = false; // inside a parenthetical remark
  bool lineLead = true; // only spaces, '#' and '>' so far on this line
  // The next ')' and line break at or after i, found again only once i has passed them (one
  // pass over the text, however many '(' it holds).
  size_t nextClose = t.find(')');
  size_t nextBreak = t.find('\n');
  const auto ahead = [&t](size_t& at, size_t i, char ch) {
    if (at != std::string_view::npos && at < i) {
      at = t.find(ch, i);
    }
    return at;
  };
  for (size_t i = 0; i < t.size(); ++i) {
    const auto c = static_cast<unsigned char>(t[i]);
    const bool lead = lineLead;
    lineLead = c == '\n' || (lineLead && (c == ' ' || c == '#' || c == '>'));
    if ((c == '#' || c == '>') && lead) {
      continue;
    }
    if (c == '|' && table) {
      continue;
    }
    // "(use bind params instead of string concat)": a remark in parentheses that holds words
    // and closes on the same line; no nesting, no empty "()" call.
    if (c == '(' && !aside && i + 1 < t.size() && isLetter(t[i + 1]) &&
        ahead(nextClose, i, ')') < ahead(nextBreak, i, '\n')) {
      aside = true;
      continue;
    }
    if (c == ')' && aside && i > 0 && t[i - 1] != ' ') {
      aside = false;
      continue;
    }
    if (isLetter(t[i]) || (c >= '0' && c <= '9') || c == ' ' || c == '\n' || c == '\r' ||
        c == '\t' || std::string_view(".,:!?-%").find(t[i]) != std::string_view::npos) {
      continue;
    }
    if (c == '$' && i + 1 < t.size() && t[i + 1] >= '0' && t[i + 1] <= '9') {
      continue; // a price: "$22 per month"
    }
    if (c == '\'' && i > 0 && i + 1 < t.size() && isLetter(t[i - 1]) && isLetter(t[i + 1])) {
      continue;
    }
    // Markdown marks: the '*' and '_' of lists and emphasis (a heading's '#' and a quote's '>'
    // count at the start of a line only, above).
    if (c == '*' || c == '_') {
      continue;
    }
    return false;
  }
  return !aside;
}

// Tags of formatted text (a rendered README, a rich-text comment) with no attribute but href
// to an http(s) URL; anything else (script, iframe, event handlers, styles) is not formatting.
bool formattingTag(std::string_view tag) {
  std::string_view t = tag.substr(1, tag.size() - 2); // without '<' '>'
  if (!t.empty() && t.front() == '/') {
    t.remove_prefix(1);
  }
  size_t n = 0;
  while (n < t.size() && (((t[n] | 0x20) >= 'a' && (t[n] | 0x20) <= 'z') || (t[n] >= '1' && t[n] <= '6'))) {
    ++n;
  }
  std::string name(t.substr(0, n));
  for (char& c : name) {
    c = static_cast<char>(c | 0x20);
  }
  static constexpr std::array<std::string_view, 26> kFormatting = {
      "p", "a", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "em", "strong",
      "b", "i", "br", "hr", "blockquote", "table", "tr", "td", "th", "thead", "tbody", "div",
      "span"};
  if (std::find(kFormatting.begin(), kFormatting.end(), name) == kFormatting.end()) {
    return false;
  }
  std::string_view attrs = t.substr(n);
  while (!attrs.empty() && (attrs.front() == ' ' || attrs.back() == ' ' || attrs.back() == '/')) {
    attrs.front() == ' ' ? attrs.remove_prefix(1) : attrs.remove_suffix(1);
  }
  if (attrs.empty()) {
    return true;
  }
  if (name != "a" || !(attrs.starts_with("href=\"https://") || attrs.starts_with("href=\"http://"))) {
    return false;
  }
  const std::string_view url = attrs.substr(6);
  return url.find('"') == url.size() - 1 &&
         url.find_first_of("<>'`(){} ") == std::string_view::npos;
}

// A document value whose code is quoted for a reader: markdown fences and code spans, HTML
// <code> and <pre> blocks, with nothing around them but prose and formatting tags (a README, a
// chat message, an answer with a snippet). Renderers show quoted code as text; a payload placed
// around the quotes, or markup other than formatting, keeps the finding.
// The text of a document outside its quoted code (front matter, fenced blocks, inline spans,
// <pre>/<code>; links reduced to their text): false when a backtick or <pre> is unpaired. With
// keepTags other tags stay in the text (for a detector to judge); without, only formatting tags
// are allowed.
bool outsideQuotedCode(std::string_view v, bool keepTags, std::string& outside, bool& quoted,
                       bool& fenced, size_t& spans) {
  outside.clear();
  quoted = false;
  fenced = false;
  spans = 0;
  size_t i = 0;
  auto lowerAt = [&v](size_t k, std::string_view w) {
    if (v.size() - k < w.size()) {
      return false;
    }
    for (size_t j = 0; j < w.size(); ++j) {
      if ((v[k + j] | 0x20) != w[j] && v[k + j] != w[j]) {
        return false;
      }
    }
    return true;
  };
  // A markdown document's front matter ("---\ntitle: \"...\"\n---") is its metadata.
  if (v.starts_with("---\n")) {
    const size_t end = v.find("\n---\n", 3);
    if (end != std::string_view::npos) {
      i = end + 5;
    }
  }
  // Links and images ("[App Platform](https://...)", "![alt](./a.webp)"): their text is text
  // and their target is an address. The next ']', '(' ... are searched for only once the scan
  // has passed the last one found (one pass over the text).
  size_t nextRb = 0;
  size_t nextRp = 0;
  size_t nextNl = 0;
  const auto next = [&v](size_t& at, size_t from, char ch) {
    if (at != std::string_view::npos && at < from) {
      at = v.find(ch, from);
    }
    return at;
  };
  while (i < v.size()) {
    if (v.compare(i, 3, "```") == 0) {
      const size_t end = v.find("```", i + 3);
      if (end == std::string_view::npos) {
        return false; // an unclosed fence quotes nothing: what follows is the value's own
      }
      i = end + 3;
      quoted = fenced = true;
      continue;
    }
    if (v[i] == '[' || (v[i] == '!' && i + 1 < v.size() && v[i + 1] == '[')) {
      const size_t open = v[i] == '!' ? i + 1 : i;
      const size_t rb = next(nextRb, open + 1, ']');
      const size_t nl = next(nextNl, open + 1, '\n');
      if (rb != std::string_view::npos && rb < nl && rb + 1 < v.size() && v[rb + 1] == '(') {
        const size_t rp = next(nextRp, rb + 2, ')');
        const std::string_view target =
            rp == std::string_view::npos ? std::string_view{} : v.substr(rb + 2, rp - rb - 2);
        if (rp != std::string_view::npos && rp < next(nextNl, rb + 2, '\n') &&
            target.find_first_of(" \t\"'`<>;|$") == std::string_view::npos) {
          // A link target is an address: a web, mail or relative one. Any other scheme
          // (javascript:, data:) makes the link itself the finding.
          const size_t colon = target.find(':');
          if (colon != std::string_view::npos && target.find('/') > colon &&
              !(iequals(target.substr(0, colon), "http") ||
                iequals(target.substr(0, colon), "https") ||
                iequals(target.substr(0, colon), "mailto"))) {
            return false;
          }
          outside += ' ';
          outside.append(v.substr(open + 1, rb - open - 1)); // the link text, still checked
          outside += ' ';
          i = rp + 1;
          continue;
        }
      }
    }
    if (v[i] == '`') {
      const size_t end = v.find('`', i + 1);
      if (end == std::string_view::npos || v.substr(i, end - i).find('\n') != std::string_view::npos) {
        return false; // an unpaired backtick is a command substitution, not a code span
      }
      i = end + 1;
      quoted = true;
      ++spans;
      outside += ' ';
      continue;
    }
    if (lowerAt(i, "<pre>") || lowerAt(i, "<code>")) {
      const std::string_view close = lowerAt(i, "<pre>") ? "</pre>" : "</code>";
      size_t end = i;
      while ((end = v.find("</", end + 1)) != std::string_view::npos && !lowerAt(end, close)) {
      }
      if (end == std::string_view::npos) {
        return false;
      }
      i = end + close.size();
      quoted = true;
      continue;
    }
    if (v[i] == '<' && !keepTags) {
      const size_t end = v.find('>', i);
      if (end == std::string_view::npos || !formattingTag(v.substr(i, end - i + 1))) {
        return false;
      }
      outside += ' ';
      i = end + 1;
      continue;
    }
    outside += v[i];
    ++i;
  }
  return true;
}

bool quotedCodeInText(std::string_view v) {
  std::string outside;
  bool quoted = false;
  bool fenced = false;
  size_t spans = 0;
  if (!outsideQuotedCode(v, false, outside, quoted, fenced, spans) || !quoted ||
      !plainText(outside)) {
    return false;
  }
  // An inline span needs a sentence around it ("a `id`" is a command substitution, not a
  // code span in a message): four words of two letters or more, each span counting as one
  // ("run `make` then `make test`").
  return fenced || letterWords(outside) + spans >= 4;
}

// A documentation page (a wiki or docs save: prose around fenced code blocks, with the
// quotes, slashes, links and components of real prose) whose injection syntax is all inside
// its code blocks: the grammar of the finding's class, run on the text outside the quoted
// code, finds nothing there. Code the page shows is not code the request injects.
bool codeOnlyInsideQuotes(AttackClass cls, std::string_view v) {
  if (v.size() < 100 || v.find('`') == std::string_view::npos ||
      !(cls == AttackClass::Sqli || cls == AttackClass::Xss || cls == AttackClass::Rce)) {
    return false;
  }
  std::string outside;
  bool quoted = false;
  bool fenced = false;
  size_t spans = 0;
  if (!outsideQuotedCode(v, true, outside, quoted, fenced, spans) || !quoted ||
      !prose(outside)) {
    return false;
  }
  // A page or a message, not a payload with a sentence around it: forty words or more outside
  // fenced blocks, twenty around inline spans only ("(Use `node --trace-warnings ...` to show
  // where the warning was created)" ends every Node.js warning a log or error report carries).
  const size_t need = fenced ? 40 : 20;
  if (letterWords(outside, need) < need) {
    return false;
  }
  const std::string low = lowered(outside);
  switch (cls) {
  case AttackClass::Sqli:
    return detectSqli(low) == 0;
  case AttackClass::Xss:
    return detectXss(low) == 0;
  default:
    return detectShell(low) == 0;
  }
}

// The host of a URL at `at` (just past "://"), without userinfo; port in `port` (0: none).
std::string_view urlHost(std::string_view v, size_t at, uint32_t& port, bool& bad) {
  std::string_view auth = v.substr(at);
  auth = auth.substr(0, auth.find_first_of("/?#\\ \t\r\n\"'<>,;|`)"));
  if (const size_t a = auth.rfind('@'); a != std::string_view::npos) {
    auth.remove_prefix(a + 1);
  }
  port = 0;
  bad = false;
  const size_t colon = auth.rfind(':');
  if (colon != std::string_view::npos && auth.find(']') == std::string_view::npos) {
    const std::string_view p = auth.substr(colon + 1);
    bad = p.empty() || p.size() > 5;
    for (const char c : p) {
      bad = bad || c < '0' || c > '9';
      port = port * 10 + static_cast<uint32_t>(c - '0');
    }
    auth = auth.substr(0, colon);
  }
  return auth;
}

// A dotted quad in canonical form (no leading zeros, each part <= 255).
bool canonicalIpv4(std::string_view h, std::array<int, 4>& out) {
  size_t part = 0;
  size_t i = 0;
  while (part < 4) {
    size_t j = i;
    int n = 0;
    while (j < h.size() && h[j] >= '0' && h[j] <= '9' && j - i < 3) {
      n = n * 10 + (h[j] - '0');
      ++j;
    }
    if (j == i || n > 255 || (h[i] == '0' && j - i > 1)) {
      return false;
    }
    out[part++] = n;
    if (part < 4) {
      if (j >= h.size() || h[j] != '.') {
        return false;
      }
      ++j;
    }
    i = j;
  }
  return i == h.size();
}

// Ports of services an SSRF reaches on an internal address: remote shells, mail, directory,
// databases and caches, container and cluster APIs, serverless runtimes, web admin defaults.
bool servicePort(uint32_t p) {
  static constexpr std::array<uint16_t, 41> kPorts = {
      21,   22,   23,   25,    53,    80,    110,   111,   135,   139,   143,  389,  443, 445,
      636,  873,  1080, 1099,  1433,  1521,  2049,  2375,  2376,  2379,  2380, 3306, 3389,
      4243, 5432, 5900, 5984,  6379,  6443,  8500,  8983,  9001,  10250, 10255, 11211, 27017,
      50070};
  return p < 1024 || std::find(kPorts.begin(), kPorts.end(), p) != kPorts.end();
}

// A name that reaches the cluster or a loopback/private address although it is no address:
// a cluster service, a DNS name that resolves to the IP it spells (x.127.0.0.1.nip.io), a
// public name that resolves to loopback (localtest.me, lvh.me), a root-qualified name
// ("localhost."), any name holding "localhost".
bool internalAlias(std::string_view host) {
  const std::string h = lowered(host);
  const auto endsWith = [&](std::string_view suf) {
    return h == suf || (h.size() > suf.size() && h.ends_with(suf) && h[h.size() - suf.size() - 1] == '.');
  };
  return (!h.empty() && h.back() == '.') || h.find(".svc") != std::string::npos ||
         h.find("kubernetes") != std::string::npos || h.find("localhost") != std::string::npos ||
         endsWith("nip.io") || endsWith("sslip.io") || endsWith("xip.io") ||
         endsWith("localtest.me") || endsWith("lvh.me");
}

// Every internal URL in the value names, in plain spelling, a loopback or private address with
// an unprivileged port of no well-known internal service, over a scheme a client of the app's
// own configuration uses ("http://localhost:8321/v1/embeddings", a webhook's
// "ssh://git@localhost:3035/x.git"): a document describing a deployment. No port, a service
// port, another scheme, an encoded or metadata host keep the finding.
bool configuredInternalUrls(std::string_view v) {
  bool any = false;
  for (size_t at = v.find("://"); at != std::string_view::npos; at = v.find("://", at + 3)) {
    size_t s = at;
    while (s > 0 && isLetter(v[s - 1])) {
      --s;
    }
    std::string scheme(v.substr(s, at - s));
    for (char& c : scheme) {
      c = static_cast<char>(c | 0x20);
    }
    uint32_t port = 0;
    bool bad = false;
    const std::string_view host = urlHost(v, at + 3, port, bad);
    std::array<int, 4> ip{};
    const bool isIp = canonicalIpv4(host, ip);
    const bool internal =
        (isIp && (ip[0] == 127 || ip[0] == 10 || (ip[0] == 192 && ip[1] == 168) ||
                  (ip[0] == 172 && ip[1] >= 16 && ip[1] <= 31))) ||
        (host.size() == 9 && (host[0] | 0x20) == 'l' && std::equal(host.begin(), host.end(),
             "localhost", [](char a, char b) { return (a | 0x20) == b; }));
    if (!internal) {
      // Not an address this rule allows: an encoded, metadata or other internal host is only
      // harmless when it is a public name, which the SSRF rules do not match.
      if (isIp || internalAlias(host) ||
          host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
              std::string_view::npos) {
        return false;
      }
      continue;
    }
    if (bad || port == 0 || servicePort(port) ||
        !(scheme == "http" || scheme == "https" || scheme == "ws" || scheme == "wss" ||
          scheme == "ssh" || scheme == "git")) {
      return false;
    }
    any = true;
  }
  return any;
}

// Every internal URL of a written document is mentioned in its sentences ("open
// http://localhost:3000/admin in your browser", "[the API](http://127.0.0.1:8080/api)"): a
// plainly spelled loopback, private or local-domain host over a web scheme, inside a line that
// has words around it. A URL alone on its line (what link previews fetch), one in a position
// that loads it (src=, url(), @import, a markdown image, <iframe>, <link>), any encoded or
// link-local host, or another scheme keeps the finding.
bool mentionedInternalUrls(std::string_view v) {
  bool any = false;
  // A value that opens with its URL is that URL (a fetch target, whatever words follow it
  // after a '#' or a space); a written document opens with its text.
  {
    size_t b = 0;
    while (b < v.size() && (v[b] == ' ' || v[b] == '\t' || v[b] == '\r' || v[b] == '\n' || v[b] == '"')) {
      ++b;
    }
    size_t e = b;
    while (e < v.size() && isLetter(v[e])) {
      ++e;
    }
    if (v.substr(e).starts_with("://")) {
      return false;
    }
  }
  // markdown fences: a URL between an odd fence and the next one is quoted code (at most 64
  // fences and 32 URLs are read: a longer document keeps its findings)
  std::vector<size_t> fences;
  for (size_t f = v.find("```"); f != std::string_view::npos; f = v.find("```", f + 3)) {
    if (fences.size() == 64) {
      return false;
    }
    fences.push_back(f);
  }
  size_t urls = 0;
  for (size_t at = v.find("://"); at != std::string_view::npos; at = v.find("://", at + 3)) {
    if (++urls > 32) {
      return false;
    }
    size_t s = at;
    while (s > 0 && at - s < 16 && isLetter(v[s - 1])) {
      --s;
    }
    const std::string scheme = lowered(v.substr(s, at - s));
    // the authority ends where a markdown link's text does ("[http://localhost:3001](...)")
    std::string_view auth = v.substr(at + 3);
    auth = auth.substr(0, auth.find_first_of("/?#\\ \t\r\n\"'<>,;|`)]"));
    if (const size_t a = auth.rfind('@'); a != std::string_view::npos) {
      auth.remove_prefix(a + 1);
    }
    if (const size_t colon = auth.find(':'); colon != std::string_view::npos) {
      const std::string_view port = auth.substr(colon + 1);
      if (port.empty() || port.size() > 5 ||
          port.find_first_not_of("0123456789") != std::string_view::npos) {
        return false;
      }
      auth = auth.substr(0, colon);
    }
    const std::string host = lowered(auth);
    std::array<int, 4> ip{};
    const bool isIp = canonicalIpv4(host, ip);
    if (host.empty() || host.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") !=
                            std::string::npos) {
      return false;
    }
    const auto endsWith = [&](std::string_view suf) {
      return host.size() > suf.size() && host.ends_with(suf) &&
             host[host.size() - suf.size() - 1] == '.';
    };
    const bool internal =
        isIp ? (ip[0] == 127 || ip[0] == 10 || (ip[0] == 192 && ip[1] == 168) ||
                (ip[0] == 172 && ip[1] >= 16 && ip[1] <= 31) ||
                (ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] == 0))
             : (host == "localhost" || endsWith("localhost") || endsWith("local") ||
                endsWith("lan") || endsWith("internal") || endsWith("intranet") ||
                endsWith("corp") || endsWith("home"));
    if (!internal) {
      // a public name is no finding of these rules; a number, a link-local, metadata or
      // other odd host (2130706433, 0x7f.1, 169.254.169.254, metadata.google.internal), a
      // cluster service, a name that resolves to a loopback or private address
      // (x.127.0.0.1.nip.io, localtest.me) or a root-qualified name ("localhost.") is
      if (isIp || (host[0] >= '0' && host[0] <= '9') || host.find("metadata") != std::string::npos ||
          internalAlias(host)) {
        return false;
      }
      continue;
    }
    if (host.find("metadata") != std::string::npos ||
        !(scheme == "http" || scheme == "https" || scheme == "ws" || scheme == "wss")) {
      return false;
    }
    // the line around the URL, 256 bytes each way at most
    const size_t from = s > 256 ? s - 256 : 0;
    const size_t ls = s == 0 ? std::string_view::npos
                             : v.substr(from, s - from).find_last_of("\r\n");
    const size_t lineStart = ls == std::string_view::npos ? from : from + ls + 1;
    size_t end = at;
    while (end < v.size() && end - at < 2048 && v[end] != ' ' && v[end] != '\t' &&
           v[end] != '\r' && v[end] != '\n') {
      ++end;
    }
    const size_t to = std::min(v.size(), end + 256);
    size_t lineEnd = v.substr(end, to - end).find_first_of("\r\n");
    lineEnd = lineEnd == std::string_view::npos ? to : end + lineEnd;
    const std::string before = lowered(v.substr(lineStart, s - lineStart));
    const size_t fencesBefore = static_cast<size_t>(
        std::lower_bound(fences.begin(), fences.end(), s) - fences.begin());
    const bool inFence = fencesBefore % 2 == 1 && fencesBefore < fences.size();
    const bool inSpan = std::count(before.begin(), before.end(), '`') % 2 == 1 &&
                        v.substr(end, lineEnd - end).find('`') != std::string_view::npos;
    // a markdown link's text or target ("[http://localhost:3000](http://localhost:3000)")
    const bool inLink = s > 0 && (v[s - 1] == '[' || (s > 1 && v[s - 1] == '(' && v[s - 2] == ']'));
    const auto words = [](std::string_view t) { return letterWords(t, 2); };
    if (!inFence && !inSpan && !inLink && words(before) + words(v.substr(end, lineEnd - end)) < 2) {
      return false;
    }
    const std::string_view near =
        std::string_view(before).substr(before.size() > 64 ? before.size() - 64 : 0);
    for (const std::string_view load : {"src", "url(", "@import", "![", "data=", "poster",
                                        "background", "<iframe", "<embed", "<object", "<link",
                                        "<frame", "<script", "xlink:href", "<use"}) {
      if (near.find(load) != std::string_view::npos) {
        return false;
      }
    }
    any = true;
  }
  return any;
}

// "0.0.0.0/0", "10.0.0.0/8": a network in CIDR notation (a firewall rule), not an address.
bool cidrOnly(std::string_view v) {
  const size_t slash = v.find('/');
  std::array<int, 4> ip{};
  if (slash == std::string_view::npos || !canonicalIpv4(v.substr(0, slash), ip)) {
    return false;
  }
  const std::string_view bits = v.substr(slash + 1);
  return !bits.empty() && bits.size() <= 2 &&
         std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "location.href", "document.referrer" as a whole value: a name a tag manager reads, with no
// assignment, call or markup: nothing runs.
bool bareMemberChain(std::string_view v) {
  if (v.empty() || v.front() == '.' || v.back() == '.' || v.find('.') == std::string_view::npos) {
    return false;
  }
  return std::all_of(v.begin(), v.end(), [](char c) {
    return isLetter(c) || (c >= '0' && c <= '9') || c == '_' || c == '$' || c == '.';
  });
}

// A package name mentioned in text ("java.util.concurrent tutorial", "upgrade org.apache.kafka
// to 3.7"): words and spaces with sentence punctuation, no code syntax around the name. A class
// an attacker wants loaded comes alone (a type parameter) or inside code: '(', '@', '$', '{',
// '=', quotes and brackets all keep the finding.
bool packageInProse(std::string_view v) {
  bool space = false;
  for (const char c : v) {
    if (c == ' ') {
      space = true;
    } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == '_' || c == ',' || c == '?' || c == '!' ||
                 c == ':' || static_cast<unsigned char>(c) >= 0x80)) {
      return false;
    }
  }
  return space;
}

// A GWT-RPC request stream ("7|0|6|http://host/module/|<strong name>|service|method|
// java.lang.String/2004016611|..."): the protocol names the Java type of every argument; the
// gadget classes of a deserialization attack are still found by their own rules.
bool gwtRpcStream(std::string_view v) {
  size_t i = 0;
  for (int field = 0; field < 3; ++field) {
    const size_t start = i;
    while (i < v.size() && i - start < 10 && v[i] >= '0' && v[i] <= '9') {
      ++i;
    }
    if (i == start || i >= v.size() || v[i] != '|') {
      return false;
    }
    ++i;
  }
  const std::string_view rest = v.substr(i);
  return rest.starts_with("http://") || rest.starts_with("https://");
}

// A JavaServer Faces request parameter: the spec's own namespace (javax.faces.ViewState,
// javax.faces.partial.ajax, jakarta.faces.source...) names form fields, not a class to load;
// the gadget classes of ViewState attacks travel in its value (serialized-object rules).
bool facesParameter(std::string_view v) {
  for (const std::string_view ns : {"javax.faces.", "jakarta.faces."}) {
    if (v.size() > ns.size() && iequals(v.substr(0, ns.size()), ns)) {
      return std::all_of(v.begin() + static_cast<std::ptrdiff_t>(ns.size()), v.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.';
      });
    }
  }
  return false;
}

// A PHP serialized value that holds no object ("a:1:{i:3;i:14;}"): arrays and scalars
// unserialize to data; gadget chains need an O: or C: entry.
bool serializedWithoutObject(std::string_view v) {
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    const char c = static_cast<char>(v[i] | 0x20);
    if ((c == 'o' || c == 'c') && v[i + 1] == ':' &&
        (i == 0 || v[i - 1] == '{' || v[i - 1] == ';' || v[i - 1] == '"' || v[i - 1] == '\'')) {
      return false;
    }
  }
  return true;
}

// "git diff --exit-code || bash -c \": the only command after the breakout is a shell whose
// -c option lacks its command string; the shell refuses to start, nothing runs.
bool danglingShellC(std::string_view v) {
  const size_t sep = v.find_first_of(";|&`\n");
  if (sep == std::string_view::npos) {
    return false;
  }
  std::string_view tail = v.substr(sep);
  while (!tail.empty() && (tail.front() == '|' || tail.front() == '&' || tail.front() == ' ')) {
    tail.remove_prefix(1);
  }
  if (tail.find_first_of(";|&`\n$(") != std::string_view::npos) {
    return false;
  }
  while (!tail.empty() && (tail.back() == ' ' || tail.back() == '\\' || tail.back() == '\t')) {
    tail.remove_suffix(1);
  }
  for (const std::string_view sh : {"sh -c", "bash -c", "zsh -c", "ksh -c", "dash -c"}) {
    if (tail == sh || (tail.size() > sh.size() && tail.ends_with(sh) &&
                       tail[tail.size() - sh.size() - 1] == '/' && tail.front() == '/' &&
                       tail.find(' ') == tail.size() - 3)) {
      return true;
    }
  }
  return false;
}

// "what is /etc/hosts", "../ relative paths explained": a file named inside a sentence, or a
// climb that leads to no file; no file API opens such a value.
// ".htaccess rewrite and subdomains", "web.config transform for release": a file name opening a
// search text of plain words is a subject, not a path the application opens.
bool fileNameOpensText(std::string_view v) {
  const size_t sp = v.find(' ');
  if (sp == std::string_view::npos || sp == 0 ||
      v.substr(0, sp).find_first_of("/\\") != std::string_view::npos) {
    return false;
  }
  const std::string_view rest = v.substr(sp + 1);
  return letterWords(rest, 2) >= 2 &&
         std::all_of(rest.begin(), rest.end(), [](char ch) {
           return isLetter(ch) || ch == ' ' || ch == '-' || ch == ',' || ch == '?' || ch == '\'';
         });
}

bool pathInSentence(std::string_view v) {
  if (v.find("..") != std::string_view::npos) {
    return v.starts_with("../ ") && v.find("..", 2) == std::string_view::npos;
  }
  size_t i = 0;
  size_t words = 0;
  while (i < v.size()) {
    const size_t w = i;
    while (i < v.size() && (v[i] | 0x20) >= 'a' && (v[i] | 0x20) <= 'z') {
      ++i;
    }
    if (i == w || i >= v.size() || v[i] != ' ') {
      break;
    }
    while (i < v.size() && v[i] == ' ') {
      ++i;
    }
    ++words;
  }
  return words > 0 && i < v.size() && (v[i] == '/' || v[i] == '\\');
}

// Rich text with embedded media: formatting tags and <iframe>/<img>/<video> elements whose
// attributes are layout and an https source (a CMS post embedding a video). Script URLs,
// srcdoc, handlers, styles or any other element keep the finding.
bool embedsOnly(std::string_view v) {
  bool embed = false;
  bool formatted = false; // a lone <iframe> is injected content, not a post
  for (size_t i = v.find('<'); i != std::string_view::npos; i = v.find('<', i + 1)) {
    const size_t end = v.find('>', i);
    if (end == std::string_view::npos) {
      return false;
    }
    const std::string_view tag = v.substr(i, end - i + 1);
    if (formattingTag(tag)) {
      formatted = true;
      continue;
    }
    std::string low(tag);
    for (char& c : low) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (low == "</iframe>" || low == "</video>") {
      continue;
    }
    std::string_view t(low);
    std::string_view name;
    for (const std::string_view e : {"<iframe ", "<img ", "<video "}) {
      if (t.starts_with(e)) {
        name = e;
      }
    }
    if (name.empty()) {
      return false;
    }
    t = t.substr(name.size(), t.size() - name.size() - 1);
    // attr="value" pairs and bare attributes, separated by spaces.
    while (!t.empty()) {
      while (!t.empty() && (t.front() == ' ' || t.front() == '/')) {
        t.remove_prefix(1);
      }
      if (t.empty()) {
        break;
      }
      size_t n = 0;
      while (n < t.size() && ((t[n] >= 'a' && t[n] <= 'z') || t[n] == '-')) {
        ++n;
      }
      const std::string_view attr = t.substr(0, n);
      static constexpr std::array<std::string_view, 14> kSafe = {
          "src", "width", "height", "frameborder", "allow", "allowfullscreen", "title",
          "loading", "referrerpolicy", "alt", "class", "controls", "poster", "sandbox"};
      if (n == 0 || std::find(kSafe.begin(), kSafe.end(), attr) == kSafe.end()) {
        return false;
      }
      t.remove_prefix(n);
      if (!t.empty() && t.front() == '=') {
        if (t.size() < 2 || t[1] != '"') {
          return false;
        }
        const size_t close = t.find('"', 2);
        if (close == std::string_view::npos) {
          return false;
        }
        const std::string_view val = t.substr(2, close - 2);
        if ((attr == "src" || attr == "poster") && !val.starts_with("https://")) {
          return false;
        }
        if (val.find_first_of("<>'`\\") != std::string_view::npos) {
          return false;
        }
        t.remove_prefix(close + 1);
      }
    }
    embed = true;
  }
  return embed && formatted;
}

// A document value that is a source file (a snippet, a gist, a notebook cell, a CI script): a
// shebang line followed by more lines, or three lines or more whose first declares imports,
// a package or an include. Its lines are the file's own statements; what a shell or an
// interpreter injection needs is a breakout into someone else's command, which a file that
// starts with its own interpreter line or header does not have.
bool sourceFile(std::string_view v) {
  const size_t nl = v.find('\n');
  if (nl == std::string_view::npos) {
    return false;
  }
  if (v.starts_with("#!/") && nl + 1 < v.size()) {
    return true;
  }
  if (std::count(v.begin(), v.end(), '\n') < 2) {
    return false;
  }
  const std::string_view first = v.substr(0, nl);
  for (const std::string_view head : {"import ", "from ", "package ", "#include ", "using ",
                                      "use strict", "'use strict'", "\"use strict\""}) {
    if (first.starts_with(head)) {
      // "from x import y": the Python form; any other "from" line is prose.
      return head != "from " || first.find(" import ") != std::string_view::npos;
    }
  }
  return false;
}

// "char(10) in sql server", "how to use concat(x) in mysql": one call of a simple argument
// among two or more plain words, none of them a SQL operator or clause word: a search about
// the function. Another call, an operator, a quote or a number outside the call keep it.
bool callInSentence(std::string_view v) {
  static constexpr std::array<std::string_view, 27> kSqlWords = {
      "and", "or", "xor", "not", "union", "select", "from", "where", "having", "limit",
      "order", "group", "by", "into", "like", "rlike", "regexp", "between", "sounds", "is",
      "null", "case", "when", "then", "exec", "waitfor", "procedure"};
  size_t calls = 0;
  size_t words = 0;
  size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && v[i] == ' ') {
      ++i;
    }
    size_t e = i;
    while (e < v.size() && v[e] != ' ') {
      ++e;
    }
    std::string_view t = v.substr(i, e - i);
    i = e;
    if (t.empty()) {
      break;
    }
    while (!t.empty() && std::string_view(",.?!:").find(t.back()) != std::string_view::npos) {
      t.remove_suffix(1);
    }
    const size_t open = t.find('(');
    if (open != std::string_view::npos) {
      const std::string_view arg = t.substr(open + 1);
      if (++calls > 1 || open == 0 || !arg.ends_with(")") ||
          !std::all_of(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(open),
                       [](char c) { return isLetter(c) || c == '_'; }) ||
          !std::all_of(arg.begin(), arg.end() - 1, [](char c) {
            return isLetter(c) || (c >= '0' && c <= '9') || c == '_';
          })) {
        return false;
      }
      continue;
    }
    if (t.empty() || !std::all_of(t.begin(), t.end(), isLetter)) {
      return false;
    }
    std::string low(t);
    for (char& c : low) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (std::find(kSqlWords.begin(), kSqlWords.end(), low) != kSqlWords.end()) {
      return false;
    }
    ++words;
  }
  return calls == 1 && words >= 2;
}

// "${GDPR_CONSENT}", "${TM_USER_ID}": an upper-case macro of four characters or more, the
// whole value, left unexpanded by a tag manager, an ad server or a CI template.
bool templateMacro(std::string_view v) {
  if (v.size() < 7 || !v.starts_with("${") || v.back() != '}') {
    return false;
  }
  const std::string_view name = v.substr(2, v.size() - 3);
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }) && name.front() >= 'A' && name.front() <= 'Z';
}

// A parameter whose name says the application includes or reads the file it names
// ("file", "page", "include", "template", "path", ...), the places remote file inclusion goes
// through; URL-typed names (url, ref, redirect, src) are links and are not among them.
bool includeParameter(std::string_view name) {
  constexpr std::array<std::string_view, 18> kNames = {
      "file",   "filename", "page",   "include", "inc",  "incl",   "path",    "template", "tpl",
      "doc",    "document", "folder", "dir",     "module", "view", "layout",  "load",   "lang"};
  std::string n;
  for (const char ch : name) {
    n.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch);
  }
  return std::find(kNames.begin(), kNames.end(), n) != kNames.end();
}

// "http://host/dir/shell.txt?": a remote URL naming a file (its last path segment has an
// extension) and ending in '?', which turns the suffix an include appends into a query.
bool remoteFileWithTrailingQuery(std::string_view v) {
  const size_t scheme = v.find("://");
  if (scheme == std::string_view::npos || scheme > 5 || v.size() < scheme + 5 || v.back() != '?') {
    return false;
  }
  std::string_view rest = v.substr(scheme + 3);
  while (!rest.empty() && rest.back() == '?') {
    rest.remove_suffix(1);
  }
  const size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos || slash == 0 ||
      rest.find_first_of("?# \t") != std::string_view::npos) {
    return false;
  }
  const std::string_view last = rest.substr(slash + 1);
  const size_t dot = last.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= last.size()) {
    return false;
  }
  // a picture or a document with an empty query is a link someone pasted
  std::string ext;
  for (const char ch : last.substr(dot + 1)) {
    ext.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch);
  }
  for (const std::string_view media : {"jpg", "jpeg", "png", "gif", "webp", "svg", "ico", "pdf",
                                       "mp4", "mp3", "html", "htm"}) {
    if (ext == media) {
      return false;
    }
  }
  return true;
}

// A template control block written out whole: an opening tag with a keyword and an
// expression, then the tag that ends it ("{% if x %}...{% endif %}", "{%- for a in b -%}...
// {% endfor %}", "<% if x %>...<% end %>"): Jinja/Twig/Liquid/Django or ERB/EJS syntax that a
// template engine evaluates. An opening tag alone is a probe.
bool templateBlock(std::string_view v) {
  constexpr std::array<std::string_view, 9> kOpen = {"if",    "for",  "with", "block", "macro",
                                                     "filter", "call", "raw",  "unless"};
  const auto lowerAt = [&](size_t i) {
    const char c = v[i];
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  };
  const auto wordAt = [&](size_t i) {
    size_t e = i;
    while (e < v.size() && isLetter(v[e])) {
      ++e;
    }
    std::string w;
    for (size_t k = i; k < e; ++k) {
      w.push_back(lowerAt(k));
    }
    return std::pair<std::string, size_t>{w, e};
  };
  for (const bool erb : {false, true}) {
    const std::string_view open = erb ? "<%" : "{%";
    const std::string_view close = erb ? "%>" : "%}";
    // A keyword whose first opener found no end tag later in the value: a later opener's end
    // tags are a subset of those, so it is searched for once.
    std::array<bool, kOpen.size()> searched{};
    size_t at = v.find(open);
    while (at != std::string_view::npos) {
      size_t i = at + 2;
      while (i < v.size() && (v[i] == '-' || v[i] == '=' || v[i] == ' ' || v[i] == '\t')) {
        ++i;
      }
      const auto [kw, kwEnd] = wordAt(i);
      const size_t tagEnd = v.find(close, kwEnd);
      const auto slot = std::find(kOpen.begin(), kOpen.end(), kw);
      const bool opener = slot != kOpen.end() && !searched[static_cast<size_t>(slot - kOpen.begin())];
      if (opener && tagEnd != std::string_view::npos && tagEnd - kwEnd <= 80 && kwEnd < v.size() &&
          v[kwEnd] == ' ') {
        // an expression after the keyword
        bool expr = false;
        for (size_t k = kwEnd; k < tagEnd; ++k) {
          expr |= v[k] != ' ' && v[k] != '-' && v[k] != '\t';
        }
        // the end tag of the same block later in the value
        for (size_t e = v.find(open, tagEnd + 2); expr && e != std::string_view::npos;
             e = v.find(open, e + 2)) {
          size_t j = e + 2;
          while (j < v.size() && (v[j] == '-' || v[j] == ' ' || v[j] == '\t')) {
            ++j;
          }
          const auto [end, endEnd] = wordAt(j);
          size_t t = endEnd;
          while (t < v.size() && (v[t] == ' ' || v[t] == '-' || v[t] == '\t')) {
            ++t;
          }
          const bool closes = end == std::string("end") + kw || (erb && end == "end");
          if (closes && v.substr(t, 2) == close) {
            return true;
          }
        }
        searched[static_cast<size_t>(slot - kOpen.begin())] = expr;
      }
      at = v.find(open, at + 2);
    }
  }
  return false;
}

// "https://beacon.example/data.gif?_id=7": the first '?' ends an image path and starts a query
// of name=value pairs; no script path (shell, cmd, ...) before it.
bool imageWithQuery(std::string_view v) {
  const size_t q = v.find('?');
  if (q == std::string_view::npos || q < 4) {
    return false;
  }
  std::string ext(v.substr(q - 4, 4));
  for (char& c : ext) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (ext != ".gif" && ext != ".jpg") {
    return false;
  }
  size_t n = q + 1;
  while (n < v.size() && (isLetter(v[n]) || (v[n] >= '0' && v[n] <= '9') || v[n] == '_')) {
    ++n;
  }
  return n > q + 1 && n < v.size() && v[n] == '=';
}

// "kids' or", "select * from t where name like": the value ends on a binary operator with no
// right operand; in no context does that parse, so no instruction is reached.
bool danglingOperator(std::string_view v) {
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\n')) {
    v.remove_suffix(1);
  }
  for (const std::string_view op : {"or", "and", "xor", "like", "not", "in"}) {
    if (v.size() > op.size() && v.ends_with(op)) {
      const char before = v[v.size() - op.size() - 1];
      if (before == ' ' || before == '\'' || before == '"' || before == ')') {
        return true;
      }
    }
  }
  return false;
}

// "Signature of CM as defined in W3C standards; Base64 encoded": clauses of a sentence joined by
// ';', each later clause opening with a capitalised word. Only words, digits and sentence
// punctuation, and at least three words before the first ';'. A command name on a
// case-sensitive system is lower case, and a mixed-case evasion ("wHoAmI", "WhOaMi") is not
// capitalised.
bool sentenceClauses(std::string_view v) {
  if (v.find(';') == std::string_view::npos || v.size() > 4096) {
    return false;
  }
  for (const char ch : v) {
    if (!isLetter(ch) && !(ch >= '0' && ch <= '9') &&
        std::string_view(" ,.;:()'-").find(ch) == std::string_view::npos) {
      return false;
    }
  }
  size_t words = 0;
  for (size_t i = 0; i < v.size() && v[i] != ';'; ++i) {
    words += isLetter(v[i]) && (i == 0 || v[i - 1] == ' ');
  }
  if (words < 3) {
    return false;
  }
  for (size_t k = v.find(';'); k != std::string_view::npos; k = v.find(';', k + 1)) {
    size_t m = k + 1;
    while (m < v.size() && v[m] == ' ') {
      ++m;
    }
    if (m == v.size()) {
      continue; // a trailing ';'
    }
    if (!(v[m] >= 'A' && v[m] <= 'Z')) {
      return false;
    }
    size_t e = m + 1;
    while (e < v.size() && v[e] >= 'a' && v[e] <= 'z') {
      ++e;
    }
    while (e < v.size() && v[e] >= '0' && v[e] <= '9') {
      ++e; // "Base64"
    }
    if (e - m < 3 || (e < v.size() && v[e] != ' ' && v[e] != ',' && v[e] != '.')) {
      return false;
    }
    // PowerShell and cmd.exe read command names in any case: their commands and aliases
    // count capitalised too ("; Curl 10.0.0.1:8000", "; Ping -n 20 127.0.0.1").
    const std::string word = lowered(v.substr(m, e - m));
    for (const std::string_view w :
         {"ping", "curl", "wget", "cat", "type", "copy", "move", "del", "erase", "echo", "start",
          "dir", "iwr", "irm", "iex", "invoke", "whoami", "hostname", "ipconfig", "systeminfo",
          "tasklist", "taskkill", "netstat", "nslookup", "certutil", "powershell", "pwsh",
          "cmd", "set", "net", "reg", "sc", "schtasks", "bitsadmin", "mshta", "rundll", "wmic",
          "sleep", "timeout", "tree", "more", "find", "findstr", "attrib", "icacls", "mkdir",
          "rmdir", "ren", "rename", "xcopy", "robocopy", "shutdown", "exit", "call", "goto",
          "get", "new", "remove", "select", "write", "out", "add"}) {
      if (word == w || (word.starts_with(w) && (w == "invoke" || w == "rundll" || w == "get" ||
                                                w == "new" || w == "remove" || w == "write" ||
                                                w == "out" || w == "add" || w == "select"))) {
        return false;
      }
    }
  }
  return true;
}

// "https://.../item.html", "/api/.../users": an ellipsis standing for an omitted part. Every run
// of two or more dots is exactly three, bounded by '/' (or after "://") on both sides; a
// climb ("../", "....//") has two or four and more.
bool ellipsisOnly(std::string_view v) {
  bool any = false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '.') {
      continue;
    }
    size_t e = i;
    while (e < v.size() && v[e] == '.') {
      ++e;
    }
    if (e - i >= 2) {
      if (e - i != 3 || i == 0 || v[i - 1] != '/' || (e < v.size() && v[e] != '/')) {
        return false;
      }
      any = true;
    }
    i = e - 1;
  }
  return any;
}

// OData's system query options ($filter, $search, $select, ...) are top-level parameter names
// of every OData and Microsoft Graph API.
bool odataOption(std::string_view v) {
  for (const std::string_view o :
       {"$filter", "$search", "$select", "$expand", "$orderby", "$top", "$skip", "$count",
        "$format", "$apply", "$compute", "$skiptoken", "$deltatoken", "$levels", "$index"}) {
    if (iequals(v, o)) {
      return true;
    }
  }
  return false;
}

// The segments of an argument path ("filter.inbox.$in", "q[where][age][$gt]").
template <typename F> bool anySegment(std::string_view name, F&& f) {
  size_t b = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.' || name[i] == '[' || name[i] == ']') {
      if (i > b && f(name.substr(b, i - b))) {
        return true;
      }
      b = i + 1;
    }
  }
  return false;
}

std::string_view lastSegment(std::string_view name) {
  while (!name.empty() && (name.back() == ']' || name.back() == '[' || name.back() == '.')) {
    name.remove_suffix(1);
  }
  const size_t k = name.find_last_of(".[]");
  return k == std::string_view::npos ? name : name.substr(k + 1);
}

// Whether v equals one of the words, ignoring ASCII case.
bool iequalsAny(std::string_view v, std::initializer_list<std::string_view> words) {
  return std::any_of(words.begin(), words.end(), [v](std::string_view w) { return iequals(v, w); });
}

// A selection by listed values ("$in": [...], "$eq": x): it picks the documents it names and
// matches nothing else. Comparisons, negations, patterns and code ($ne, $gt, $regex, $or,
// $where) can match everything ({"$gt": null}, {"$ne": 1}, {"$regex": ".*"}).
bool selectionOperator(std::string_view op) {
  return iequalsAny(op, {"$in", "$nin", "$eq", "$all", "$oid", "$date"});
}

// A selection operator under a field an API names for its own query language (CouchDB's
// "selector", a Mongo Data API's "filter", a CMS's "where", an aggregation's "$match"): that
// API's syntax. An injected operator replaces a scalar the application expected
// ("password": {"$ne": null}), or matches everything whatever field holds it.
bool queryLanguageField(std::string_view name) {
  return anySegment(name, [](std::string_view s) {
    return iequalsAny(s, {"filter", "filters", "query", "where", "selector", "match", "$match",
                          "criteria", "condition", "conditions", "predicate"});
  });
}

// Operators that run code or read other collections ($where, $function, $lookup): no query of
// an API's own language needs them from a client.
bool codeOperator(std::string_view op) {
  return iequalsAny(op, {"$where", "$function", "$accumulator", "$eval", "$expr", "$lookup",
                         "$graphlookup", "$unionwith", "$out", "$merge"});
}

// A field that holds a secret or a login identity ("password", "api_key", "email"): an
// operator there guesses a secret one character at a time ({"$regex": "^a"}) or matches every
// account.
bool guessedField(std::string_view seg) {
  std::string n = lowered(seg);
  std::erase_if(n, [](char ch) { return ch == '_' || ch == '-'; });
  for (const std::string_view w : {"password", "passwd", "passphrase", "pwd", "secret", "token",
                                   "apikey", "hash", "salt", "otp", "username", "login", "email",
                                   "session", "credential", "auth"}) {
    if (n.find(w) != std::string::npos) {
      return true;
    }
  }
  return n == "pass" || n == "pin" || n == "user" || n == "mail" || n == "key";
}

// A query operator inside an API's own query language: Strapi's "filters[price][$lt]=10",
// Parse's "where={"score":{"$gt":1000}}", a headless CMS's "query={"color":{"$regex":"^Bla"}}",
// CouchDB's "selector". Such an API takes query documents from its clients by design; an
// operator that runs code or reads another collection, or one applied to a secret, a login
// identity or a field named by a number, is still an injection.
bool queryLanguageOperator(std::string_view name, std::string_view op, bool jsonPath) {
  bool field = false;    // the API's query-language field was seen
  bool between = false;  // a document field or a logical operator under it, before op
  bool guessed = false;
  bool code = codeOperator(op);
  bool numbered = false; // the last segment was a number
  bool afterOperator = false; // ... following an operator (an array index: "$or[0]")
  std::string_view last;
  anySegment(name, [&](std::string_view seg) {
    const bool number = std::all_of(seg.begin(), seg.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (seg.starts_with('$')) {
      code = code || codeOperator(seg);
      // a field named by a number right before an operator ({"1": {"$ne": 1}})
      guessed = guessed || (field && numbered && !afterOperator);
      if (field && (iequals(seg, "$or") || iequals(seg, "$and") || iequals(seg, "$nor") ||
                    iequals(seg, "$not"))) {
        between = true;
      }
    } else if (!field) {
      field = queryLanguageField(seg);
    } else if (!number) {
      guessed = guessed || guessedField(seg);
      between = true;
    }
    // (a JSON path writes array elements as "[]": its numbers are keys; a bracket name
    // writes the index)
    afterOperator = number && !jsonPath ? last.starts_with('$') || (numbered && afterOperator) : false;
    numbered = number;
    last = seg;
    return false;
  });
  // An operator right under the field ("condition[$ne]=used", {"query": {"$regex": ".*"}}) is
  // an operator where the application may read one value; under a document field
  // ("filters[price][$lt]") or a logical operator ("filters[$or][0][date][$eq]") it is a query.
  return field && between && !guessed && !code;
}

// A field that holds an address as data: an IP to look up or bind ("ipAddress", "client_ip",
// "host_binding_ipv4"), a browser redirect target ("redirect_uris", "post_logout_redirect_uri")
// that the server sends back to a client and never fetches, or the page a form was opened from
// (WordPress's "_wp_http_referer", "referredby"): the Referer header's value, in a field.
bool addressDataField(std::string_view name, std::string_view value) {
  std::string n = lowered(lastSegment(name));
  std::erase_if(n, [](char ch) { return ch == '_' || ch == '-'; });
  // (an IP field holds an address to look up: a URL with a scheme or path there is a target)
  const bool bare = value.find("://") == std::string_view::npos &&
                    value.find('/') == std::string_view::npos;
  return (bare && (n.ends_with("ip") || n.ends_with("ipaddress") || n.ends_with("ipv4") ||
                   n.ends_with("ipv6"))) ||
         n.find("redirect") != std::string::npos ||
         n.find("referer") != std::string::npos || n.find("referrer") != std::string::npos ||
         n.find("referredby") != std::string::npos;
}

// A bare IPv6 address, optionally with a prefix length ("ff21:1eac::c03b/128"): its first
// group looks like a URL scheme to a pattern, but it has no scheme.
bool bareIpv6(std::string_view v) {
  const size_t slash = v.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view bits = v.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 ||
        !std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    v = v.substr(0, slash);
  }
  size_t colons = 0;
  for (const char c : v) {
    if (c == ':') {
      ++colons;
    } else if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') || c == '.')) {
      return false;
    }
  }
  return colons >= 2 && colons <= 7;
}

// An absolute path to a media or data file, or into /tmp: where telephony, media and export
// APIs read and write their recordings and reports. System files and web roots stay findings.
bool mediaOrScratchPath(std::string_view v) {
  const std::string low = lowered(v.substr(0, 512));
  if (low.find("..") != std::string::npos) {
    return false;
  }
  if (low.starts_with("/tmp/") || low == "/tmp") {
    return low.find("sess_") == std::string::npos;
  }
  const size_t dot = low.rfind('.');
  if (dot == std::string::npos || low.find('/', dot) != std::string::npos) {
    return false;
  }
  const std::string_view ext = std::string_view(low).substr(dot + 1);
  for (const std::string_view m : {"wav", "mp3", "ogg", "oga", "flac", "m4a", "aac", "gsm", "ulaw",
                                   "alaw", "mp4", "mov", "webm", "mkv", "avi", "png", "jpg",
                                   "jpeg", "gif", "webp", "svg", "pdf", "csv", "tsv"}) {
    if (ext == m) {
      return true;
    }
  }
  return false;
}

// A whole statement in a document ("SELECT ... FROM ..." in a dashboard's rawSql, a saved
// report, a notebook): it opens with a query keyword, so no literal or expression of the
// application precedes it and nothing breaks out. Blocks and line comments before it count
// as its start.
bool opensWithStatement(std::string_view v) {
  size_t i = 0;
  while (i < v.size()) {
    if (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n') {
      ++i;
    } else if (v.compare(i, 2, "--") == 0) {
      const size_t e = v.find('\n', i);
      i = e == std::string_view::npos ? v.size() : e + 1;
    } else if (v.compare(i, 2, "/*") == 0) {
      const size_t e = v.find("*/", i + 2);
      i = e == std::string_view::npos ? v.size() : e + 2;
    } else {
      break;
    }
  }
  size_t e = i;
  while (e < v.size() && isLetter(v[e])) {
    ++e;
  }
  const std::string_view w = v.substr(i, e - i);
  if (e < v.size() && !(v[e] == ' ' || v[e] == '\t' || v[e] == '\r' || v[e] == '\n')) {
    return false;
  }
  for (const std::string_view k : {"select", "with", "show", "explain", "describe"}) {
    if (iequals(w, k)) {
      return true;
    }
  }
  return false;
}

// What a whole statement sent as an attack carries and a saved query does not: a delay, a
// server variable or catalog read, a version comment, a comment that cuts the rest off.
bool probingStatement(std::string_view v) {
  std::string low = lowered(v.substr(0, 8192));
  for (const std::string_view m : {"sleep(", "benchmark(", "waitfor", "@@", "information_schema",
                                   "/*!", "load_file", "outfile", "dumpfile", "xp_cmdshell"}) {
    if (low.find(m) != std::string::npos) {
      return true;
    }
  }
  while (!low.empty() && (low.back() == ' ' || low.back() == '\n' || low.back() == ';')) {
    low.pop_back();
  }
  const size_t nl = low.rfind('\n');
  const std::string_view last = std::string_view(low).substr(nl == std::string::npos ? 0 : nl + 1);
  // a trailing "--" or "#" on the statement's only line cuts off what the application adds
  return nl == std::string::npos &&
         (last.find("--") != std::string_view::npos || last.find('#') != std::string_view::npos);
}

// "Size: $tag_mountpoint (device $tag_device)": a dashboard alias naming its template
// variables. The parentheses hold two words side by side, which no call's argument list
// does ("$f(x)", "$f($a, 'b')").
bool variableBeforeWords(std::string_view v) {
  const size_t d = v.find('$');
  if (d == std::string_view::npos) {
    return false;
  }
  const size_t open = v.find('(', d);
  if (open == std::string_view::npos) {
    return false;
  }
  const size_t close = v.find(')', open);
  const std::string_view args = v.substr(open + 1, close == std::string_view::npos
                                                       ? std::string_view::npos
                                                       : close - open - 1);
  const auto word = [](char c) {
    return isLetter(c) || (c >= '0' && c <= '9') || c == '_' || c == '$';
  };
  // Words inside a string literal are the string's ("$a('cat flag.txt')" is a call).
  char quote = 0;
  for (size_t k = 0; k < args.size(); ++k) {
    const char c = args[k];
    if (quote != 0) {
      quote = c == quote ? 0 : quote;
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') {
      quote = c;
      continue;
    }
    if (c == ' ' && k > 0 && word(args[k - 1])) {
      size_t m = k;
      while (m < args.size() && args[m] == ' ') {
        ++m;
      }
      if (m < args.size() && word(args[m])) {
        return true;
      }
    }
  }
  return false;
}

// "links.self[].href", "_links.next.href": a link of a hypermedia document (HAL, JSON:API, a
// webhook's resource links) that describes where a resource lives.
bool hypermediaLink(std::string_view name) {
  return iequals(lastSegment(name), "href") ||
         anySegment(name, [](std::string_view seg) {
           return iequals(seg, "links") || iequals(seg, "_links");
         });
}

// A deployment's own service names in a document (a manifest's "redis.default.svc.cluster.local",
// a self-hosted server's "https://server.bitbucket.local/users/x" in its webhook): every host
// in the value is a DNS name under a cluster or site-local suffix. Loopback, addresses,
// metadata and the API server's well-known name keep the finding.
bool clusterServiceNames(std::string_view v) {
  bool any = false;
  size_t i = 0;
  while (i < v.size()) {
    size_t at = v.find("://", i);
    size_t b;
    if (at == std::string_view::npos) {
      if (any || i != 0) {
        break;
      }
      b = 0; // a bare host[:port]
      while (b < v.size() && v[b] == ' ') {
        ++b;
      }
    } else {
      b = at + 3;
      // (the authority ends at the path, query or fragment: an '@' after them is data)
      const size_t atSign = v.find_first_of("@/?#\\", b);
      if (atSign != std::string_view::npos && v[atSign] == '@') {
        b = atSign + 1;
      }
    }
    size_t e = b;
    while (e < v.size() && (isLetter(v[e]) || (v[e] >= '0' && v[e] <= '9') || v[e] == '.' ||
                            v[e] == '-')) {
      ++e;
    }
    std::string host = lowered(v.substr(b, e - b));
    while (!host.empty() && host.back() == '.') {
      host.pop_back();
    }
    const bool named = host.find_first_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos &&
                       host.find('.') != std::string::npos;
    bool suffix = false;
    for (const std::string_view s : {".svc.cluster.local", ".svc", ".cluster.local", ".local",
                                     ".localdomain", ".lan", ".home.arpa"}) {
      suffix |= host.ends_with(s);
    }
    if (!named || !suffix || host.starts_with("kubernetes.default") ||
        host.find("metadata") != std::string::npos || host.starts_with("instance-data") ||
        host.ends_with(".localhost") || host.starts_with("localhost.")) {
      return false;
    }
    any = true;
    if (at == std::string_view::npos) {
      break;
    }
    i = e;
  }
  return any;
}

// "convert(id: $id, editor: $editor) { ... }": every call in the value passes its arguments by
// name (a GraphQL selection, a keyword-argument API); SQL functions take positional arguments.
bool namedArgumentCalls(std::string_view v) {
  bool any = false;
  for (size_t k = v.find('('); k != std::string_view::npos; k = v.find('(', k + 1)) {
    if (k == 0 || !(isLetter(v[k - 1]) || (v[k - 1] >= '0' && v[k - 1] <= '9') ||
                    v[k - 1] == '_')) {
      continue; // a bracket, not a call
    }
    size_t i = k + 1;
    while (i < v.size() && (v[i] == ' ' || v[i] == '\n' || v[i] == '\t' || v[i] == '\r')) {
      ++i;
    }
    if (i < v.size() && v[i] == ')') {
      continue;
    }
    if (i < v.size() && v[i] == '$') {
      ++i;
    }
    const size_t name = i;
    while (i < v.size() && (isLetter(v[i]) || (v[i] >= '0' && v[i] <= '9') || v[i] == '_')) {
      ++i;
    }
    while (i < v.size() && v[i] == ' ') {
      ++i;
    }
    if (i == name || i >= v.size() || v[i] != ':') {
      return false;
    }
    any = true;
  }
  return any;
}

// A value that is only a dotted name: letters, digits, '_', '$' and dots.
bool dottedNameOnly(std::string_view v) {
  return !v.empty() && v.find('.') != std::string_view::npos &&
         std::all_of(v.begin(), v.end(), [](char c) {
           return isLetter(c) || (c >= '0' && c <= '9') || c == '_' || c == '$' || c == '.';
         });
}

// A field of a stack trace in an error report: a frame's module, package or file, or any
// field under "frames", "stacktrace" or a thread's held locks.
bool stackFrameField(std::string_view name) {
  const std::string_view last = lastSegment(name);
  for (const std::string_view f : {"module", "package", "package_name", "filename", "abs_path"}) {
    if (iequals(last, f)) {
      return true;
    }
  }
  return anySegment(name, [](std::string_view seg) {
    return iequals(seg, "frames") || iequals(seg, "stacktrace") || iequals(seg, "held_locks");
  });
}

// A field a deserializer reads a class from: Fastjson's "@type", Json.NET's "$type",
// Jackson's "@class", "class", "className", "type", "javaClass".
bool typeField(std::string_view name) {
  const std::string_view last = lastSegment(name);
  for (const std::string_view f : {"@type", "$type", "@class", "class", "classname", "type",
                                   "javaclass", "clazz", "_class", "__class__"}) {
    if (iequals(last, f)) {
      return true;
    }
  }
  return false;
}

// Every <!DOCTYPE in the value is html with a W3C public identifier, no internal subset and
// no system identifier outside www.w3.org.
bool w3cDoctype(std::string_view v) {
  bool any = false;
  for (size_t at = 0; at + 9 <= v.size(); ++at) {
    if (v[at] != '<' || !iequals(v.substr(at, 9), "<!doctype")) {
      continue;
    }
    // (a declaration cut off by the end of the value is read to that end)
    const size_t end = std::min(v.find('>', at), v.size());
    const std::string d = lowered(v.substr(at + 9, end - at - 9));
    if (d.find('[') != std::string::npos || d.find("html") != d.find_first_not_of(" \t\r\n") ||
        d.find("\"-//w3c//dtd ") == std::string::npos) {
      return false;
    }
    for (size_t u = d.find("://"); u != std::string::npos; u = d.find("://", u + 3)) {
      if (!(d.compare(u + 3, 12, "www.w3.org/t") == 0 && u >= 4 &&
            (d.compare(u - 4, 4, "http") == 0 || d.compare(u - 5, 5, "https") == 0))) {
        return false;
      }
    }
    any = true;
    at = end;
  }
  return any;
}

// A form field holding a written text (a forum post's "raw", a comment, a message): three lines
// or more and twenty words or more. It is a document like a JSON string of the same text; a
// parameter an attacker fills is one line.
bool postedText(std::string_view v) {
  if (v.size() < 100 || std::count(v.begin(), v.end(), '\n') < 2) {
    return false;
  }
  return letterWords(v, 20) >= 20;
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

// Line breaks only at the end of the value (a redirect chain's last URL with a trailing
// "%0A" in a pixel's path): nothing follows them, so no header or response line is added. (A
// parameter name is written by code, never with a line break: there any counts.)
// A break right after a name ("/upload/x.php\n") is the CVE-2017-15715 shape: a file name
// that a "\.php$" match still takes for a script; only a break that ends a URL nested in the
// path after punctuation ("...&_puuid=${UID}\n") is left to PL2.
bool lineBreaksOnlyAtEnd(std::string_view v) {
  const size_t first = v.find_first_of("\r\n");
  return first != std::string_view::npos && first > 0 &&
         v.find_first_not_of(" \t\r\n", first) == std::string_view::npos &&
         std::count(v.begin() + static_cast<std::ptrdiff_t>(first), v.end(), '\n') <= 1 &&
         std::count(v.begin() + static_cast<std::ptrdiff_t>(first), v.end(), '\r') <= 1 &&
         v.find("://") < first && !isLetter(v[first - 1]) &&
         !(v[first - 1] >= '0' && v[first - 1] <= '9');
}

// "/Accounts/AC1f3.../CredentialLists/170563/Credentials.json": a REST API's collection of one
// resource (an identifier before it, a format suffix), not a key file in a served directory.
bool restCollectionFile(std::string_view v) {
  const size_t slash = v.find_last_of('/');
  if (slash == std::string_view::npos || slash == 0) {
    return false;
  }
  const std::string_view file = v.substr(slash + 1);
  if (!iequals(file, "credentials.json") && !iequals(file, "credentials.xml")) {
    return false;
  }
  const size_t prev = v.find_last_of('/', slash - 1);
  const std::string_view id =
      v.substr(prev == std::string_view::npos ? 0 : prev + 1, slash - (prev == std::string_view::npos ? 0 : prev + 1));
  const bool digits = !id.empty() && std::all_of(id.begin(), id.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  const bool sid = id.size() >= 16 &&
                   std::all_of(id.begin(), id.end(), [](char ch) { return isLetter(ch) || (ch >= '0' && ch <= '9'); }) &&
                   std::any_of(id.begin(), id.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  return digits || sid;
}

// "/Home/Computers, Books, and Materials/": a breadcrumb of titles (a capitalised first name,
// words with spaces or commas), not a file system path (Unix names are case-sensitive: /Home
// is not /home).
bool titleBreadcrumb(std::string_view v) {
  size_t i = 0;
  while (i < v.size() && (v[i] == '/' || v[i] == '\\')) {
    ++i;
  }
  size_t e = i;
  while (e < v.size() && v[e] != '/' && v[e] != '\\') {
    ++e;
  }
  const std::string_view first = v.substr(i, e - i);
  if (first.size() < 2 || !(first[0] >= 'A' && first[0] <= 'Z') ||
      !std::all_of(first.begin() + 1, first.end(), [](char ch) { return ch >= 'a' && ch <= 'z'; }) ||
      iequals(first, "windows") || iequals(first, "winnt") || iequals(first, "inetpub")) {
    return false; // (Windows reads names in any case)
  }
  // titles: a comma, or words separated by spaces in a later segment
  const std::string_view rest = v.substr(e);
  return rest.find(", ") != std::string_view::npos ||
         std::count(rest.begin(), rest.end(), ' ') >= 2;
}

// A file URL into the system's own directories ("file:///etc/", "file://localhost/proc/self",
// "file://./etc", "file:///C:/Windows"): a model registry's or importer's "source" field
// pointed at the host, not a user's data path ("file:///home/app/models/x" stays data).
bool systemFileUrl(std::string_view v) {
  if (v.size() < 6 || !iequals(v.substr(0, 5), "file:")) {
    return false;
  }
  std::string_view p = v.substr(5);
  if (p.starts_with("//")) {
    p.remove_prefix(2);
    // the authority, whatever it names ("file://localhost/etc", "file://x/etc": readers take
    // the path alone), except "file://./etc"
    if (!p.starts_with("./")) {
      const size_t slash = p.find_first_of("/\\");
      p = slash == std::string_view::npos ? std::string_view{} : p.substr(slash);
    }
  }
  while (!p.empty() && (p[0] == '/' || p[0] == '\\' || p.starts_with("./"))) {
    p.remove_prefix(p.starts_with("./") ? 2 : 1);
  }
  if (p.size() >= 2 && isLetter(p[0]) && p[1] == ':') {
    p.remove_prefix(2);
    while (!p.empty() && (p[0] == '/' || p[0] == '\\')) {
      p.remove_prefix(1);
    }
    return istartsWith(p, "windows") || istartsWith(p, "boot.ini") || istartsWith(p, "inetpub");
  }
  const std::string_view first = p.substr(0, p.find_first_of("/\\"));
  for (const std::string_view d : {"etc", "proc", "root", "sys", "boot", "dev", "var", "run"}) {
    if (iequals(first, d)) {
      return true;
    }
  }
  return false;
}

bool keepsDownload(std::string_view v) {
  const std::string low = lowered(v);
  if (low.find("wget") != std::string::npos || low.find(" -o") != std::string::npos ||
      low.find("--output") != std::string::npos || low.find('|') != std::string::npos ||
      low.find('>') != std::string::npos) {
    return true;
  }
  const size_t q = low.find_first_of("?# \t'\"", low.find("://"));
  const std::string_view url = std::string_view(low).substr(0, q);
  for (const std::string_view ext : {".sh", ".py", ".pl", ".php", ".jsp", ".exe", ".elf", ".bin",
                                     ".ps1", ".bat", ".jar", ".war", ".so", ".txt"}) {
    if (url.ends_with(ext)) {
      return true;
    }
  }
  return false;
}

bool absoluteUrl(std::string_view v) {
  size_t i = 0;
  while (i < v.size() && i < 32 &&
         (isLetter(v[i]) || (i > 0 && ((v[i] >= '0' && v[i] <= '9') || v[i] == '+' ||
                                       v[i] == '-' || v[i] == '.')))) {
    ++i;
  }
  return i > 0 && v.substr(i).starts_with("://");
}

Grade gradeFinding(AttackClass cls, uint32_t id, PartKind kind, std::string_view name,
                   std::string_view value) {
  Confidence c = ruleConfidence(id);
  const bool document = kind == PartKind::JsonString || kind == PartKind::XmlText ||
                        kind == PartKind::BodyText || kind == PartKind::FileContent ||
                        ((kind == PartKind::FormValue || kind == PartKind::MultipartValue) &&
                         postedText(value));
  // Code quoted in prose inside a document (markdown in an issue, a stack trace in an error
  // report, an advisory describing an exploit): a technique pattern there is a probe; a
  // syntax-confirmed injection still counts.
  const Confidence found = c;
  if (document && c == Confidence::Strong &&
      (cls == AttackClass::Rce || cls == AttackClass::CodeInjection ||
       cls == AttackClass::Sqli || cls == AttackClass::PathTraversal ||
       cls == AttackClass::Nosqli || cls == AttackClass::Ssti) &&
      prose(value)) {
    c = Confidence::Probe;
  }
  // Quoted code in a document (a snippet in a chat message, a README's <pre> block) is shown
  // as text; only what is around the quotes could run. A source file's lines are its own
  // statements. Both are code a person wrote for a reader or a runner, not a probe of an
  // interpreter: they count from PL3.
  if (document && found >= Confidence::Strong &&
      (cls == AttackClass::Rce || cls == AttackClass::CodeInjection ||
       cls == AttackClass::Sqli || cls == AttackClass::Xss || cls == AttackClass::Nosqli ||
       cls == AttackClass::Ssti || cls == AttackClass::PathTraversal) &&
      (quotedCodeInText(value) || codeOnlyInsideQuotes(cls, value))) {
    c = Confidence::Tokens;
  }
  if (document && found >= Confidence::Strong &&
      (cls == AttackClass::Rce || cls == AttackClass::CodeInjection) && sourceFile(value)) {
    c = Confidence::Tokens;
  }
  // A whole template control block in a parameter, cookie or header is template code; in a
  // document or a form (a CMS page, an e-mail template in a settings API) it is markup.
  if (cls == AttackClass::Ssti && id == 6010 && c == Confidence::Probe &&
      (kind == PartKind::QueryValue || kind == PartKind::CookieValue ||
       kind == PartKind::Header || kind == PartKind::PathSegment) &&
      templateBlock(value)) {
    c = Confidence::Strong;
  }
  switch (cls) {
  case AttackClass::Ssrf:
    // A server fetches URLs from its parameters, never from the page address the browser
    // reports or from a product list.
    if (inMask(kClientText, kind)) {
      return {c, 0};
    }
    if (id == 7007 && cidrOnly(value)) {
      return {c, 0};
    }
    if (id == 7021 && bareIpv6(value)) {
      return {c, 0};
    }
    // (a URL with a path to such a name is a fetch target unless the field is a hypermedia
    // link describing a resource: "links.self[].href")
    if (document && (id == 7001 || id == 7023) && clusterServiceNames(value) &&
        (value.find("://") == std::string_view::npos || hypermediaLink(name))) {
      c = lower(c);
    }
    // A bare loopback or any-address (no path) in a JSON/XML document is configuration (a bind
    // address, a Host header echoed in a test payload); in a field that holds an address as data (an IP
    // to look up, a redirect target sent back to a browser) nothing is fetched.
    if ((id == 7007 && document && value.find('/') == std::string_view::npos) ||
        ((id == 7001 || id == 7004 || id == 7007 || id == 7020) && addressDataField(name, value))) {
      c = lower(c);
    }
    // A public URL ending in '?' or naming a script (the remote-inclusion shapes) is an
    // ordinary link inside a document (an avatar URL with an empty query in a webhook): the
    // inclusion happens through a parameter, where it stays a probe.
    if (document && (id == 7005 || id == 7006)) {
      c = Confidence::Tokens;
    }
    // A tracking pixel with its own query string (".gif?partner=x"): an image request, not a
    // script included with its suffix cut off by a trailing '?'.
    if (id == 7006 && imageWithQuery(value)) {
      c = Confidence::Tokens;
    }
    // The same shape in a query or form parameter named for a file to include is the
    // inclusion itself ("page.php?file=http://evil.example/shell.txt?").
    if ((id == 7005 || id == 7006) && c == Confidence::Probe &&
        (kind == PartKind::QueryValue || kind == PartKind::FormValue) && includeParameter(name) &&
        remoteFileWithTrailingQuery(value) && !imageWithQuery(value)) {
      c = Confidence::Strong;
    }
    // A document describing a deployment names its own services on loopback or private
    // addresses with their ports; an odd scheme there is a file path or repository URL, which
    // the path rules judge.
    // (A rich-text editor's post in a form field is such a document too: the development
    // site's own image and link URLs, "http://localhost:8888/wp-content/...".)
    if ((document || richText(value)) && (id == 7001 || id == 7004 || id == 7007 || id == 7020) &&
        configuredInternalUrls(value)) {
      c = Confidence::Tokens;
    }
    if (document && (id == 7001 || id == 7004) && prose(value) && mentionedInternalUrls(value)) {
      c = Confidence::Tokens;
    }
    if (document && id == 7003 && (value.starts_with("file:/") || value.starts_with("file:./")) &&
        !systemFileUrl(value) &&
        std::all_of(value.begin(), value.end(), [](char ch) {
          return isLetter(ch) || (ch >= '0' && ch <= '9') ||
                 std::string_view(":/._~-").find(ch) != std::string_view::npos;
        })) {
      c = lower(c);
    }
    // "file:1a69df39-.../7647792f-...": an identifier in a "file:" namespace, not a file URL
    // (those go on with '/', '\\', '~', '.' or a drive letter).
    if (document && id == 7003 && value.size() > 5 && (value[0] | 0x20) == 'f' &&
        std::string_view("/\\~.").find(value[5]) == std::string_view::npos &&
        !(isLetter(value[5]) && value.size() > 6 && value[6] == ':')) {
      c = Confidence::Tokens;
    }
    break;
  case AttackClass::CodeInjection:
    // Node reflection named in a stack trace or a sentence stays a probe; a value that is one
    // whole expression calling or indexing a Node global ("console[\"info\"](1)",
    // "require('child_process').exec('id')") is code for an eval.
    if (id == 5037 && c == Confidence::Probe && kind != PartKind::RefererOrigin &&
        lang::nodeGlobalExpression(value)) {
      c = Confidence::Strong;
    }
    if (id == 5016 && variableBeforeWords(value)) {
      c = lower(c);
    }
    if (id == 5005 && serializedWithoutObject(value)) {
      c = lower(c);
    }
    if (id == 5014 && (facesParameter(value) || gwtRpcStream(value) || packageInProse(value))) {
      c = lower(c);
    }
    // A stack frame's module or file in an error report ("exception.values[].module":
    // "java.lang", "frames[].filename": "sun.nio.ch.Net"): a name as data. A deserializer loads
    // the class named in a type field ("@type", "$type", "class"); there, and in any other
    // field, the name stays the finding.
    if ((id == 5014 || id == 5006) && document && dottedNameOnly(value) && !typeField(name) &&
        stackFrameField(name)) {
      c = lower(c);
    }
    if (kind == PartKind::RefererOrigin && c == Confidence::Strong && absoluteUrl(value)) {
      c = lower(c);
    }
    break;
  case AttackClass::Crlf:
    // Line breaks reach a response header only from the path, query, cookies and headers; in
    // a JSON/XML string or a text body they are data unless they carry a response's headers.
    if (!inMask(kResponseHeaderReach, kind) && !splitsResponse(value)) {
      c = lower(c);
    }
    // A line break inside scrambled data (a bot-detection beacon: bytes 0x01-0x1f other than
    // tab and line breaks around it) is one more random byte, not a new line of a format.
    if (id == 12004 && (kind == PartKind::Path || kind == PartKind::PathSegment) &&
        lineBreaksOnlyAtEnd(value)) {
      c = lower(c);
    }
    if (id == 12005 && std::any_of(value.begin(), value.end(), [](char ch) {
          const auto b = static_cast<unsigned char>(ch);
          return b < 0x20 && b != '\t' && b != '\r' && b != '\n';
        })) {
      c = lower(c);
    }
    break;
  case AttackClass::PathTraversal:
    // An absolute path inside a document (config, alert, inventory) is data; a climb or a
    // well-known target is still a finding (3001-3008 stay strong).
    if (document && (id == 3009 || (id == 3010 && !systemFileUrl(value)))) {
      c = lower(c);
    }
    if (id == 3009 && (mediaOrScratchPath(value) || titleBreadcrumb(value))) {
      c = lower(c);
    }
    if (id == 3011 && kind == PartKind::Path && restCollectionFile(value)) {
      c = lower(c);
    }
    if (id == 3001 && ellipsisOnly(value)) {
      c = Confidence::Tokens;
    }
    if ((document || kind == PartKind::QueryValue || kind == PartKind::FormValue) &&
        c == Confidence::Strong && (pathInSentence(value) || (id == 3011 && fileNameOpensText(value)))) {
      c = lower(c);
    }
    break;
  case AttackClass::Xss:
    if (document && id == 2001 && embedsOnly(value)) {
      c = Confidence::Probe;
    }
    if (document && id == 2007 && bareMemberChain(value)) {
      c = lower(c);
    }
    if (kind == PartKind::RefererOrigin && c == Confidence::Strong && absoluteUrl(value)) {
      c = lower(c);
    }
    break;
  case AttackClass::Sqli:
    // A whole SELECT ... FROM statement is a command, not an injection: in a document (a saved
    // report's query, a sigma rule) it is data; in a parameter it still counts.
    if (document && id == 1014) {
      c = Confidence::Tokens;
    }
    if (document && (id == 1008 || id == 1017 || id == 1018) && opensWithStatement(value) &&
        !probingStatement(value)) {
      c = Confidence::Tokens;
    }
    if (c >= Confidence::Strong && danglingOperator(value)) {
      c = Confidence::Probe;
    }
    if (id == 1017 && c == Confidence::Strong && (callInSentence(value) || namedArgumentCalls(value))) {
      c = Confidence::Probe;
    }
    [[fallthrough]];
  case AttackClass::Rce:
    // A JSON or XML field named "command" is a control plane's (a container's, a job's, a
    // package's install command, a PaaS start command), a download command there an API
    // example: a command line there is its data (PL3); in a query or form parameter it runs.
    if ((id == 4052 || id == 4053) && document) {
      c = Confidence::Tokens;
    }
    // A download command whose result is not kept or run ("curl https://api.example/v1/x" in a
    // docs search, a "paste your cURL" import form) is a probe; one saving a file, piping to a
    // shell or fetching a script is the second stage of an injection.
    if (id == 4053 && c == Confidence::Strong && !keepsDownload(value)) {
      c = Confidence::Probe;
    }
    // "/?us", "/?asia": a site's edition selector (a path and a query), no glob of a binary
    if (id == 4014 && value.size() >= 3 && value[0] == '/' && value[1] == '?' &&
        std::all_of(value.begin() + 2, value.end(), [](char ch) { return isLetter(ch); })) {
      c = Confidence::Tokens;
    }
    if (id == 4043 && templateMacro(value)) {
      c = Confidence::Tokens;
    }
    if ((id == 4001 || id == 4013) && danglingShellC(value)) {
      c = Confidence::Probe;
    }
    if ((id == 4001 || id == 4004 || id == 4005) && sentenceClauses(value)) {
      c = Confidence::Probe;
    }
    // A splice that joins no command ("Ajx$@B", "pa``j^H4"): random text, not evasion.
    if (id == 4030 && !splicesCommand(value)) {
      c = Confidence::Probe;
    }
    // A document of several lines that starts with a command is a pasted terminal session or a
    // README; its lines are not commands (the shell view already reads them so).
    if (document && id == 4002 && std::count(value.begin(), value.end(), '\n') >= 3) {
      c = Confidence::Probe;
    }
    [[fallthrough]];
  case AttackClass::Ssti:
  case AttackClass::Nosqli:
    if (id == 9001 && (kind == PartKind::QueryName || kind == PartKind::FormName) &&
        odataOption(value)) {
      c = Confidence::Tokens;
    }
    if (id == 9001 && kind == PartKind::JsonKey && selectionOperator(value) &&
        queryLanguageField(name)) {
      c = lower(c);
    } else if ((id == 9001 || id == 9003) && c == Confidence::Strong &&
               ((kind == PartKind::JsonKey && queryLanguageOperator(name, value, true)) ||
                ((kind == PartKind::QueryName || kind == PartKind::FormName) &&
                 queryLanguageOperator(name, lastSegment(name), false)))) {
      c = lower(c);
    }
    // The page URL the browser reports: its query string was the page's, not the user's, and
    // a site's own search page puts prose there; only a confirmed injection counts at PL1.
    if (kind == PartKind::RefererOrigin && c == Confidence::Strong && absoluteUrl(value)) {
      c = lower(c);
    }
    break;
  case AttackClass::Xxe:
    // An HTML e-mail or page that declares its W3C document type ("<!DOCTYPE html PUBLIC
    // \"-//W3C//DTD XHTML 1.0 Transitional//EN\" \"http://www.w3.org/TR/...dtd\">") names no
    // entity and no DTD but the W3C's own.
    if (id == 8002 && w3cDoctype(value)) {
      c = Confidence::Tokens;
    }
    break;
  default:
    break;
  }
  return {c, paranoiaOf(c)};
}

} // namespace internal
} // namespace bulwark::detect

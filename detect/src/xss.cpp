#include <algorithm>
#include <array>
#include <cstddef>
#include <string>

#include "detectors.h"

namespace bulwark::detect::internal {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}
bool isAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool isTagChar(char c) {
  return isAlpha(c) || (c >= '0' && c <= '9') || c == '-' || c == ':' || c == '_';
}

// Elements that run script or load active content by themselves.
constexpr std::array<std::string_view, 21> kActiveTags{{
    "script", "iframe",  "frame",    "frameset", "object",   "embed",     "applet",
    "base",   "isindex", "import",   "xss",      "vmlframe", "layer",     "ilayer",
    "style",  "xml",     "textarea", "noscript", "noembed",  "plaintext", "xmp",
}};

// Attributes whose value is a URL or code.
constexpr std::array<std::string_view, 19> kUrlAttrs{{
    "href",   "src",    "action",  "formaction", "data", "xlink:href", "background",
    "dynsrc", "lowsrc", "poster",  "codebase",   "to",   "from",       "values",
    "by",     "srcdoc", "content", "style",      "code",
}};

// "javascript:" possibly broken up with whitespace/control characters (java\tscript:).
bool scriptScheme(std::string_view v) {
  size_t i = 0;
  while (i < v.size() && (isSpace(v[i]) || v[i] == '"' || v[i] == '\'' || v[i] == '`')) {
    ++i;
  }
  char buf[16];
  size_t len = 0;
  for (; i < v.size() && len < sizeof buf; ++i) {
    if (isSpace(v[i])) {
      continue;
    }
    buf[len++] = v[i];
    if (v[i] == ':') {
      break;
    }
  }
  const std::string_view compact(buf, len);
  return compact == "javascript:" || compact == "vbscript:" || compact == "livescript:" ||
         compact == "mocha:" || compact == "data:" || compact == "jscript:";
}

bool rasterDataUrl(std::string_view v);

// A style attribute that loads script: a CSS url() whose argument is a script URL, hides its
// scheme behind CSS escapes ("url(javascript:...)", "url(jav\61script:...)") or names a script
// or behavior file (".js", ".htc"), or braces that break out of the declaration list into rules.
// An image or font URL ("background-image:url(https://...)", every rich-text editor's output)
// loads a resource and runs nothing.
bool cssScriptUrl(std::string_view v) {
  if (v.find_first_of("{}") != std::string_view::npos) {
    return true;
  }
  for (size_t at = v.find("url("); at != std::string_view::npos; at = v.find("url(", at)) {
    // (the argument ends at the next ')'; without one, the rest of the value up to 2 KiB is
    // the last argument: every later "url(" is inside it, so it is read once)
    const size_t close = v.find(')', at + 4);
    std::string_view arg = v.substr(at + 4, close == std::string_view::npos ? 2 * 1024 : close - at - 4);
    if (close == std::string_view::npos) {
      at = v.size();
    } else {
      at = close;
    }
    while (!arg.empty() && (isSpace(arg.back()) || arg.back() == '"' || arg.back() == '\'')) {
      arg.remove_suffix(1);
    }
    const std::string_view path = arg.substr(0, arg.find_first_of("?#"));
    if (arg.find('\\') != std::string_view::npos ||
        (scriptScheme(arg) && !rasterDataUrl(arg)) || path.ends_with(".js") ||
        path.ends_with(".htc") || path.ends_with(".vbs")) {
      return true;
    }
  }
  return false;
}

// data:image/png;base64,... and the other raster types.
bool rasterDataUrl(std::string_view v) {
  while (!v.empty() && (isSpace(v.front()) || v.front() == '"' || v.front() == '\'')) {
    v.remove_prefix(1);
  }
  for (const std::string_view t : {"data:image/png;", "data:image/jpeg;", "data:image/jpg;",
                                   "data:image/gif;", "data:image/webp;", "data:image/avif;",
                                   "data:image/bmp;"}) {
    if (v.starts_with(t) && v.substr(t.size()).starts_with("base64,") &&
        v.find_first_of("<>\"'( ", t.size()) == std::string_view::npos) {
      return true;
    }
  }
  return false;
}

bool isIdentChar(char c) {
  return isAlpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Words after which JavaScript takes an operand (a name, a number): "return x", "typeof y",
// "new X", "a in b", "else foo()".
bool operandKeyword(std::string_view w) {
  static constexpr std::array<std::string_view, 30> kWords{{
      "var",    "let",   "const",  "return",  "typeof",   "new",     "delete", "void",
      "throw",  "case",  "in",     "of",      "instanceof", "function", "class", "async",
      "await",  "yield", "else",   "do",      "import",   "export",  "from",   "as",
      "extends", "get",  "set",    "static",  "break",    "continue",
  }};
  return std::find(kWords.begin(), kWords.end(), w) != kWords.end();
}

// Code that JavaScript rejects as a whole: on one line, a name, number or closed call followed
// by another name or number without an operator ("in markdown preview", "void(0) meaning").
// A script with a syntax error runs nothing, so a <script> element or javascript: URL whose
// code is prose is text. Only the text before the first quote, slash, backslash, tag or line
// break is read (strings, regular expressions, comments and escapes are not parsed); a group
// after if/while/for/with/switch/catch may be followed by a statement.
bool jsSyntaxError(std::string_view code) {
  code = code.substr(0, std::min(code.find_first_of("\"'`/\\<>\n\r"), code.size()));
  enum class Prev { None, Name, Keyword, Value, Other };
  Prev prev = Prev::None;
  std::array<bool, 16> control{}; // per open '(' (up to 16 deep): opened after a control word
  size_t depth = 0;
  std::string_view lastWord;
  for (size_t i = 0; i < code.size();) {
    const char c = code[i];
    if (isSpace(c)) {
      ++i;
      continue;
    }
    if (isIdentChar(c)) {
      size_t e = i;
      while (e < code.size() && (isIdentChar(code[e]) || (code[e] == '.' && c >= '0' && c <= '9'))) {
        ++e;
      }
      const std::string_view w = code.substr(i, e - i);
      if (prev == Prev::Name || prev == Prev::Value) {
        return true;
      }
      const bool number = c >= '0' && c <= '9';
      prev = number ? Prev::Value : (operandKeyword(w) ? Prev::Keyword : Prev::Name);
      lastWord = w;
      i = e;
      continue;
    }
    if (c == '(') {
      if (depth < control.size()) {
        control[depth] = prev == Prev::Name && (lastWord == "if" || lastWord == "while" ||
                                                lastWord == "for" || lastWord == "with" ||
                                                lastWord == "switch" || lastWord == "catch");
      }
      ++depth;
      prev = Prev::Other;
    } else if (c == ')') {
      const bool ctl = depth > 0 && depth <= control.size() && control[depth - 1];
      depth = depth > 0 ? depth - 1 : 0;
      prev = ctl ? Prev::Other : Prev::Value;
    } else if (c == ']') {
      prev = Prev::Value;
    } else {
      prev = Prev::Other;
    }
    lastWord = {};
    ++i;
  }
  return false;
}

// A script URL anywhere (javascript:alert(1), [x](javascript:...)): the scheme then code.
bool scriptUrlAnywhere(std::string_view low) {
  // In markup the URL ends where its attribute ends ("formaction=javascript:f() type=x"),
  // which this scan does not know: the code is not judged there.
  const bool markup = low.find('<') != std::string_view::npos;
  for (const std::string_view scheme : {"javascript", "vbscript", "livescript"}) {
    size_t pos = 0;
    while ((pos = low.find(scheme, pos)) != std::string_view::npos) {
      size_t i = pos + scheme.size();
      pos = i;
      while (i < low.size() && isSpace(low[i])) {
        ++i;
      }
      if (i >= low.size() || low[i] != ':') {
        continue;
      }
      // Code after the scheme: a call, a template literal, an assignment, an escape.
      const std::string_view rest = low.substr(i + 1, 200);
      if ((rest.find_first_of("(`=&\\[") != std::string_view::npos ||
           rest.find("void") != std::string_view::npos) &&
          (markup || !jsSyntaxError(rest))) {
        return true;
      }
    }
  }
  return false;
}

// Does the handler/URL value look like code (a call, a template literal, an assignment)?
bool looksLikeCode(std::string_view v) {
  return v.find_first_of("(`=&\\") != std::string_view::npos ||
         v.find('.') != std::string_view::npos;
}

// Parses attributes of a tag from pos (just after the name); true when one is dangerous.
bool dangerousAttributes(std::string_view s, size_t pos, std::string_view tag, size_t& stop) {
  size_t i = pos;
  const size_t n = s.size();
  struct Out { // where the scan stopped, on every return
    size_t& at;
    size_t& i;
    ~Out() { at = i; }
  } out{stop, i};
  while (i < n && s[i] != '>' && s[i] != '<') {
    if (isSpace(s[i]) || s[i] == '/' || s[i] == '"' || s[i] == '\'') {
      ++i;
      continue;
    }
    size_t an = i;
    while (an < n && (s[an] == '<' || s[an] == '/')) {
      ++an; // "<svg </onload=...>": browsers still read an attribute
    }
    i = an;
    while (i < n && !isSpace(s[i]) && s[i] != '=' && s[i] != '>' && s[i] != '/') {
      ++i;
    }
    const std::string_view attr = s.substr(an, i - an);
    while (i < n && isSpace(s[i])) {
      ++i;
    }
    std::string_view value;
    if (i < n && s[i] == '=') {
      ++i;
      while (i < n && isSpace(s[i])) {
        ++i;
      }
      if (i < n && (s[i] == '"' || s[i] == '\'' || s[i] == '`')) {
        const char q = s[i];
        const size_t end = s.find(q, i + 1);
        value =
            s.substr(i + 1, end == std::string_view::npos ? std::string_view::npos : end - i - 1);
        i = end == std::string_view::npos ? n : end + 1;
      } else {
        const size_t vs = i;
        while (i < n && !isSpace(s[i]) && s[i] != '>') {
          ++i;
        }
        value = s.substr(vs, i - vs);
      }
      if (attr.size() > 2 && attr.starts_with("on") && isAlpha(attr[2])) {
        return true; // event handler with a value
      }
      if (attr == "datasrc" || attr == "datafld" || attr == "dataformatas") {
        return true; // IE data binding
      }
      for (const auto u : kUrlAttrs) {
        if (attr == u) {
          if (scriptScheme(value)) {
            return true;
          }
          if (attr == "style" && (value.find("expression") != std::string_view::npos ||
                                  value.find("javascript") != std::string_view::npos ||
                                  value.find("binding") != std::string_view::npos ||
                                  value.find("behavio") != std::string_view::npos ||
                                  cssScriptUrl(value) ||
                                  value.find("@import") != std::string_view::npos)) {
            return true;
          }
          if (attr == "srcdoc" && value.find('<') != std::string_view::npos) {
            return true;
          }
          if (attr == "content" && tag == "meta" && value.find("url") != std::string_view::npos) {
            return true;
          }
        }
      }
      if ((tag == "link" || tag == "meta") && (attr == "rel" || attr == "http-equiv") &&
          (value == "import" || value == "refresh" || value == "stylesheet")) {
        if (value != "stylesheet") {
          return true;
        }
      }
    } else if (attr.size() > 2 && attr.starts_with("on") && isAlpha(attr[2]) && i >= n &&
               attr.size() > 5) {
      // Truncated value at the end ("<body onload"): still an attempt.
      return true;
    }
  }
  return false;
}

} // namespace

uint32_t detectXss(std::string_view low) {
  const size_t n = low.size();
  // Computed at most once: scanning the rest of the value per tag would be quadratic.
  int scriptUrlState = -1;
  auto scriptUrl = [&] {
    if (scriptUrlState < 0) {
      scriptUrlState = scriptUrlAnywhere(low) ? 1 : 0;
    }
    return scriptUrlState == 1;
  };
  // 1. Tags.
  size_t scanned = 0;     // attributes up to here have been read
  size_t scannedMeta = 0; // ... as attributes of a meta tag
  size_t scannedLink = 0; // ... as attributes of a link tag
  for (size_t lt = low.find('<'); lt != std::string_view::npos; lt = low.find('<', lt + 1)) {
    size_t i = lt + 1;
    if (i < n && low[i] == '/') {
      ++i; // </script> closes the application's script block: check the name too
    }
    if (i >= n) {
      break;
    }
    if (low.substr(i).starts_with("!--") || low.substr(i).starts_with("![cdata[")) {
      continue;
    }
    if (low[i] == '?' && low.substr(i).starts_with("?import")) {
      return 2001;
    }
    if (!isAlpha(low[i])) {
      continue;
    }
    const size_t ns = i;
    while (i < n && isTagChar(low[i])) {
      ++i;
    }
    std::string_view tag = low.substr(ns, i - ns);
    if (const size_t colon = tag.rfind(':'); colon != std::string_view::npos) {
      tag.remove_prefix(colon + 1); // <x:script xmlns:x=...>: the local name counts
    }
    // "<script>" before prose ("escape <script> in the preview"): a script element whose
    // code JavaScript rejects runs nothing; with attributes (src=) or code it counts.
    const bool closingTag = low[lt + 1] == '/';
    // (jsSyntaxError reads the code up to its first '<', which comes at or before any "</".)
    if (!closingTag && tag == "script" && i < n && low[i] == '>' &&
        jsSyntaxError(low.substr(i + 1))) {
      continue;
    }
    for (const auto t : kActiveTags) {
      if (tag == t) {
        if (i >= n || isSpace(low[i]) || low[i] == '>' || low[i] == '/' || low[i] == '\0') {
          return 2001;
        }
      }
    }
    if (i < n && !(isSpace(low[i]) || low[i] == '/' || low[i] == '>')) {
      continue; // "<b&&" or "<3": not a tag
    }
    // Attributes already read as part of an earlier tag (browsers keep reading attributes
    // across a stray '<': "<svg onload<svg onload...") hold no danger that scan missed; reading
    // them again for every '<' would make a long value quadratic. meta/link values are judged
    // by their own tag: each of the two has its own mark of what was read as its attributes.
    size_t& mark = tag == "meta" ? scannedMeta : tag == "link" ? scannedLink : scanned;
    if (i >= mark) {
      size_t end = i;
      if (dangerousAttributes(low, i, tag, end)) {
        return 2002;
      }
      mark = std::max(mark, end);
      scanned = std::max(scanned, end);
    }
    // Elements that are dangerous with any attributes or content (<svg><script>, <math>...).
    if ((tag == "svg" || tag == "math" || tag == "style" || tag == "template" || tag == "form" ||
         tag == "meta" || tag == "link" || tag == "video" || tag == "audio" || tag == "img" ||
         tag == "body" || tag == "marquee" || tag == "details" || tag == "input" || tag == "a" ||
         tag == "div") &&
        scriptUrl()) {
      return 2003;
    }
  }
  // 2. A script URL as the value (redirect targets, href parameters). A raster image as a
  // data: URL (an avatar upload) cannot run script; SVG can.
  if (scriptScheme(low) && looksLikeCode(low) && !rasterDataUrl(low) &&
      !jsSyntaxError(low.substr(std::min(low.find(':') + 1, n)))) {
    return 2004;
  }
  if (scriptUrl()) {
    return 2004;
  }
  // First positions of breakout characters, so the loops below stay linear.
  const size_t firstQuote = std::min(low.find('"'), low.find('\''));
  const size_t firstQuoteOrTick = std::min(firstQuote, low.find('`'));
  const size_t firstBreak = low.find_first_of("\"';)}>(=-+,`");
  // 3. Attribute breakout: a quote, then an event handler with code.
  for (size_t pos = low.find("on"); pos != std::string_view::npos; pos = low.find("on", pos + 2)) {
    if (pos > 0 && !(isSpace(low[pos - 1]) || low[pos - 1] == '"' || low[pos - 1] == '\'' ||
                     low[pos - 1] == '/' || low[pos - 1] == '`')) {
      continue;
    }
    size_t i = pos + 2;
    while (i < n && isAlpha(low[i])) {
      ++i;
    }
    if (i - pos < 5) {
      continue;
    }
    size_t j = i;
    while (j < n && isSpace(low[j])) {
      ++j;
    }
    if (j >= n || low[j] != '=') {
      continue;
    }
    const std::string_view after = low.substr(j + 1, 200);
    const size_t v = after.find_first_not_of(" \t\r\n");
    if (v == std::string_view::npos || after[v] == '{') {
      continue; // JSX / template binding, not an HTML attribute
    }
    if (firstQuote < pos && after.find_first_of("(`") != std::string_view::npos) {
      return 2005;
    }
  }
  // 4. JavaScript string breakout followed by a call: ';alert(1)//  "-prompt(1)-"
  for (const std::string_view fn :
       {"alert", "prompt", "confirm", "eval", "settimeout", "setinterval", "fromcharcode", "atob",
        "document.write", "print"}) {
    size_t pos = 0;
    while ((pos = low.find(fn, pos)) != std::string_view::npos) {
      size_t i = pos + fn.size();
      const size_t at = pos;
      pos = i;
      while (i < n && isSpace(low[i])) {
        ++i;
      }
      if (i + 2 < n && low[i] == '?' && low[i + 1] == '.') {
        i += 2; // optional call: alert?.(1)
      }
      if (i >= n || (low[i] != '(' && low[i] != '`')) {
        continue;
      }
      if (at > 0 && (isAlpha(low[at - 1]) || low[at - 1] == '_')) {
        continue;
      }
      if (fn == "alert" || fn == "prompt" || fn == "confirm") {
        // The classic probes; rare in prose, common in payloads.
        if (at == 0 || firstBreak < at || low.substr(i + 1).starts_with("1)") ||
            low.substr(i + 1).starts_with("document")) {
          return 2006;
        }
      }
      // Others only after a quote/operator breakout right before the call.
      size_t k = at;
      while (k > 0 && isSpace(low[k - 1])) {
        --k;
      }
      if (k > 0 &&
          (low[k - 1] == ';' || low[k - 1] == '+' || low[k - 1] == '-' || low[k - 1] == '|' ||
           low[k - 1] == '&' || low[k - 1] == '*') &&
          firstQuoteOrTick < k) {
        return 2006;
      }
    }
  }
  // 5. DOM access (document.cookie, window.location, ...) is a pattern rule (2007).
  return 0;
}

} // namespace bulwark::detect::internal

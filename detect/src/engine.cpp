#include "bulwark/detect/engine.h"

#include <hs/hs.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bitset>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include "bulwark/detect/normalize.h"
#include "bulwark/detect/parts.h"
#include "detectors.h"
#include "rules.h"

namespace bulwark::detect {

std::string_view className(AttackClass cls) {
  switch (cls) {
#define BW_X(name, label)                                                                        \
  case AttackClass::name:                                                                        \
    return label;
    BW_ATTACK_CLASSES(BW_X)
#undef BW_X
  case AttackClass::Count:
    break;
  }
  return "unknown";
}

using internal::PatternRule;
using namespace internal; // Scope bits

struct Engine::Impl {
  hs_database_t* db = nullptr;
  std::vector<const PatternRule*> rules;
  uint64_t id = 0;

  ~Impl() {
    if (db != nullptr) {
      hs_free_database(db);
    }
  }
};

namespace {

std::atomic<uint64_t> nextEngineId{1};

// Per-thread vectorscan scratch, shared by every engine the thread uses (hs_alloc_scratch grows
// it to fit each database), plus reusable string buffers so inspection does not allocate for
// ordinary requests.
// Values already inspected and found clean (user agents, Accept and cookie values repeat a lot
// in real traffic). Entries keep the whole value, so a hit is an exact match, never a guess.
class CleanCache {
public:
  static constexpr size_t kSlots = 512;
  static constexpr size_t kMin = 24;
  static constexpr size_t kMax = 160;

  static uint64_t hash(std::string_view v, uint64_t seed) {
    uint64_t h = seed ^ (v.size() * 0x9E3779B97F4A7C15ull);
    size_t i = 0;
    for (; i + 8 <= v.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, v.data() + i, 8);
      h = (h ^ w) * 0xff51afd7ed558ccdull;
      h ^= h >> 32;
    }
    for (; i < v.size(); ++i) {
      h = (h ^ static_cast<unsigned char>(v[i])) * 0x100000001b3ull;
    }
    return h ^ (h >> 29);
  }

  bool contains(uint64_t engine, uint64_t key, std::string_view v) const {
    const Slot& s = slots_[key % kSlots];
    return s.engine == engine && s.key == key && s.len == v.size() &&
           std::memcmp(s.bytes, v.data(), v.size()) == 0;
  }

  void insert(uint64_t engine, uint64_t key, std::string_view v) {
    Slot& s = slots_[key % kSlots];
    s.engine = engine;
    s.key = key;
    s.len = static_cast<uint32_t>(v.size());
    std::memcpy(s.bytes, v.data(), v.size());
  }

private:
  struct Slot {
    uint64_t engine = 0;
    uint64_t key = 0;
    uint32_t len = 0;
    char bytes[kMax];
  };
  std::array<Slot, kSlots> slots_{};
};

struct ThreadState {
  hs_scratch_t* scratch = nullptr;
  uint64_t preparedFor = 0;
  CleanCache clean;
  ArgList args{1024};
  std::string dec;
  std::string low;
  std::string canon;
  std::string b64;
  ThreadState() = default;
  ThreadState(const ThreadState&) = delete;
  ThreadState& operator=(const ThreadState&) = delete;
  ~ThreadState() {
    if (scratch != nullptr) {
      hs_free_scratch(scratch);
    }
  }
};

thread_local ThreadState tls;

// Bytes that never start or carry an attack on their own; a value made only of them is skipped.
constexpr std::array<bool, 256> makeSafeTable() {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) {
    t[static_cast<size_t>(c)] = true;
  }
  for (int c = 'A'; c <= 'Z'; ++c) {
    t[static_cast<size_t>(c)] = true;
  }
  for (int c = '0'; c <= '9'; ++c) {
    t[static_cast<size_t>(c)] = true;
  }
  t['-'] = t['_'] = t[','] = t['@'] = true;
  return t;
}
constexpr auto kSafe = makeSafeTable();

bool allSafe(std::string_view s) {
  for (const char c : s) {
    if (!kSafe[static_cast<unsigned char>(c)]) {
      return false;
    }
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
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

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) {
    return false;
  }
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (iequals(hay.substr(i, needle.size()), needle)) {
      return true;
    }
  }
  return false;
}

bool istartsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && iequals(s.substr(0, p.size()), p);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' ||
                        s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Headers whose values are inspected with the pattern rules only (no tokenizers): they are
// structured and carry attacks rarely; Log4j and CRLF rules still run on them.
bool structuredHeader(std::string_view name) {
  static constexpr std::array<std::string_view, 22> kNames{{
      "accept", "accept-encoding", "accept-language", "accept-charset", "connection",
      "content-length", "cache-control", "pragma", "upgrade-insecure-requests", "dnt", "te",
      "priority", "keep-alive", "if-none-match", "if-modified-since", "authorization",
      "proxy-connection", "transfer-encoding", "access-control-request-method",
      "access-control-request-headers", "content-encoding", "expect",
  }};
  for (const auto n : kNames) {
    if (iequals(name, n)) {
      return true;
    }
  }
  return istartsWith(name, "sec-") || istartsWith(name, "x-hub-signature") ||
         istartsWith(name, "stripe-signature") || istartsWith(name, "x-slack-signature");
}

bool allowedCharset(std::string_view cs) {
  static constexpr std::array<std::string_view, 22> kCharsets{{
      "utf-8", "utf8", "iso-8859-1", "iso-8859-15", "latin1", "windows-1252", "us-ascii",
      "ascii", "utf-16", "utf-16le", "utf-16be", "shift_jis", "euc-jp", "euc-kr", "gb2312",
      "gbk", "gb18030", "big5", "koi8-r", "windows-1251", "iso-8859-2", "windows-1250",
  }};
  for (const auto c : kCharsets) {
    if (iequals(cs, c)) {
      return true;
    }
  }
  return false;
}

class Inspection {
public:
  Inspection(const Engine::Impl& impl, const EngineConfig& cfg, Verdict& verdict)
      : impl_(impl), cfg_(cfg), v_(verdict) {}

  bool done() const { return cfg_.stopAtFirst && !v_.findings.empty(); }

  void add(AttackClass cls, uint32_t id, std::string_view kind, std::string_view name,
           std::string_view value) {
    for (const auto& f : v_.findings) {
      if (f.ruleId == id && f.part.size() == kind.size() + (name.empty() ? 0 : name.size() + 1) &&
          f.part.starts_with(kind) && (name.empty() || f.part.ends_with(name))) {
        return;
      }
    }
    Finding f;
    f.cls = cls;
    f.ruleId = id;
    f.part.reserve(kind.size() + name.size() + 1);
    f.part.append(kind);
    if (!name.empty()) {
      f.part.push_back(':');
      f.part.append(name.substr(0, 64));
    }
    f.value.assign(value.substr(0, 128));
    v_.findings.push_back(std::move(f));
  }

  // Runs every detector that applies to a value. raw is as received (possibly encoded).
  void value(uint8_t scope, std::string_view kind, std::string_view name, std::string_view raw,
             bool plusAsSpace, int depth = 0) {
    if (raw.empty() || done()) {
      return;
    }
    if (++values_ > cfg_.maxArgs) {
      v_.limitExceeded = true;
      return;
    }
    uint64_t cacheKey = 0;
    const bool cacheable = depth == 0 && raw.size() >= CleanCache::kMin &&
                           raw.size() <= CleanCache::kMax;
    if (cacheable) {
      cacheKey = CleanCache::hash(raw, (static_cast<uint64_t>(scope) << 56) ^
                                           CleanCache::hash(kind, plusAsSpace ? 1 : 2));
      if (tls.clean.contains(impl_.id, cacheKey, raw)) {
        return;
      }
    }
    const size_t before = v_.findings.size();
    inspectValue(scope, kind, name, raw, plusAsSpace, depth);
    if (cacheable && v_.findings.size() == before) {
      tls.clean.insert(impl_.id, cacheKey, raw);
    }
  }

  void inspectValue(uint8_t scope, std::string_view kind, std::string_view name,
                    std::string_view raw, bool plusAsSpace, int depth) {
    if (scope != kPath && scope != kAgent && allSafe(raw)) {
      // Letters, digits and '-_,@' only: nothing to decode and no tokenizer can fire; the
      // keyword patterns (rO0AB, scanner names) still run.
      toLowerAscii(raw, tls.low);
      matchPatterns(scope, kind, name, tls.low, raw);
      if (tls.low.find("0x") != std::string::npos && foldHexLiterals(tls.low, tls.canon)) {
        matchPatterns(scope, kind, name, tls.canon, raw);
      }
      return;
    }
    std::string& dec = tls.dec;
    std::string& low = tls.low;
    bool needDecode = false;
    for (const char c : raw) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (c == '%' || c == '&' || c == '\\' || u >= 0x80 || u < 0x20 || (plusAsSpace && c == '+')) {
        needDecode = true;
        break;
      }
    }
    if (needDecode) {
      normalizeValue(raw, dec, plusAsSpace, std::min<size_t>(cfg_.maxDepth, 6));
      toLowerAscii(dec, low);
    } else {
      dec.assign(raw);
      toLowerAscii(raw, low);
    }
    const std::string_view shown = dec;
    // Control characters left after decoding in names/values of the query (920270/920271).
    if (needDecode && (scope == kArg || scope == kName) && kind.starts_with("query")) {
      if (raw.find("%00") != std::string_view::npos) {
        add(AttackClass::Protocol, 13002, kind, name, shown);
      }
    }
    matchPatterns(scope, kind, name, low, shown);
    if (done()) {
      return;
    }
    // "0x2f" / "0x5c" / "0x2e" spelled out as separators and dots (dotdotpwn style).
    if (low.find("0x") != std::string::npos && foldHexLiterals(low, tls.canon)) {
      matchPatterns(scope, kind, name, tls.canon, shown);
    }
    runCodeDetectors(scope, kind, name, low, shown);
    // Base64 that decodes to text: inspect the text too (once).
    if (depth == 0 && (scope == kArg || scope == kHeader) && raw.size() >= 16 &&
        tryBase64Text(raw, tls.b64)) {
      const std::string decoded = tls.b64;
      std::string k(kind);
      k.append(".base64");
      value(scope, k, name, decoded, false, depth + 1);
    }
  }

  ArgList& freshArgs() {
    tls.args.clear();
    tls.args.setLimit(cfg_.maxArgs);
    return tls.args;
  }

  static bool foldHexLiterals(std::string_view in, std::string& out) {
    out.clear();
    bool changed = false;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '0' && i + 3 < in.size() && in[i + 1] == 'x') {
        const std::string_view h = in.substr(i + 2, 2);
        const char c = h == "2f" ? '/' : h == "5c" ? '\\' : h == "2e" ? '.' : '\0';
        if (c != '\0') {
          out.push_back(c);
          i += 3;
          changed = true;
          continue;
        }
      }
      out.push_back(in[i]);
    }
    return changed;
  }

  static bool hasControl(std::string_view s) {
    for (const char c : s) {
      const unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u == 0x7f) {
        return true;
      }
    }
    return false;
  }

  void matchPatterns(uint8_t scope, std::string_view kind, std::string_view name,
                     std::string_view low, std::string_view shown) {
    struct Ctx {
      std::bitset<256> hits;
    } ctx;
    auto onMatch = [](unsigned int id, unsigned long long, unsigned long long, unsigned int,
                      void* c) -> int {
      static_cast<Ctx*>(c)->hits.set(id & 0xFF);
      return 0;
    };
    if (hs_scan(impl_.db, low.data(), static_cast<unsigned int>(low.size()), 0, tls.scratch,
                onMatch, &ctx) != HS_SUCCESS) {
      return;
    }
    if (ctx.hits.none()) {
      return;
    }
    for (size_t i = 0; i < impl_.rules.size(); ++i) {
      if (ctx.hits.test(i) && (impl_.rules[i]->scopes & scope) != 0) {
        add(impl_.rules[i]->cls, impl_.rules[i]->id, kind, name, shown);
        if (done()) {
          return;
        }
      }
    }
  }

  void runCodeDetectors(uint8_t scope, std::string_view kind, std::string_view name,
                        std::string_view low, std::string_view shown) {
    bool lt = false;
    bool meta = false;    // characters SQL/JS/shell injections need
    bool dollar = false;
    for (const char c : low) {
      switch (c) {
      case '<':
        lt = true;
        meta = true;
        break;
      case '$':
        dollar = true;
        meta = true;
        break;
      case '\'':
      case '"':
      case '(':
      case ')':
      case ';':
      case '|':
      case '&':
      case '`':
      case '=':
      case '#':
      case '\n':
      case ':':
      case '/':
      case '*':
      case '>':
      case ' ':
      case '+':
      case '-':
        meta = true;
        break;
      default:
        break;
      }
    }
    if (!meta) {
      return;
    }
    if (dollar) {
      if (const uint32_t r = internal::detectLog4j(low); r != 0) {
        add(AttackClass::Log4shell, r, kind, name, shown);
      }
    }
    if (scope == kFile) {
      if (lt) {
        if (const uint32_t r = internal::detectXss(low); r != 0) {
          add(AttackClass::Xss, r, kind, name, shown);
        }
      }
      return;
    }
    if (scope == kPath && low.find_first_of("'\"<>()|;&$`{}\\ *,") == std::string_view::npos) {
      return; // a plain path: the pattern rules were enough
    }
    if (scope == kAgent || scope == kPath) {
      // Free text with parentheses and semicolons: only the unambiguous detectors.
      if (const uint32_t r = internal::detectShell(low); r != 0 && r != 4002) {
        add(AttackClass::Rce, r, kind, name, shown);
      }
      if (lt || (scope == kPath && low.find_first_of(":\"'") != std::string_view::npos)) {
        if (const uint32_t r = internal::detectXss(low); r != 0) {
          add(AttackClass::Xss, r, kind, name, shown);
        }
      }
      if (scope == kPath) {
        if (const uint32_t r = internal::detectSqli(low); r != 0) {
          add(AttackClass::Sqli, r, kind, name, shown);
        }
      }
      return;
    }
    if (const uint32_t r = internal::detectSqli(low); r != 0) {
      add(AttackClass::Sqli, r, kind, name, shown);
    }
    if (const uint32_t r = internal::detectXss(low); r != 0) {
      add(AttackClass::Xss, r, kind, name, shown);
    }
    if (const uint32_t r = internal::detectShell(low); r != 0) {
      add(AttackClass::Rce, r, kind, name, shown);
    }
    if (scope != kHeader) {
      if (const uint32_t r = internal::detectLdap(low); r != 0) {
        add(AttackClass::Ldapi, r, kind, name, shown);
      }
    }
  }

  void path(std::string_view rawPath) {
    value(kPath, "path", {}, rawPath, false);
    // Climbing above the root after canonicalisation.
    if (rawPath.find('.') != std::string_view::npos || rawPath.find('%') != std::string_view::npos) {
      normalizeValue(rawPath, tls.dec, false, 4);
      if (canonicalPath(tls.dec, tls.canon) > 0) {
        add(AttackClass::PathTraversal, 3020, "path", {}, tls.dec);
      }
    }
  }

  void args(const ArgList& list, std::string_view kind, std::string_view nameKind, bool plus) {
    for (const auto& a : list.args()) {
      if (done()) {
        return;
      }
      if (a.kind == Arg::Kind::Name) {
        value(kName, nameKind, a.name, a.value, plus);
      } else if (a.kind == Arg::Kind::File) {
        value(kFile, kind, a.name, a.value, false);
      } else {
        value(kArg, kind, a.name, a.value, plus);
      }
    }
    if (list.overflow()) {
      v_.limitExceeded = true;
    }
  }

  void checkContentType(std::string_view ct) {
    // Parameters must be token=value; charset from a known list, once; boundary only for
    // multipart (920470, 920480, 920530, 921421).
    size_t charsets = 0;
    bool bad = false;
    const bool multipart = istartsWith(trim(ct), "multipart/");
    size_t pos = ct.find(';');
    while (pos != std::string_view::npos) {
      const size_t next = ct.find(';', pos + 1);
      const std::string_view param =
          trim(ct.substr(pos + 1, next == std::string_view::npos ? std::string_view::npos
                                                                 : next - pos - 1));
      pos = next;
      if (param.empty()) {
        continue;
      }
      const size_t eq = param.find('=');
      if (eq == std::string_view::npos) {
        bad = true;
        break;
      }
      const std::string_view key = trim(param.substr(0, eq));
      std::string_view val = param.substr(eq + 1);
      if (iequals(key, "charset")) {
        ++charsets;
        val = trim(val);
        if (val.size() >= 2 && (val.front() == '"' || val.front() == '\'') &&
            val.back() == val.front()) {
          val = val.substr(1, val.size() - 2);
        }
        const bool token = std::all_of(val.begin(), val.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == ':';
        });
        if (token && !allowedCharset(val)) {
          bad = true;
        }
      } else if (iequals(key, "boundary")) {
        if (!multipart || val.empty()) {
          bad = true;
        }
      }
    }
    if (bad || charsets > 1) {
      add(AttackClass::Protocol, 13003, "header", "Content-Type", ct);
    }
  }

  // Part headers of a multipart body: names are tokens, no control characters, no
  // Content-Transfer-Encoding, charsets from the list (922100, 922110, 922120, 922130).
  void multipartHeaders(std::string_view body, std::string_view boundary) {
    if (boundary.empty()) {
      return;
    }
    std::string delim = "--";
    delim.append(boundary);
    size_t pos = body.find(delim);
    while (pos != std::string_view::npos && !done()) {
      size_t line = body.find('\n', pos);
      while (line != std::string_view::npos) {
        const size_t eol = body.find('\n', line + 1);
        std::string_view l =
            body.substr(line + 1, eol == std::string_view::npos ? std::string_view::npos
                                                                : eol - line - 1);
        if (!l.empty() && l.back() == '\r') {
          l.remove_suffix(1);
        }
        if (l.empty()) {
          break;
        }
        const size_t colon = l.find(':');
        if (colon == std::string_view::npos) {
          break; // a part without headers: its content starts here
        }
        const std::string_view hname = l.substr(0, colon);
        bool bad = hname.empty();
        for (const char c : hname) {
          const bool tok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '_';
          bad |= !tok;
        }
        const std::string_view hvalue = colon == std::string_view::npos ? "" : l.substr(colon + 1);
        bad |= hasControl(hvalue);
        if (!bad && iequals(hname, "content-transfer-encoding")) {
          bad = true;
        }
        if (!bad && iequals(hname, "content-type")) {
          const std::string_view cs = contentTypeParam(hvalue, "charset");
          bad = !cs.empty() && !allowedCharset(cs);
        }
        if (bad) {
          add(AttackClass::Protocol, 13004, "body.multipart", "headers", l);
          return;
        }
        line = eol;
      }
      pos = body.find(delim, pos + delim.size());
    }
  }

  void body(std::string_view ct, std::string_view body) {
    if (body.empty()) {
      return;
    }
    const size_t depth = cfg_.maxDepth;
    ArgList& list = freshArgs();
    const std::string_view first = trim(body.substr(0, 64));
    const char c0 = first.empty() ? '\0' : first.front();
    if (icontains(ct, "x-www-form-urlencoded")) {
      parseUrlencoded(body, list);
      args(list, "body.form", "body.form-name", true);
      // A form field named _charset_ chooses the charset (922100).
      return;
    }
    if (istartsWith(trim(ct), "multipart/")) {
      const std::string_view boundary = contentTypeParam(ct, "boundary");
      multipartHeaders(body, boundary);
      const bool ok = parseMultipart(body, boundary, list, depth);
      for (const auto& a : list.args()) {
        if (a.kind == Arg::Kind::Value && iequals(a.name, "_charset_") &&
            !allowedCharset(trim(a.value))) {
          add(AttackClass::Protocol, 13004, "body.multipart", "_charset_", a.value);
        }
      }
      args(list, "body.multipart", "body.multipart-name", false);
      if (!ok && list.args().empty()) {
        value(kArg, "body", {}, body, false);
      }
      return;
    }
    if (icontains(ct, "json") || icontains(ct, "csp-report") ||
        ((c0 == '{' || c0 == '[') && !icontains(ct, "xml"))) {
      const bool ok = parseJson(body, list, depth);
      args(list, "body.json", "body.json-key", false);
      if (!ok && !list.overflow()) {
        value(kArg, "body", {}, body, false);
      }
      return;
    }
    if (icontains(ct, "xml") || c0 == '<') {
      const bool ok = parseXml(body, list, depth);
      args(list, "body.xml", "body.xml-name", false);
      if (!ok && !list.overflow()) {
        value(kArg, "body", {}, body, false);
      }
      return;
    }
    // text/plain, GraphQL, octet-stream, unknown: the text itself, and as a form if it is one.
    value(kArg, "body", {}, body, false);
    if (body.find('=') != std::string_view::npos && body.find('\n') == std::string_view::npos) {
      parseUrlencoded(body, list);
      args(list, "body.form", "body.form-name", true);
    }
  }

  void run(const RequestView& req) {
    // Request target: origin-form, absolute-form, or the odd ones (*, authority-form).
    std::string_view target = req.target;
    if (istartsWith(target, "http://") || istartsWith(target, "https://")) {
      const size_t slash = target.find('/', target.find("//") + 2);
      target = slash == std::string_view::npos ? std::string_view{"/"} : target.substr(slash);
    }
    const size_t hash = target.find('#');
    if (hash != std::string_view::npos) {
      target = target.substr(0, hash);
    }
    const size_t q = target.find('?');
    const std::string_view rawPath = target.substr(0, q);
    const std::string_view query =
        q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    path(rawPath);
    if (!query.empty() && !done()) {
      ArgList& list = freshArgs();
      parseUrlencoded(query, list);
      args(list, "query", "query-name", true);
    }
    std::string_view contentType;
    bool chunked = false;
    for (const auto& h : req.headers) {
      if (done()) {
        return;
      }
      if (iequals(h.name, "cookie")) {
        if (trim(h.value).starts_with("$Version") || trim(h.value).starts_with("$version")) {
          add(AttackClass::Protocol, 13009, "header", "Cookie", h.value); // RFC 2109 cookies
        }
        ArgList& list = freshArgs();
        parseCookies(h.value, list);
        args(list, "cookie", "cookie-name", false);
        continue;
      }
      if (iequals(h.name, "user-agent")) {
        value(kAgent, "header", h.name, h.value, false);
        continue;
      }
      if (iequals(h.name, "content-type")) {
        contentType = h.value;
        checkContentType(h.value);
        value(kHeader, "header", h.name, h.value, false);
        continue;
      }
      if (iequals(h.name, "transfer-encoding")) {
        chunked = true;
      }
      if (iequals(h.name, "accept-encoding") && h.value.size() > 200) {
        add(AttackClass::Protocol, 13007, "header", h.name, h.value);
      }
      if (structuredHeader(h.name)) {
        if (h.value.find_first_of("${%<'\"(`\\\r\n") != std::string_view::npos) {
          normalizeValue(h.value, tls.dec, false, 3);
          toLowerAscii(tls.dec, tls.low);
          matchPatterns(kHeader, "header", h.name, tls.low, tls.dec);
          if (tls.low.find("${") != std::string::npos) {
            if (const uint32_t r = internal::detectLog4j(tls.low); r != 0) {
              add(AttackClass::Log4shell, r, "header", h.name, tls.dec);
            }
          }
        }
        continue;
      }
      value(kHeader, "header", h.name, h.value, false);
    }
    if (done()) {
      return;
    }
    const bool bodyless = iequals(req.method, "GET") || iequals(req.method, "HEAD");
    if (bodyless && chunked) {
      add(AttackClass::Protocol, 13001, "body", {}, req.body);
    }
    std::string_view b = req.body;
    if (b.size() > cfg_.maxBodyBytes) {
      b = b.substr(0, cfg_.maxBodyBytes);
      v_.limitExceeded = true;
    }
    if (req.bodyTruncated) {
      v_.limitExceeded = true;
    }
    body(contentType, b);
  }

private:
  const Engine::Impl& impl_;
  const EngineConfig& cfg_;
  Verdict& v_;
  size_t values_ = 0;
};

} // namespace

Result<std::shared_ptr<const Engine>> Engine::create(const EngineConfig& config) {
  auto impl = std::make_unique<Impl>();
  const auto rules = internal::patternRules();
  if (rules.size() > 256) {
    return BW_INVALID("detect: too many pattern rules for the match bitmap");
  }
  std::vector<const char*> patterns;
  std::vector<unsigned int> flags;
  std::vector<unsigned int> ids;
  std::vector<std::string> storage;
  storage.reserve(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    storage.emplace_back(rules[i].pattern);
    patterns.push_back(storage.back().c_str());
    flags.push_back(HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL | HS_FLAG_ALLOWEMPTY);
    ids.push_back(static_cast<unsigned int>(i));
    impl->rules.push_back(&rules[i]);
  }
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(patterns.data(), flags.data(), ids.data(),
                       static_cast<unsigned int>(patterns.size()), HS_MODE_BLOCK, nullptr,
                       &impl->db, &err) != HS_SUCCESS) {
    std::string msg = "detect: rule ";
    if (err != nullptr) {
      if (err->expression >= 0 && static_cast<size_t>(err->expression) < rules.size()) {
        msg += std::to_string(rules[static_cast<size_t>(err->expression)].id);
      }
      msg += " does not compile: ";
      msg += err->message;
      hs_free_compile_error(err);
    }
    return BW_INVALID(msg);
  }
  impl->id = nextEngineId.fetch_add(1);
  // Check that a scratch can be allocated now rather than on the first request.
  hs_scratch_t* probe = nullptr;
  if (hs_alloc_scratch(impl->db, &probe) != HS_SUCCESS) {
    return BW_ERR(std::make_error_code(std::errc::not_enough_memory),
                  "detect: cannot allocate vectorscan scratch");
  }
  hs_free_scratch(probe);
  return std::shared_ptr<const Engine>(new Engine(config, std::move(impl)));
}

Engine::Engine(const EngineConfig& config, std::unique_ptr<Impl> impl)
    : config_(config), impl_(std::move(impl)) {}

Engine::~Engine() = default;

Verdict Engine::inspect(const RequestView& request) const {
  Verdict verdict;
  if (tls.preparedFor != impl_->id) {
    if (hs_alloc_scratch(impl_->db, &tls.scratch) != HS_SUCCESS) {
      // Without scratch nothing can be matched: treat as a limit so callers can fail closed.
      verdict.limitExceeded = true;
      verdict.blockForLimit = config_.onLimit == EngineConfig::OnLimit::Block;
      return verdict;
    }
    tls.preparedFor = impl_->id;
  }
  Inspection inspection(*impl_, config_, verdict);
  inspection.run(request);
  if (verdict.limitExceeded && config_.onLimit == EngineConfig::OnLimit::Block) {
    verdict.blockForLimit = true;
  }
  return verdict;
}

} // namespace bulwark::detect

#include "ruledb.h"

#include <algorithm>
#include <bitset>
#include <cstring>

#include <zlib.h>

#include "detectors.h"

// The AVX2 variant of hs_scan that a multi-architecture ("fat runtime") vectorscan exports next to
// the dispatching hs_scan; a weak reference, null with a single-architecture build.
extern "C" hs_error_t avx2_hs_scan(const hs_database_t* db, const char* data, unsigned int length,
                                   unsigned int flags, hs_scratch_t* scratch,
                                   match_event_handler onEvent, void* context)
    __attribute__((weak));

namespace bulwark::detect::internal {
namespace {

using ScanFn = hs_error_t (*)(const hs_database_t*, const char*, unsigned int, unsigned int,
                              hs_scratch_t*, match_event_handler, void*);

ScanFn chooseScan() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init(); // may run before the CPU model is initialised otherwise
  if (avx2_hs_scan != nullptr && __builtin_cpu_supports("avx2")) {
    return &avx2_hs_scan;
  }
#endif
  return &hs_scan;
}

const ScanFn kScan = chooseScan();

// No HS_FLAG_SINGLEMATCH: the engine only records which rules matched (a bitmap), so a rule
// reported twice costs one more bit set, while single-match bookkeeping makes the database
// larger and every scan slower (about a quarter on short values).
constexpr unsigned int kFlags = HS_FLAG_DOTALL | HS_FLAG_ALLOWEMPTY;

// FNV-1a, 64 bit.
void mix(uint64_t& h, std::string_view s) {
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  h ^= 0xff;
  h *= 0x100000001b3ULL;
}

using ByteSet = std::bitset<256>;

ByteSet bytesOf(std::string_view chars) {
  ByteSet s;
  for (const char c : chars) {
    s.set(static_cast<unsigned char>(c));
  }
  return s;
}

ByteSet byteRange(unsigned char lo, unsigned char hi) {
  ByteSet s;
  for (unsigned c = lo; c <= hi; ++c) {
    s.set(c);
  }
  return s;
}

const ByteSet kSpaceBytes = bytesOf(" \t\n\v\f\r"); // \s without UCP
const ByteSet kDigitBytes = byteRange('0', '9');
const ByteSet kWordBytes =
    byteRange('a', 'z') | byteRange('A', 'Z') | byteRange('0', '9') | bytesOf("_");

// A recursive-descent reading of the PCRE subset the rules use, answering one question: can the
// pattern match a string whose bytes all lie in `alphabet`? A sequence can when each of its items
// can (or may be repeated zero times); an alternation when one branch can; a class or literal
// when one of its bytes is in the alphabet; assertions (^ $ \b) and lookarounds are assumed to
// hold. Anything not modelled makes the answer "yes" (the safe side: the rule stays in the set).
class AlphabetReach {
public:
  AlphabetReach(std::string_view p, const ByteSet& alphabet) : p_(p), alphabet_(alphabet) {}

  bool run() {
    const bool can = alternation();
    return !ok_ || i_ != p_.size() || can;
  }

private:
  bool more() const { return ok_ && i_ < p_.size(); }

  bool alternation() {
    bool any = sequence();
    while (more() && p_[i_] == '|') {
      ++i_;
      const bool branch = sequence();
      any = any || branch;
    }
    return any;
  }

  bool sequence() {
    bool all = true;
    while (more() && p_[i_] != '|' && p_[i_] != ')') {
      const bool can = atom();
      if (quantifierMin() > 0 && !can) {
        all = false;
      }
    }
    return all;
  }

  bool within(const ByteSet& s) const { return (s & alphabet_).any(); }

  bool atom() {
    const char c = p_[i_++];
    switch (c) {
    case '(':
      return group();
    case '[':
      return within(charClass());
    case '\\': {
      bool assertion = false;
      const ByteSet s = escape(false, assertion);
      return assertion || within(s);
    }
    case '^':
    case '$':
      return true;
    case '.':
      return alphabet_.any(); // DOTALL
    case '*':
    case '+':
    case '?':
      ok_ = false; // a quantifier with nothing to repeat
      return true;
    default:
      return alphabet_.test(static_cast<unsigned char>(c));
    }
  }

  bool group() {
    bool lookaround = false;
    if (i_ < p_.size() && p_[i_] == '?') {
      if (i_ + 1 < p_.size() && p_[i_ + 1] == ':') {
        i_ += 2;
      } else if (i_ + 1 < p_.size() &&
                 (p_[i_ + 1] == '=' || p_[i_ + 1] == '!' || p_[i_ + 1] == '<')) {
        i_ += p_[i_ + 1] == '<' ? 3 : 2;
        lookaround = true; // consumes nothing: parsed, assumed to hold
      } else {
        ok_ = false; // inline options, atomic or named groups: not modelled
        return true;
      }
    }
    const bool can = alternation();
    if (!more() || p_[i_] != ')') {
      ok_ = false;
      return true;
    }
    ++i_;
    return lookaround || can;
  }

  // The bytes an escape matches (after the backslash); `assertion` for \b \B \A \z \Z outside
  // a class (in a class \b is a backspace).
  ByteSet escape(bool inClass, bool& assertion) {
    if (i_ >= p_.size()) {
      ok_ = false;
      return ~ByteSet{};
    }
    const char c = p_[i_++];
    switch (c) {
    case 's':
      return kSpaceBytes;
    case 'S':
      return ~kSpaceBytes;
    case 'd':
      return kDigitBytes;
    case 'D':
      return ~kDigitBytes;
    case 'w':
      return kWordBytes;
    case 'W':
      return ~kWordBytes;
    case 't':
      return bytesOf("\t");
    case 'n':
      return bytesOf("\n");
    case 'r':
      return bytesOf("\r");
    case 'f':
      return bytesOf("\f");
    case 'v': // vertical whitespace, as in PCRE: \n \v \f \r and NEL
      return byteRange(0x0a, 0x0d) | bytesOf("\x85");
    case 'b':
      if (inClass) {
        return bytesOf("\b");
      }
      assertion = true;
      return {};
    case 'B':
    case 'A':
    case 'z':
    case 'Z':
      if (!inClass) {
        assertion = true;
        return {};
      }
      break;
    case 'x': {
      if (i_ < p_.size() && p_[i_] == '{') {
        break; // \x{...}: not used by the rules
      }
      unsigned value = 0;
      for (int k = 0; k < 2 && i_ < p_.size(); ++k) {
        const int digit = hexValue(static_cast<unsigned char>(p_[i_]));
        if (digit < 0) {
          break;
        }
        value = value * 16 + static_cast<unsigned>(digit);
        ++i_;
      }
      ByteSet s;
      s.set(value & 0xFF);
      return s;
    }
    default:
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        break; // \p, \Q, \e, back references...: not modelled
      }
      return bytesOf(std::string_view(&c, 1)); // an escaped punctuation character
    }
    ok_ = false;
    return ~ByteSet{};
  }

  ByteSet classMember(bool& ok) {
    const char c = p_[i_++];
    if (c == '\\') {
      bool assertion = false;
      const ByteSet s = escape(true, assertion);
      ok = !assertion;
      return s;
    }
    if (c == '[' && i_ < p_.size() && p_[i_] == ':') {
      const size_t end = p_.find(":]", i_);
      if (end == std::string_view::npos) {
        ok = false;
        return {};
      }
      const std::string_view name = p_.substr(i_ + 1, end - i_ - 1);
      i_ = end + 2;
      if (name == "space") {
        return kSpaceBytes;
      }
      if (name == "digit") {
        return kDigitBytes;
      }
      if (name == "alpha") {
        return byteRange('a', 'z') | byteRange('A', 'Z');
      }
      if (name == "alnum") {
        return byteRange('a', 'z') | byteRange('A', 'Z') | kDigitBytes;
      }
      ok = false;
      return {};
    }
    return bytesOf(std::string_view(&c, 1));
  }

  ByteSet charClass() {
    bool negated = false;
    if (i_ < p_.size() && p_[i_] == '^') {
      negated = true;
      ++i_;
    }
    ByteSet set;
    bool first = true;
    while (more() && (p_[i_] != ']' || first)) {
      first = false;
      bool ok = true;
      const size_t start = i_;
      ByteSet member = classMember(ok);
      if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
        // A range between two single bytes.
        ++i_;
        bool okEnd = true;
        const ByteSet end = classMember(okEnd);
        if (member.count() != 1 || end.count() != 1 || p_[start] == '[') {
          ok = false;
        } else {
          unsigned lo = 0;
          unsigned hi = 0;
          while (!member.test(lo)) {
            ++lo;
          }
          while (!end.test(hi)) {
            ++hi;
          }
          ok = ok && okEnd && lo <= hi;
          member = ok ? byteRange(static_cast<unsigned char>(lo), static_cast<unsigned char>(hi))
                      : ByteSet{};
        }
      }
      if (!ok) {
        ok_ = false;
        return ~ByteSet{};
      }
      set |= member;
    }
    if (!more()) {
      ok_ = false;
      return ~ByteSet{};
    }
    ++i_; // ']'
    return negated ? ~set : set;
  }

  // Reads the quantifier after an atom, if any; returns its minimum (1 without one). A '{' that
  // does not start a valid quantifier is a literal, as in PCRE.
  int quantifierMin() {
    if (i_ >= p_.size()) {
      return 1;
    }
    int min = 1;
    const char c = p_[i_];
    if (c == '*' || c == '?') {
      min = 0;
      ++i_;
    } else if (c == '+') {
      ++i_;
    } else if (c == '{') {
      size_t k = i_ + 1;
      int n = 0;
      bool digits = false;
      while (k < p_.size() && p_[k] >= '0' && p_[k] <= '9') {
        n = std::min(n * 10 + (p_[k++] - '0'), 100000);
        digits = true;
      }
      bool valid = false;
      if (k < p_.size() && p_[k] == '}' && digits) {
        valid = true;
      } else if (k < p_.size() && p_[k] == ',') {
        ++k;
        bool upper = false;
        while (k < p_.size() && p_[k] >= '0' && p_[k] <= '9') {
          ++k;
          upper = true;
        }
        valid = k < p_.size() && p_[k] == '}' && (digits || upper);
      }
      if (!valid) {
        return 1;
      }
      min = digits ? n : 0;
      i_ = k + 1;
    } else {
      return 1;
    }
    if (i_ < p_.size() && (p_[i_] == '?' || p_[i_] == '+')) {
      ++i_; // lazy or possessive
    }
    return min;
  }

  std::string_view p_;
  const ByteSet& alphabet_;
  size_t i_ = 0;
  bool ok_ = true;
};

} // namespace

bool canMatchWithin(std::string_view pattern, const std::bitset<256>& alphabet) {
  return AlphabetReach(pattern, alphabet).run();
}

const std::bitset<256>& plainTokenBytes() {
  static const ByteSet bytes =
      byteRange('a', 'z') | byteRange('A', 'Z') | byteRange('0', '9') | bytesOf("-_,@");
  return bytes;
}

const std::bitset<256>& hexTokenBytes() {
  static const ByteSet bytes = byteRange('a', 'f') | byteRange('A', 'F') | byteRange('0', '9');
  return bytes;
}

std::vector<const PatternRule*> ruleSet(RuleSet set) {
  const std::bitset<256>* alphabet = set == RuleSet::PlainToken ? &plainTokenBytes()
                                     : set == RuleSet::PlainHex ? &hexTokenBytes()
                                                                : nullptr;
  std::vector<const PatternRule*> out;
  for (const auto& r : patternRules()) {
    const bool keep = set == RuleSet::Full ||
                      (r.reach == Reach::Plain &&
                       (alphabet == nullptr || canMatchWithin(r.pattern, *alphabet)));
    if (keep) {
      out.push_back(&r);
    }
  }
  return out;
}

uint64_t fingerprint(const std::vector<const PatternRule*>& rules) {
  uint64_t h = 0xcbf29ce484222325ULL;
  mix(h, hs_version());
  mix(h, std::to_string(kFlags));
  for (const PatternRule* r : rules) {
    mix(h, std::to_string(r->id));
    mix(h, std::to_string(r->scopes));
    mix(h, r->pattern);
  }
  return h;
}

Result<hs_database_t*> compileRuleSet(const std::vector<const PatternRule*>& rules,
                                      const hs_platform_info_t* platform) {
  std::vector<const char*> patterns;
  std::vector<unsigned int> flags;
  std::vector<unsigned int> ids;
  std::vector<std::string> storage;
  storage.reserve(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    storage.emplace_back(rules[i]->pattern);
    patterns.push_back(storage.back().c_str());
    flags.push_back(kFlags);
    ids.push_back(static_cast<unsigned int>(i));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(patterns.data(), flags.data(), ids.data(),
                       static_cast<unsigned int>(patterns.size()), HS_MODE_BLOCK, platform, &db,
                       &err) != HS_SUCCESS) {
    std::string msg = "detect: rule ";
    if (err != nullptr) {
      if (err->expression >= 0 && static_cast<size_t>(err->expression) < rules.size()) {
        msg += std::to_string(rules[static_cast<size_t>(err->expression)]->id);
      }
      msg += " does not compile: ";
      msg += err->message;
      hs_free_compile_error(err);
    }
    return BW_INVALID(msg);
  }
  return db;
}

Result<hs_database_t*> loadRuleSet(RuleSet set, const std::vector<const PatternRule*>& rules,
                                   std::string_view* source) {
  const Prebuilt p = prebuilt(set);
  std::string raw;
  if (p.size > 0 && p.rawSize > 0 && p.fingerprint == fingerprint(rules)) {
    raw.resize(p.rawSize);
    uLongf n = static_cast<uLongf>(raw.size());
    if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &n, p.data, static_cast<uLong>(p.size)) !=
            Z_OK ||
        n != raw.size()) {
      raw.clear();
    }
  }
  if (!raw.empty()) {
    hs_database_t* db = nullptr;
    // Copies the bytes into an aligned database; fails for another platform or version.
    if (hs_deserialize_database(raw.data(), raw.size(), &db) == HS_SUCCESS) {
      if (source != nullptr) {
        *source = "prebuilt";
      }
      return db;
    }
  }
  if (source != nullptr) {
    *source = "compiled";
  }
  return compileRuleSet(rules, nullptr);
}

hs_error_t scanBlock(const hs_database_t* db, const char* data, unsigned int length,
                     hs_scratch_t* scratch, match_event_handler onEvent, void* context) {
  return kScan(db, data, length, 0, scratch, onEvent, context);
}

std::string_view scanPath() { return kScan == &hs_scan ? "dispatched" : "avx2"; }

} // namespace bulwark::detect::internal

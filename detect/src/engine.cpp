#include "bulwark/detect/engine.h"

#include <hs/hs.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <bitset>
#include <cstring>
#include <ctime>
#include <string>
#include <system_error>
#include <utility>

#include "bulwark/detect/normalize.h"
#include "bulwark/detect/parts.h"
#include "detectors.h"
#include "ruledb.h"
#include "rules.h"
#include "score.h"
#include "body_decode.h"
#include "lang/ldap.h"
#include "lang/whole.h"
#include "rules_cve.h"
#include "transforms/transforms.h"

namespace bulwark::detect {

std::string_view className(AttackClass cls) {
  switch (cls) {
#define BW_X(name, label)                                                                          \
  case AttackClass::name:                                                                          \
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

// One vectorscan database and its rules (a match id is an index into `rules`).
struct RuleDb {
  hs_database_t* db = nullptr;
  std::vector<const PatternRule*> rules;

  RuleDb() = default;
  RuleDb(const RuleDb&) = delete;
  RuleDb& operator=(const RuleDb&) = delete;
  ~RuleDb() {
    if (db != nullptr) {
      hs_free_database(db);
    }
  }
};

struct Engine::Impl {
  // One database per rule set (ruledb.h, kRuleSets): every pattern rule; those that can match
  // letters/digits/spaces only; of those, the ones that can match a value without whitespace;
  // and the ones that can match hex digits only.
  std::array<RuleDb, std::size(internal::kRuleSets)> sets;
  uint64_t id = 0;

  const RuleDb& of(internal::RuleSet set) const { return sets[static_cast<size_t>(set)]; }
};
static_assert([] {
  for (size_t i = 0; i < std::size(internal::kRuleSets); ++i) {
    if (static_cast<size_t>(internal::kRuleSets[i].first) != i) {
      return false;
    }
  }
  return true;
}(), "kRuleSets lists the sets in enum order");

namespace {

std::atomic<uint64_t> nextEngineId{1};

// A query comparison every document meets: {"$gt": null}, {"$gte": ""}, {"$lt": ""}. A query
// language names bounds; this names none and returns everything (the CouchDB or MongoDB dump,
// the login that matches any account). The matched text, or empty.
std::string_view matchAllComparison(std::string_view doc) {
  for (size_t at = doc.find("\"$"); at != std::string_view::npos; at = doc.find("\"$", at + 2)) {
    size_t k = at + 2;
    if (k + 2 > doc.size() || !((doc[k] | 0x20) == 'g' || (doc[k] | 0x20) == 'l') ||
        (doc[k + 1] | 0x20) != 't') {
      continue;
    }
    k += 2;
    if (k < doc.size() && (doc[k] | 0x20) == 'e') {
      ++k;
    }
    if (k >= doc.size() || doc[k] != '"') {
      continue;
    }
    ++k;
    while (k < doc.size() && (doc[k] == ' ' || doc[k] == '\t' || doc[k] == '\r' || doc[k] == '\n')) {
      ++k;
    }
    if (k >= doc.size() || doc[k] != ':') {
      continue;
    }
    ++k;
    while (k < doc.size() && (doc[k] == ' ' || doc[k] == '\t' || doc[k] == '\r' || doc[k] == '\n')) {
      ++k;
    }
    if (doc.compare(k, 4, "null") == 0) {
      return doc.substr(at, k + 4 - at);
    }
    if (doc.compare(k, 2, "\"\"") == 0) {
      return doc.substr(at, k + 2 - at);
    }
  }
  return {};
}

// Per-thread vectorscan scratch, shared by every engine the thread uses (hs_alloc_scratch grows
// it to fit each database), plus reusable string buffers so inspection does not allocate for
// ordinary requests.
uint64_t cacheHash(std::string_view v, uint64_t seed) {
  uint64_t h = seed ^ (v.size() * 0x9E3779B97F4A7C15ull);
  size_t i = 0;
  for (; i + 8 <= v.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, v.data() + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  if (i < v.size()) {
    // The last 1..7 bytes as one word (the length is in the seed already).
    const size_t rest = v.size() - i;
    uint64_t w = 0;
    if (v.size() >= 8) {
      // The word that ends the value, shifted so that its last `rest` bytes are the low ones
      // (what a copy of those bytes into a zero word gives on a little-endian machine).
      std::memcpy(&w, v.data() + v.size() - 8, 8);
      w >>= 8 * (8 - rest);
    } else {
      for (size_t k = 0; k < rest; ++k) {
        w |= static_cast<uint64_t>(static_cast<unsigned char>(v[i + k])) << (8 * k);
      }
    }
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}

// Values already inspected and found clean (argument and cookie names, user agents, Accept and
// cookie values repeat a lot in real traffic). Entries keep the whole value, so a hit is an
// exact match, never a guess. Values of up to MaxLen bytes, two-way set associative with the
// least recently used way replaced: with one slot per key a pair of values that share it
// evicts each other on every request (a few hundred distinct values in 2,048 slots already
// make a dozen such pairs).
template <size_t Slots, size_t MaxLen>
class CleanCache {
public:
  static constexpr size_t kMax = MaxLen;

  bool contains(uint64_t engine, uint64_t key, std::string_view v) const {
    const size_t set = key % kSets;
    for (size_t way = 0; way < 2; ++way) {
      const Slot& s = slots_[set * 2 + way];
      if (s.key == key && s.engine == engine && s.len == v.size() &&
          std::memcmp(s.bytes, v.data(), v.size()) == 0) {
        mru_[set] = static_cast<uint8_t>(way);
        return true;
      }
    }
    return false;
  }

  void insert(uint64_t engine, uint64_t key, std::string_view v) {
    const size_t set = key % kSets;
    const size_t way = mru_[set] ^ 1U;
    Slot& s = slots_[set * 2 + way];
    mru_[set] = static_cast<uint8_t>(way);
    s.engine = engine;
    s.key = key;
    s.len = static_cast<uint32_t>(v.size());
    std::memcpy(s.bytes, v.data(), v.size());
  }

private:
  static constexpr size_t kSets = Slots / 2;
  static_assert(Slots % 2 == 0);
  struct Slot {
    uint64_t engine = 0;
    uint64_t key = 0;
    uint32_t len = 0;
    char bytes[MaxLen];
  };
  std::array<Slot, Slots> slots_{};
  mutable std::array<uint8_t, kSets> mru_{}; // the way last used in each set
};

// Short values (names, enumerations, numbers) and long ones (user agents, cookies, paths) in
// separate tables, so that neither evicts the other. A value enters a table the second time it
// is found clean: values that never repeat (session ids, nonces, timestamps) would otherwise
// evict the ones that do (a door-keeper remembers a tag of the values seen once).
class CleanCaches {
public:
  static constexpr size_t kMax = 160;

  bool contains(uint64_t engine, uint64_t key, std::string_view v) const {
    return v.size() <= Short::kMax ? short_.contains(engine, key, v)
                                   : long_.contains(engine, key, v);
  }

  void insert(uint64_t engine, uint64_t key, std::string_view v) {
    // The tag mixes in the engine: a reloaded engine starts with an empty door-keeper.
    const uint64_t tagged = key ^ (engine * 0x9E3779B97F4A7C15ULL);
    // Two tags per bucket, the newer first: two values that share a bucket are both admitted.
    uint32_t* seen = &seen_[((tagged >> 32) % (kSeen / 2)) * 2];
    const auto tag = static_cast<uint32_t>(tagged) | 1U;
    if (seen[0] != tag && seen[1] != tag) {
      seen[1] = seen[0];
      seen[0] = tag;
      return;
    }
    if (v.size() <= Short::kMax) {
      short_.insert(engine, key, v);
    } else {
      long_.insert(engine, key, v);
    }
  }

private:
  using Short = CleanCache<2048, 24>;
  static constexpr size_t kSeen = 8192;
  CleanCache<2048, 24> short_;
  CleanCache<512, kMax> long_;
  std::array<uint32_t, kSeen> seen_{};
};

struct ThreadState {
  hs_scratch_t* scratch = nullptr;
  uint64_t preparedFor = 0;
  CleanCaches clean;
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

// Byte classes for the one-pass screen of a value.
enum : uint8_t { kSpecial = 1, kDecode = 2, kDot = 4, kSpace = 8, kBadUtf8 = 16, kNotHex = 32 };
constexpr std::array<uint8_t, 256> makeClassTable() {
  std::array<uint8_t, 256> t{};
  for (size_t c = 0; c < 256; ++c) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c < 0x80 && c != '-' && c != '_' && c != ',' && c != '@' && c != ' ') {
      t[c] |= kSpecial;
    }
    if (c >= 0x80 || c < 0x20 || c == '%' || c == '&' || c == '\\' || c == '+') {
      t[c] |= kDecode;
    }
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) {
      t[c] |= kNotHex;
    }
  }
  for (size_t c : {0xC0, 0xC1, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF}) {
    t[c] |= kBadUtf8; // bytes that never occur in UTF-8: overlong or junk encodings
  }
  t['.'] |= kDot | kSpecial;
  t[' '] |= kSpace;
  t[0xA0] |= kSpace; // a lone NBSP byte (Latin-1): SQL and shells may read it as a space
  return t;
}
constexpr auto kClass = makeClassTable();

uint8_t classify(std::string_view s) {
  uint8_t f = 0;
  for (const char c : s) {
    f |= kClass[static_cast<unsigned char>(c)];
  }
  return f;
}

// A compressed request body inflates to at most this many times its size (and maxBodyBytes).
constexpr size_t kMaxInflateRatio = 200;
// Binary data: the shortest run of text inside it that is inspected, and a bound on the runs.
// Random bytes hold a run of 8 text characters about once in 3 KiB, of 16 about once in 4 MiB;
// about 1 % of random printable strings of 8 to 16 characters satisfy some detector by chance.
constexpr size_t kMinTextRun = 16;
constexpr size_t kMaxTextRuns = 1 << 16;

// Characters worth a closer look in structured headers (Accept, Host, ...).
constexpr std::string_view kHeaderTriggerChars = "${%<'\"(`\\\r\n";
constexpr auto kHeaderTrigger = [] {
  std::array<bool, 256> t{};
  for (const char c : kHeaderTriggerChars) {
    t[static_cast<unsigned char>(c)] = true;
  }
  return t;
}();

#if defined(__SSE2__)
// Whether any of the 16 bytes at p is a trigger character (kHeaderTriggerChars).
bool triggerIn16(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const auto eq = [&](size_t k) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(kHeaderTriggerChars[k])); };
  const __m128i a = _mm_or_si128(_mm_or_si128(eq(0), eq(1)), _mm_or_si128(eq(2), eq(3)));
  const __m128i b = _mm_or_si128(_mm_or_si128(eq(4), eq(5)), _mm_or_si128(eq(6), eq(7)));
  const __m128i c = _mm_or_si128(_mm_or_si128(eq(8), eq(9)), eq(10));
  return _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), c)) != 0;
}
static_assert(kHeaderTriggerChars.size() == 11, "triggerIn16 compares every trigger character");
#endif

bool hasHeaderTrigger(std::string_view s) {
  size_t i = 0;
#if defined(__SSE2__)
  // 16 bytes at a time, the last 16 overlapping what was already looked at.
  for (; i + 16 <= s.size(); i += 16) {
    if (triggerIn16(s.data() + i)) {
      return true;
    }
  }
  if (i < s.size() && s.size() >= 16) {
    return triggerIn16(s.data() + s.size() - 16);
  }
#endif
  for (; i < s.size(); ++i) {
    if (kHeaderTrigger[static_cast<unsigned char>(s[i])]) {
      return true;
    }
  }
  return false;
}

constexpr std::array<bool, 256> makePathTriggers() {
  std::array<bool, 256> t{};
  for (const char c : std::string_view("'\"<>()|;&$`{}\\ *,")) {
    t[static_cast<unsigned char>(c)] = true;
  }
  return t;
}
constexpr auto kPathTrigger = makePathTriggers();

bool anyOf(std::string_view s, const std::array<bool, 256>& table) {
  for (const char c : s) {
    if (table[static_cast<unsigned char>(c)]) {
      return true;
    }
  }
  return false;
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

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// How a header is inspected. Structured headers (Accept, Host, ...) rarely carry attacks: they get
// the pattern rules only, and only when they contain a character worth a look.
enum class HeaderKind : uint8_t {
  Other,
  Cookie,
  UserAgent,
  ContentType,
  TransferEncoding,
  AcceptEncoding,
  Structured,
  Filename
};

struct HeaderName {
  std::string_view name; // lower case, sorted
  HeaderKind kind;
};

constexpr std::array kHeaderNames = std::to_array<HeaderName>({
    {"accept", HeaderKind::Structured},
    {"accept-charset", HeaderKind::Structured},
    {"accept-encoding", HeaderKind::AcceptEncoding},
    {"accept-language", HeaderKind::Structured},
    {"access-control-request-headers", HeaderKind::Structured},
    {"access-control-request-method", HeaderKind::Structured},
    {"authorization", HeaderKind::Structured},
    {"cache-control", HeaderKind::Structured},
    {"connection", HeaderKind::Structured},
    {"content-encoding", HeaderKind::Structured},
    {"content-length", HeaderKind::Structured},
    {"content-type", HeaderKind::ContentType},
    {"cookie", HeaderKind::Cookie},
    {"dnt", HeaderKind::Structured},
    {"expect", HeaderKind::Structured},
    {"host", HeaderKind::Structured},
    {"if-modified-since", HeaderKind::Structured},
    {"if-none-match", HeaderKind::Structured},
    {"keep-alive", HeaderKind::Structured},
    {"pragma", HeaderKind::Structured},
    {"priority", HeaderKind::Structured},
    {"proxy-connection", HeaderKind::Structured},
    {"stripe-signature", HeaderKind::Structured},
    {"te", HeaderKind::Structured},
    {"transfer-encoding", HeaderKind::TransferEncoding},
    {"upgrade-insecure-requests", HeaderKind::Structured},
    {"user-agent", HeaderKind::UserAgent},
    {"x-hub-signature", HeaderKind::Structured},
    {"x-hub-signature-256", HeaderKind::Structured},
    {"x-slack-signature", HeaderKind::Structured},
});

constexpr size_t kMaxHeaderName = 40;

// The known names in an open-addressed table keyed by a hash of their length, first and last
// letter (lower case): a lookup usually compares one name.
constexpr size_t kHeaderSlotCount = 128;
static_assert(kHeaderNames.size() < kHeaderSlotCount / 2);
constexpr size_t headerSlot(size_t len, char first, char last) {
  return (len * 7 + static_cast<unsigned char>(first) * 3 + static_cast<unsigned char>(last)) %
         kHeaderSlotCount;
}
constexpr auto kHeaderSlots = [] {
  std::array<uint8_t, kHeaderSlotCount> t{};
  t.fill(0xFF);
  for (size_t i = 0; i < kHeaderNames.size(); ++i) {
    const std::string_view n = kHeaderNames[i].name;
    size_t k = headerSlot(n.size(), n.front(), n.back());
    while (t[k] != 0xFF) {
      k = (k + 1) % kHeaderSlotCount;
    }
    t[k] = static_cast<uint8_t>(i);
  }
  return t;
}();

HeaderKind headerKind(std::string_view name) {
  if (name.size() > kMaxHeaderName || name.empty()) {
    return HeaderKind::Other;
  }
  // Lower case, eight bytes at a time (the last word overlaps the one before it): a byte in
  // 'A'..'Z' gets 0x20.
  char buf[kMaxHeaderName];
  const auto lower8 = [&](size_t i) {
    uint64_t w;
    std::memcpy(&w, name.data() + i, 8);
    constexpr uint64_t kOnes = 0x0101010101010101ULL;
    const uint64_t low7 = w & (0x7F * kOnes);
    const uint64_t atLeastA = low7 + (0x80 - 'A') * kOnes; // high bit: byte >= 'A'
    const uint64_t pastZ = low7 + (0x80 - 'Z' - 1) * kOnes; // high bit: byte > 'Z'
    const uint64_t upper = atLeastA & ~pastZ & ~w & (0x80 * kOnes);
    w |= upper >> 2;
    std::memcpy(buf + i, &w, 8);
  };
  if (name.size() >= 8) {
    for (size_t i = 0; i + 8 <= name.size(); i += 8) {
      lower8(i);
    }
    if (name.size() % 8 != 0) {
      lower8(name.size() - 8);
    }
  } else {
    for (size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
    }
  }
  const std::string_view low(buf, name.size());
  if (low.starts_with("sec-")) {
    return HeaderKind::Structured;
  }
  // The known names first (none of them names a file).
  for (size_t k = headerSlot(low.size(), low.front(), low.back()); kHeaderSlots[k] != 0xFF;
       k = (k + 1) % kHeaderSlotCount) {
    if (kHeaderNames[kHeaderSlots[k]].name == low) {
      return kHeaderNames[kHeaderSlots[k]].kind;
    }
  }
  // "filename", "file-name", "file_name": X-Filename, X-File-Name: upload names.
  for (size_t i = low.find('f'); i != std::string_view::npos && i + 8 <= low.size();
       i = low.find('f', i + 1)) {
    if (low[i + 1] == 'i' && low[i + 2] == 'l' && low[i + 3] == 'e') {
      const std::string_view rest = low.substr(i + 4);
      if (rest.starts_with("name") || rest.starts_with("-name") || rest.starts_with("_name")) {
        return HeaderKind::Filename;
      }
    }
  }
  return HeaderKind::Other;
}

// The text between '&' and ';' of a character reference: a name (&amp;) or a number (&#233;,
// &#x1F600;, what browsers write for a file name outside the form's charset).
bool characterReference(std::string_view ref) {
  auto all = [](std::string_view s, auto pred) {
    return !s.empty() && std::all_of(s.begin(), s.end(), pred);
  };
  const auto letter = [](char r) { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'); };
  const auto digit = [](char r) { return r >= '0' && r <= '9'; };
  const auto hex = [](char r) {
    return (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') || (r >= 'A' && r <= 'F');
  };
  if (ref.starts_with("#x") || ref.starts_with("#X")) {
    return all(ref.substr(2), hex);
  }
  if (ref.starts_with("#")) {
    return all(ref.substr(1), digit);
  }
  return all(ref, letter);
}

// A charset parameter on Accept naming anything but the common web charsets: a
// charset-confusion probe (UTF-7/16/32, EBCDIC) (920600).
bool badAcceptCharset(std::string_view accept) {
  for (size_t k = accept.find("charset="); k != std::string_view::npos;
       k = accept.find("charset=", k + 8)) {
    std::string_view v = accept.substr(k + 8);
    v = v.substr(0, v.find_first_of(",; "));
    if (v.size() >= 2 && v.front() == '"') {
      v = v.substr(1, v.find('"', 1) == std::string_view::npos ? v.size() - 1 : v.find('"', 1) - 1);
    }
    bool ok = false;
    for (const std::string_view c : {"utf-8", "iso-8859-1", "iso-8859-15", "windows-1252"}) {
      ok |= iequals(v, c);
    }
    if (!ok) {
      return true;
    }
  }
  return false;
}

// An Accept charset of an EBCDIC code page or UTF-7 (cp1026, ibm037, cp500, utf-7): asks the
// application to re-encode its response into bytes that output filters and the browser read
// differently (an XSS that passes an ASCII filter). No browser or API client sends one.
bool evasiveAcceptCharset(std::string_view accept) {
  for (size_t k = accept.find("charset="); k != std::string_view::npos;
       k = accept.find("charset=", k + 8)) {
    std::string_view v = accept.substr(k + 8);
    while (!v.empty() && (v.front() == '"' || v.front() == ' ')) {
      v.remove_prefix(1);
    }
    std::string cs;
    toLowerAscii(v.substr(0, v.find_first_of(",;\" ")), cs);
    for (const std::string_view e : {"cp037", "cp1026", "cp500", "cp875", "cp1140", "cp1047",
                                     "ibm037", "ibm1026", "ibm500", "ibm1047", "ebcdic",
                                     "utf-7", "utf7", "x-ebcdic"}) {
      if (cs == e || (e == "ebcdic" && cs.find("ebcdic") != std::string::npos)) {
        return true;
      }
    }
  }
  return false;
}

bool allowedCharset(std::string_view cs) {
  static constexpr std::array<std::string_view, 22> kCharsets{{
      "utf-8",    "utf8",         "iso-8859-1", "iso-8859-15",  "latin1",   "windows-1252",
      "us-ascii", "ascii",        "utf-16",     "utf-16le",     "utf-16be", "shift_jis",
      "euc-jp",   "euc-kr",       "gb2312",     "gbk",          "gb18030",  "big5",
      "koi8-r",   "windows-1251", "iso-8859-2", "windows-1250",
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

  bool done() const {
    return (cfg_.stopAtFirst && v_.score >= v_.threshold) || v_.budgetExceeded;
  }

  // The CPU time budget (EngineConfig::timeBudget): every value charges its bytes; the thread's
  // CPU clock is read once per kBudgetStride bytes, first to start the budget (the first stride
  // is free: small requests never read the clock), then to check it.
  void charge(size_t bytes) {
    if (cfg_.timeBudget.count() <= 0) {
      return;
    }
    charged_ += bytes + kValueCharge;
    if (charged_ < kBudgetStride) {
      return;
    }
    charged_ = 0;
    const int64_t now = threadCpuNs();
    if (deadlineNs_ == 0) {
      deadlineNs_ = now + static_cast<int64_t>(cfg_.timeBudget.count()) * 1000;
    } else if (now >= deadlineNs_) {
      v_.budgetExceeded = true;
      v_.limitExceeded = true;
    }
  }

  static int64_t threadCpuNs() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }

  // The part kind of a finding from the inspection's kind label, the argument/header name and
  // the scope the value was inspected in.
  PartKind partKindOf(std::string_view kind, std::string_view name) const {
    const std::string_view base = kind.substr(0, kind.find('.', kind.starts_with("body.") ? 5 : 0));
    if (scope_ == kFile) {
      return PartKind::FileContent;
    }
    if (scope_ == kFilename || name == "filename") {
      return PartKind::Filename;
    }
    if (kind.ends_with(".json")) {
      return PartKind::JsonString; // a JSON document carried in a query or form value
    }
    if (kind.ends_with(".json-key")) {
      return PartKind::JsonKey;
    }
    if (base == "path") {
      return kind == "path" ? PartKind::Path : PartKind::PathSegment;
    }
    if (base == "query") {
      return PartKind::QueryValue;
    }
    if (base == "query-name") {
      return PartKind::QueryName;
    }
    if (base == "fragment") {
      return PartKind::QueryValue; // what a raw-URL handler reads after '#'
    }
    if (base == "cookie") {
      return PartKind::CookieValue;
    }
    if (base == "cookie-name") {
      return PartKind::CookieName;
    }
    if (base == "body.form") {
      return PartKind::FormValue;
    }
    if (base == "body.form-name") {
      return PartKind::FormName;
    }
    if (base == "body.json") {
      return PartKind::JsonString;
    }
    if (base == "body.json-key") {
      return PartKind::JsonKey;
    }
    if (base == "body.xml") {
      return name == "!doctype" ? PartKind::XmlDoctype : PartKind::XmlText;
    }
    if (base == "body.xml-name") {
      return PartKind::XmlName;
    }
    if (base == "body.multipart") {
      return name == "headers" ? PartKind::MultipartHeaders : PartKind::MultipartValue;
    }
    if (base == "body.multipart-name") {
      return PartKind::MultipartName;
    }
    if (base == "header") {
      // A User-Agent outside the product/comment grammar, inspected as a parameter, is a
      // free-form header value.
      if (scope_ == kAgent || (iequals(name, "user-agent") && scope_ != kArg)) {
        return PartKind::UserAgent;
      }
      if (iequals(name, "referer") || iequals(name, "origin")) {
        return PartKind::RefererOrigin;
      }
      const HeaderKind hk = headerKind(name);
      if (hk == HeaderKind::ContentType) {
        return PartKind::ContentType;
      }
      if (hk == HeaderKind::Structured || hk == HeaderKind::AcceptEncoding ||
          hk == HeaderKind::TransferEncoding || hk == HeaderKind::Cookie) {
        return PartKind::StructuredHeader;
      }
      return PartKind::Header;
    }
    return PartKind::BodyText;
  }

  void add(AttackClass cls, uint32_t id, std::string_view kind, std::string_view name,
           std::string_view value) {
    ++hits_; // a hit, counted or not, keeps the value out of the clean cache
    const PartKind pk = partKindOf(kind, name);
    const internal::Grade g = internal::gradeFinding(cls, id, pk, name, value);
    if (g.paranoia == 0 || g.paranoia > v_.paranoiaLevel) {
      return;
    }
    for (auto& f : v_.findings) {
      if (f.ruleId == id && f.part.size() == kind.size() + (name.empty() ? 0 : name.size() + 1) &&
          f.part.starts_with(kind) && (name.empty() || f.part.ends_with(name))) {
        return;
      }
    }
    Finding f;
    f.cls = cls;
    f.ruleId = id;
    f.kind = pk;
    f.confidence = g.confidence;
    f.paranoia = g.paranoia;
    f.part.reserve(kind.size() + name.size() + 1);
    f.part.append(kind);
    if (!name.empty()) {
      f.part.push_back(':');
      f.part.append(name.substr(0, 64));
    }
    f.value.assign(value.substr(0, 128));
    f.chain = chain_.str();
    v_.findings.push_back(std::move(f));
    // Score: per class, the strongest finding's weight; summed over classes.
    const int w = confidenceWeight(g.confidence);
    int& best = classWeight_[static_cast<size_t>(cls)];
    if (w > best) {
      v_.score += w - best;
      best = w;
    }
  }

  // Percent-decoding rounds in a chain. A control character that only a third round yields
  // ("%250%2564" -> "%0%64" -> "%0d" -> CR) is no byte the application reads: it decodes a
  // value once, a proxy in front of it at most once more.
  static size_t urlRounds(const transforms::Chain& c) {
    size_t n = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      n += c[i] == transforms::Id::Url ? 1 : 0;
    }
    return n;
  }

  // A name that says its value is a shell command: "cmd", "command", "exec", "shell",
  // "sysCmd", "nmap_cmd", "captureCommand" (the last segment of a JSON path or bracket name).
  static bool commandParameter(std::string_view name) {
    while (!name.empty() && (name.back() == ']' || name.back() == '[' || name.back() == '.')) {
      name.remove_suffix(1);
    }
    // (every name below ends in one of these letters: most names are out after one test)
    if (name.size() < 3 || name.size() > 48) {
      return false;
    }
    const char last = static_cast<char>(name.back() | 0x20);
    if (last != 'd' && last != 'e' && last != 's' && last != 'c' && last != 'l' && last != 'i') {
      return false;
    }
    if (const size_t k = name.find_last_of(".[]"); k != std::string_view::npos) {
      name.remove_prefix(k + 1);
    }
    if (name.size() < 3 || name.size() > 32) {
      return false;
    }
    char buf[32];
    size_t n = 0;
    for (const char c : name) {
      if (c != '_' && c != '-') {
        buf[n++] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      }
    }
    const std::string_view low(buf, n);
    static constexpr std::array<std::string_view, 13> kNames = {
        "cmd",   "command", "commands", "cmdline", "commandline", "exec", "execute",
        "shell", "shellcmd", "syscmd",  "oscmd",   "runcmd",      "cli"};
    for (const std::string_view w : kNames) {
      if (low == w) {
        return true;
      }
    }
    return low.size() > 4 && (low.ends_with("cmd") || low.ends_with("command"));
  }

  // Rule 4052: the value of such a parameter, decoded, is a command line.
  void commandValue(std::string_view kind, std::string_view name, std::string_view raw,
                    bool plusAsSpace) {
    std::string dec;
    transforms::Budget budget;
    budget.rounds = 2;
    chain_ = outer_;
    transforms::decode(raw, dec, plusAsSpace, budget, &chain_);
    std::string low;
    toLowerAscii(dec, low);
    if (internal::commandLine(low)) {
      add(AttackClass::Rce, 4052, kind, name, dec);
    }
  }

  // Runs every detector that applies to a value. raw is as received (possibly encoded).
  void value(uint8_t scope, std::string_view kind, std::string_view name, std::string_view raw,
             bool plusAsSpace, int depth = 0) {
    if (raw.empty() || done()) {
      return;
    }
    if (++values_ > cfg_.maxArgs) {
      // Past the limit: reported, and still scanned with the pattern rules (no blind tail).
      v_.limitExceeded = true;
      prefilterOnly(scope, kind, name, raw, plusAsSpace);
      return;
    }
    // A parameter named for a command (cmd=, command=, sysCmd=): a command line there runs.
    // (Judged from the name before the clean cache, which keys values without their names.)
    if (scope == kArg && depth == 0 && raw.size() <= 4096 &&
        (kind.starts_with("query") || kind.starts_with("body")) && commandParameter(name)) {
      commandValue(kind, name, raw, plusAsSpace);
    }
    uint64_t cacheKey = 0;
    const bool cacheable = depth == 0 && raw.size() <= CleanCaches::kMax;
    if (cacheable) {
      // A bare token (name == value) is also split at a decoded '=' (inspectValue): it is not
      // the same inspection as the same text as a value.
      const uint64_t bare = scope == kArg && raw == name ? 1ULL << 48 : 0;
      cacheKey = cacheHash(raw, (static_cast<uint64_t>(scope) << 56) ^ bare ^
                                    cacheHash(kind, plusAsSpace ? 1 : 2));
      if (tls.clean.contains(impl_.id, cacheKey, raw)) {
        return;
      }
    }
    const size_t before = hits_;
    inspectValue(scope, kind, name, raw, plusAsSpace, depth);
    // Clean only when no detector fired (a finding may have been merged into an earlier one of
    // the same part) and no limit cut the inspection short (the base64 text of the value).
    if (cacheable && hits_ == before && values_ <= cfg_.maxArgs) {
      tls.clean.insert(impl_.id, cacheKey, raw);
    }
  }

  void inspectValue(uint8_t scope, std::string_view kind, std::string_view name,
                    std::string_view raw, bool plusAsSpace, int depth) {
    charge(raw.size());
    if (v_.budgetExceeded) {
      return;
    }
    const ScopeGuard guard(scope_, scope);
    const uint8_t cls = classify(raw);
    chain_ = outer_;
    if (scope != kPath && scope != kAgent && (cls & (kSpecial | kDecode)) == 0) {
      toLowerAscii(raw, tls.low);
      plainValue(scope, kind, name, tls.low, raw, cls);
      // Unpadded base64 is letters and digits only: decode it when it is text.
      if (depth == 0 && (scope == kArg || scope == kHeader) && raw.size() >= 6 &&
          (cls & kSpace) == 0) {
        base64View(scope, kind, name, raw, depth);
      }
      return;
    }
    std::string& dec = tls.dec;
    std::string& low = tls.low;
    const bool needDecode = (cls & kDecode) != 0;
    chain_ = outer_;
    if (needDecode) {
      transforms::Budget budget;
      budget.rounds = std::min<size_t>(cfg_.maxDepth, 6);
      transforms::decode(raw, dec, plusAsSpace, budget, &chain_);
      toLowerAscii(dec, low);
    } else {
      dec.assign(raw);
      toLowerAscii(raw, low);
    }
    const std::string_view shown = dec;
    if (needDecode && scope != kPath && scope != kAgent &&
        raw.find("%00") == std::string_view::npos) {
      // Decoding left only letters, digits, spaces (and non-ASCII text): "Vino+Rioja",
      // "Jam%F3n": the plain checks are enough.
      const uint8_t after = classify(low);
      if ((after & (kSpecial | kBadUtf8)) == 0) {
        plainValue(scope, kind, name, low, shown, after);
        return;
      }
    }
    // Control characters left after decoding in names/values of the query (920270/920271);
    // not in a base64 view, whose bytes are the decoded data (protobuf, binary state).
    if (needDecode &&
        (kind.starts_with("query") || kind.starts_with("cookie") || kind == "header")) {
      if (raw.find("%00") != std::string_view::npos) {
        add(AttackClass::Protocol, 13002, kind, name, shown); // NUL byte (920270)
      } else if (kind != "header" && !kind.ends_with(".base64") && urlRounds(chain_) < 3 &&
                 hasControl(dec)) {
        add(AttackClass::Protocol, 13012, kind, name, shown); // other C0 controls (920271)
      }
    }
    // A name or bare token whose decoded text holds '=': the separator was encoded once more
    // than the application decodes ("pay%3D%3Bdrop"); the part after it is a value (inspected
    // last: the recursion reuses this thread's buffers).
    std::string rhs;
    if (needDecode && (scope == kName || (scope == kArg && raw == name)) && depth == 0 &&
        raw.find('=') == std::string_view::npos) {
      if (const size_t eq = dec.find('='); eq != std::string::npos && eq + 1 < dec.size()) {
        rhs = dec.substr(eq + 1);
      }
    }
    if (needDecode && (kind.starts_with("query") || kind.starts_with("body.form"))) {
      // "\u0061lert": a JavaScript escape of plain ASCII in a form value (920540).
      for (size_t k = raw.find("u00"); k != std::string_view::npos; k = raw.find("u00", k + 1)) {
        const bool escaped = (k >= 1 && raw[k - 1] == '\\') ||
                             (k >= 3 && raw.substr(k - 3, 3) == "%5C") ||
                             (k >= 3 && raw.substr(k - 3, 3) == "%5c");
        if (escaped && k + 4 < raw.size() + 1 && k + 3 < raw.size() && raw[k + 2] >= '2' &&
            raw[k + 2] <= '7') {
          add(AttackClass::Protocol, 13010, kind, name, shown);
          break;
        }
      }
    }
    matchPatterns(scope, kind, name, low, shown);
    if (done()) {
      return;
    }
    // JavaScript/SQL comments splitting keywords: document/*x*/.cookie, sel/**/ect.
    if (low.find("/*") != std::string::npos && stripComments(low, tls.canon)) {
      matchPatterns(scope, kind, name, tls.canon, shown);
    }
    // "0x2f" / "0x5c" / "0x2e" spelled out as separators and dots (dotdotpwn style).
    if (low.find("0x") != std::string::npos && foldHexLiterals(low, tls.canon)) {
      matchPatterns(scope, kind, name, tls.canon, shown);
    }
    runCodeDetectors(scope, kind, name, low, shown);
    // Base64 that decodes to text: inspect the text too (once).
    if (depth == 0 && (scope == kArg || scope == kHeader) && dec.size() >= 6) {
      base64View(scope, kind, name, dec, depth);
    }
    if (!rhs.empty() && !done()) {
      std::string k(kind);
      k.append(".value");
      value(kArg, k, name, rhs, false, depth + 1);
    }
  }

  // Values past maxArgs: the byte-class screen picks the ones that hold syntax characters or
  // escapes; the first maxArgs of those get the detectors (no second base64 view), the rest
  // the pattern rules only (the work stays bounded by twice the limit); plain words are skipped.
  void prefilterOnly(uint8_t scope, std::string_view kind, std::string_view name,
                     std::string_view raw, bool plusAsSpace) {
    if ((classify(raw) & (kSpecial | kDecode)) == 0) {
      return;
    }
    if (++pastLimit_ <= cfg_.maxArgs) {
      inspectValue(scope, kind, name, raw, plusAsSpace, 1);
      return;
    }
    charge(raw.size());
    if (v_.budgetExceeded) {
      return;
    }
    chain_ = outer_;
    transforms::decode(raw, tls.dec, plusAsSpace, transforms::Budget{}, &chain_);
    toLowerAscii(tls.dec, tls.low);
    matchPatterns(scope, kind, name, tls.low, tls.dec);
  }

  // Base64 (padded or not, either alphabet) that decodes to text: the text is inspected too,
  // with the decoding chain so far plus the base64 step.
  void base64View(uint8_t scope, std::string_view kind, std::string_view name,
                  std::string_view text, int depth) {
    transforms::Id id{};
    if (!transforms::base64View(text, tls.b64, id)) {
      // A file manager's hash: a volume prefix and the path in base64 (elFinder's
      // "l1_Li4vLi4vZXRjL3Bhc3N3ZA", "l1_" + base64 of "../../etc/passwd").
      const size_t us = text.find('_');
      if (us == std::string_view::npos || us == 0 || us > 6 || text.size() - us < 9 ||
          !std::all_of(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(us),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }) ||
          !transforms::base64View(text.substr(us + 1), tls.b64, id)) {
        return;
      }
    }
    const std::string decoded = tls.b64;
    std::string k(kind);
    k.append(".base64");
    const transforms::Chain saved = outer_;
    outer_ = chain_;
    outer_.push(id);
    value(scope, k, name, decoded, false, depth + 1);
    outer_ = saved;
    chain_ = saved;
  }

  // A value of letters, digits, spaces, '-_,@' and non-ASCII text: nothing to decode, no
  // operator or separator. Only keyword rules (rO0AB, gadget class names, "0x2e0x2e0x2f") and
  // SQL made of words ("1 union select 2") can fire.
  void plainValue(uint8_t scope, std::string_view kind, std::string_view name, std::string_view low,
                  std::string_view shown, uint8_t cls) {
    if (low.size() >= 3) { // the shortest plain rule literal ("xor")
      // A token (letters, digits, "-_,@": no whitespace, control or non-ASCII byte, which are
      // kSpace or kDecode) gets only the plain rules that can match one; hex digits only (a
      // number, a hash, a session id) the ones that can match those.
      const bool token = (cls & (kSpace | kDecode)) == 0;
      const RuleDb& set = impl_.of(!token                  ? RuleSet::Plain
                                   : (cls & kNotHex) != 0 ? RuleSet::PlainToken
                                                          : RuleSet::PlainHex);
      matchPatterns(scope, kind, name, low, shown, set);
      if (low.find("0x") != std::string_view::npos && foldHexLiterals(low, tls.canon)) {
        matchPatterns(scope, kind, name, tls.canon, shown);
      }
    }
    if ((cls & kSpace) != 0 && low.size() >= 4) {
      if (const uint32_t r = lang::scanWhole(low, internal::detectSqli); r != 0) {
        add(AttackClass::Sqli, r, kind, name, shown);
      }
      if (const uint32_t r = lang::scanWhole(low, internal::detectShell); r != 0) {
        add(AttackClass::Rce, r, kind, name, shown);
      }
    }
  }

  // Data that may be binary: a raw body inspected as text, an uploaded file. Text gets every
  // detector of its scope; binary data gets the text inside it.
  void dataValue(uint8_t scope, std::string_view kind, std::string_view name,
                 std::string_view data) {
    if (!classifyBody(data).binary) {
      value(scope, kind, name, data, false);
      return;
    }
    binaryData(scope, kind, name, data);
  }

  // Binary data (images, archives, encrypted or compressed blobs, protobuf): the grammar and
  // token detectors are not run on the bytes, which satisfy them by chance; the runs of text
  // inside the data (ASCII and UTF-16, kMinTextRun characters or more) are inspected as text
  // of the same scope, so an attack string embedded in a file is still found.
  void binaryData(uint8_t scope, std::string_view kind, std::string_view name,
                  std::string_view data) {
    std::string k(kind);
    k.append(".text");
    // A run is a view of data or of this buffer, which the detectors do not use.
    thread_local std::string utf16;
    textRuns(data, kMinTextRun, kMaxTextRuns, utf16, [&](std::string_view run) {
      if (!done()) {
        inspectValue(scope, k, name, run, false, 0);
      }
    });
  }

  ArgList& freshArgs() {
    tls.args.clear();
    tls.args.setLimit(cfg_.maxArgs);
    return tls.args;
  }

  static bool stripTinyTags(std::string_view in, std::string& out) {
    out.clear();
    bool changed = false;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '<') {
        // Only "<x>" up to four bytes long is a tiny tag: look for its '>' there only.
        const size_t end = in.substr(0, std::min(in.size(), i + 5)).find('>', i + 1);
        if (end != std::string_view::npos && end - i <= 4 && end > i + 1) {
          i = end;
          changed = true;
          continue;
        }
      }
      out.push_back(in[i]);
    }
    return changed;
  }

  static bool stripComments(std::string_view in, std::string& out) {
    out.clear();
    bool changed = false;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '/' && i + 1 < in.size() && in[i + 1] == '*') {
        const size_t end = in.find("*/", i + 2);
        if (end == std::string_view::npos) {
          break;
        }
        i = end + 1;
        changed = true;
        continue;
      }
      out.push_back(in[i]);
    }
    return changed;
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
    matchPatterns(scope, kind, name, low, shown, impl_.of(RuleSet::Full));
  }

  void matchPatterns(uint8_t scope, std::string_view kind, std::string_view name,
                     std::string_view low, std::string_view shown, const RuleDb& set) {
    const hs_database_t* db = set.db;
    const auto& rules = set.rules;
    struct Ctx {
      std::bitset<256> hits;
    } ctx;
    auto onMatch = [](unsigned int id, unsigned long long, unsigned long long, unsigned int,
                      void* c) -> int {
      static_cast<Ctx*>(c)->hits.set(id & 0xFF);
      return 0;
    };
    if (scanBlock(db, low.data(), static_cast<unsigned int>(low.size()), tls.scratch, onMatch,
                  &ctx) != HS_SUCCESS) {
      return;
    }
    if (ctx.hits.none()) {
      return;
    }
    for (size_t i = 0; i < rules.size(); ++i) {
      if (ctx.hits.test(i) && (rules[i]->scopes & scope) != 0) {
        add(rules[i]->cls, rules[i]->id, kind, name, shown);
        if (done()) {
          return;
        }
      }
    }
  }

  void runCodeDetectors(uint8_t scope, std::string_view kind, std::string_view name,
                        std::string_view low, std::string_view shown) {
    bool lt = false;
    bool meta = false; // characters SQL/JS/shell injections need
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
    if (scope == kPath && !anyOf(low, kPathTrigger)) {
      return; // a plain path: the pattern rules were enough
    }
    if (scope == kAgent || scope == kPath) {
      // Free text with parentheses and semicolons: only the unambiguous detectors.
      if (const uint32_t r = lang::scanWhole(low, internal::detectShell); r != 0 && r != 4002) {
        add(AttackClass::Rce, r, kind, name, shown);
      }
      if (lt || low.find_first_of(":\"'=") != std::string_view::npos) {
        if (const uint32_t r = internal::detectXss(low); r != 0) {
          add(AttackClass::Xss, r, kind, name, shown);
        }
      }
      if (scope == kPath) {
        if (const uint32_t r = lang::scanWhole(low, internal::detectSqli); r != 0) {
          add(AttackClass::Sqli, r, kind, name, shown);
        }
      }
      return;
    }
    if (const uint32_t r = lang::scanWhole(low, internal::detectSqli); r != 0) {
      add(AttackClass::Sqli, r, kind, name, shown);
    }
    if (const uint32_t r = internal::detectXss(low); r != 0) {
      add(AttackClass::Xss, r, kind, name, shown);
    } else if (lt && stripTinyTags(low, tls.canon)) {
      // "o<x>nmouseover=alert<x>(1)": junk tags that a tag-stripping filter would remove.
      if (const uint32_t r2 = internal::detectXss(tls.canon); r2 != 0) {
        add(AttackClass::Xss, r2, kind, name, shown);
      }
    }
    if (const uint32_t r = lang::scanWhole(low, internal::detectShell); r != 0) {
      add(AttackClass::Rce, r, kind, name, shown);
    }
    if (scope != kHeader) {
      if (const uint32_t r = internal::detectLdap(low); r != 0) {
        add(AttackClass::Ldapi, r, kind, name, shown);
      } else if (const uint32_t r2 = lang::detectLdapFilter(low); r2 != 0) {
        add(AttackClass::Ldapi, r2, kind, name, shown);
      } else if (scope == kArg && low.find('*') != std::string_view::npos) {
        if (const uint32_t r3 = lang::detectLdapWildcardProbe(low); r3 != 0) {
          add(AttackClass::Ldapi, r3, kind, name, shown);
        }
      }
    }
  }

  // A path segment is a parameter to the application (a route's {id}, a file name with its
  // matrix parameters): one that holds more than name characters is inspected as a value. A URL
  // embedded in the path ("/proxy/http://h/x", the scheme segment followed by "//") is
  // inspected from its scheme to the end.
  void pathSegments(std::string_view rawPath) {
    size_t urlRests = 0;
    for (size_t b = 0; b < rawPath.size() && !done();) {
      size_t e = rawPath.find('/', b);
      if (e == std::string_view::npos) {
        e = rawPath.size();
      }
      const std::string_view seg = rawPath.substr(b, e - b);
      const bool nameOnly = std::all_of(seg.begin(), seg.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '-' || c == '_' || c == '~';
      });
      if (!nameOnly) {
        if (seg.size() >= 2 && seg.back() == ':' && e + 1 < rawPath.size() &&
            rawPath[e + 1] == '/' && std::all_of(seg.begin(), seg.end() - 1, [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            })) {
          // The rest of the path from a "scheme:" segment: a URL carried in the path
          // (/proxy/http://host/x). Later such segments lie inside the first rest, already
          // inspected whole; a few more are inspected as rests, the others as segments.
          value(kArg, "path.segment", {}, ++urlRests <= 4 ? rawPath.substr(b) : seg, false);
        } else {
          value(kArg, "path.segment", {}, seg, false);
        }
      }
      b = e + 1;
    }
  }

  void path(std::string_view rawPath) {
    value(kPath, "path", {}, rawPath, false);
    pathSegments(rawPath);
    // Path segments that are base64 of text (/api/PHNjcmlwdD4...).
    for (size_t b = 0; b < rawPath.size() && !done();) {
      size_t e = rawPath.find('/', b);
      if (e == std::string_view::npos) {
        e = rawPath.size();
      }
      const std::string_view seg = rawPath.substr(b, e - b);
      const bool b64chars = std::all_of(seg.begin(), seg.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '-' || c == '_' || c == '=' || c == '%';
      });
      if (seg.size() >= 8 && b64chars) {
        // Only '%' and '+' (UTF-7) can decode to something else in these characters.
        std::string_view text = seg;
        if (seg.find('%') != std::string_view::npos || seg.find('+') != std::string_view::npos) {
          normalizeValue(seg, tls.dec, false, 2);
          text = tls.dec;
        }
        if (tryBase64Text(text, tls.b64)) {
          const std::string decoded = tls.b64;
          outer_.push(transforms::Id::Base64);
          value(kArg, "path.base64", {}, decoded, false, 1);
          outer_.clear();
        }
      }
      b = e + 1;
    }
    // Hidden files and directories (/.git/, /.env, /.aws/...): never served on purpose, except
    // /.well-known/ (RFC 8615).
    for (size_t k = rawPath.find("/."); k != std::string_view::npos;
         k = rawPath.find("/.", k + 1)) {
      const std::string_view rest = rawPath.substr(k + 2);
      if (!rest.empty() && rest[0] != '.' && rest[0] != '/' && !rest.starts_with("well-known")) {
        add(AttackClass::PathTraversal, 3021, "path", {}, rawPath);
        break;
      }
    }
    // Climbing above the root after canonicalisation.
    if (rawPath.find("..") != std::string_view::npos ||
        rawPath.find('%') != std::string_view::npos ||
        rawPath.find('\\') != std::string_view::npos) {
      normalizeValue(rawPath, tls.dec, false, 4);
      if (canonicalPath(tls.dec, tls.canon) > 0) {
        add(AttackClass::PathTraversal, 3022, "path", {}, tls.dec);
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
        // A JSON path into an object's prototype ({"constructor": {"prototype": {...}}}): a
        // merge of the document pollutes every object, as "__proto__" does (5009).
        if (a.name.ends_with("constructor.prototype") &&
            (a.name.size() == 21 || a.name[a.name.size() - 22] == '.' ||
             a.name[a.name.size() - 22] == ']')) {
          add(AttackClass::CodeInjection, 5054, nameKind, a.name, a.name);
        }
      } else if (a.kind == Arg::Kind::File) {
        dataValue(kFile, kind, a.name, a.value);
      } else if (kind == "body.multipart" && classifyBody(a.value).binary) {
        binaryData(kArg, kind, a.name, a.value); // a blob sent as a field without a filename
      } else if (!jsonParameter(kind, a.name, a.value, plus)) {
        value(kArg, kind, a.name, a.value, plus);
      }
    }
    if (list.overflow()) {
      v_.limitExceeded = true;
    }
  }

  // A query or form value that is a JSON document (webhooks deliver "payload=<json>", beacons
  // send JSON in a parameter): its strings and keys are inspected as JSON strings and keys,
  // each in its own context, instead of as one text. False when the value is not JSON.
  bool jsonParameter(std::string_view kind, std::string_view name, std::string_view raw,
                     bool plus) {
    // (a JSON string holding a JSON document: kubectl's last-applied-configuration, an SNS
    // Message, an event's serialised detail)
    const bool inJson = kind == "body.json";
    if (raw.size() < 2 ||
        !(kind == "query" || kind == "body.form" || kind == "body.multipart" || inJson)) {
      return false;
    }
    const char first = raw.front();
    if (first != '{' && first != '[' &&
        (inJson || (!raw.starts_with("%7B") && !raw.starts_with("%7b") &&
                    !raw.starts_with("%5B") && !raw.starts_with("%5b")))) {
      return false;
    }
    std::string doc;
    if (inJson) {
      doc.assign(raw);
    } else {
      percentDecode(raw, doc, plus);
    }
    const std::string_view t = trim(doc);
    if (t.size() < 2 || !((t.front() == '{' && t.back() == '}') ||
                          (t.front() == '[' && t.back() == ']'))) {
      return false;
    }
    ArgList leaves(cfg_.maxArgs);
    if (!parseJson(t, leaves, cfg_.maxDepth) || leaves.args().empty()) {
      return false;
    }
    const std::string valueKind = std::string(kind) + ".json";
    const std::string keyKind = std::string(kind) + ".json-key";
    if (const std::string_view all = matchAllComparison(t); !all.empty()) {
      add(AttackClass::Nosqli, 9004, keyKind, name.substr(0, 32), all);
    }
    std::string leafName;
    for (const auto& leaf : leaves.args()) {
      if (done()) {
        break;
      }
      leafName.assign(name.substr(0, 32));
      leafName.push_back('.');
      leafName.append(leaf.name);
      if (leaf.kind == Arg::Kind::Name) {
        value(kName, keyKind, leafName, leaf.value, false);
      } else {
        value(kArg, valueKind, leafName, leaf.value, false);
      }
    }
    if (leaves.overflow()) {
      v_.limitExceeded = true;
    }
    // An application may also read the parameter as one string: SQL split across the JSON
    // strings ('1\')) union se","lect 1,2') still parses as one statement.
    if (!done()) {
      toLowerAscii(t, tls.low);
      if (const uint32_t r = internal::detectSqli(tls.low); r != 0) {
        add(AttackClass::Sqli, r, kind, name, t);
      }
    }
    return true;
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
      const std::string_view param = trim(ct.substr(
          pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1));
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
    // The line break where the last header scan stopped: a delimiter inside lines already
    // read ("x:--b" on every line) starts a scan that reads the same lines and stops at the
    // same place, so it is skipped.
    size_t scannedTo = 0;
    bool scanned = false;
    while (pos != std::string_view::npos && !done()) {
      size_t line = body.find('\n', pos);
      if (scanned && (line == std::string_view::npos || line <= scannedTo)) {
        pos = body.find(delim, pos + delim.size());
        continue;
      }
      while (line != std::string_view::npos) {
        const size_t eol = body.find('\n', line + 1);
        std::string_view l = body.substr(
            line + 1, eol == std::string_view::npos ? std::string_view::npos : eol - line - 1);
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
        if (!bad && iequals(hname, "content-disposition")) {
          // Names that parsers split differently: quotes, backslashes, '=' or a ';' that is
          // not the end of a character reference (920120/920121).
          for (const std::string_view p : {"name", "filename"}) {
            const std::string_view v = contentTypeParam(hvalue, p);
            for (size_t k = 0; k < v.size() && !bad; ++k) {
              const char c = v[k];
              if (c == '\\' || c == '\'' || c == '"' || c == '`') {
                bad = true;
              } else if (c == ';') {
                const size_t amp = v.rfind('&', k);
                const std::string_view ref = amp == std::string_view::npos
                                                 ? std::string_view{}
                                                 : v.substr(amp + 1, k - amp - 1);
                bad = !characterReference(ref);
              }
            }
          }
        }
        if (!bad && iequals(hname, "content-disposition")) {
          // An odd number of quotes: the quoted name ends early and the rest of the line
          // (filename=""><svg onload=...>.png") is read differently by each parser.
          bad = std::count(hvalue.begin(), hvalue.end(), '"') % 2 != 0;
        }
        if (!bad && iequals(hname, "content-type")) {
          const std::string_view cs = contentTypeParam(hvalue, "charset");
          // UTF-16 is a web charset, but not inside a multipart body (922110).
          bad = !cs.empty() && (!allowedCharset(cs) || istartsWith(cs, "utf-16"));
        }
        if (bad) {
          add(AttackClass::Protocol, 13004, "body.multipart", "headers", l);
          return;
        }
        line = eol;
      }
      scanned = true;
      scannedTo = line == std::string_view::npos ? body.size() : line;
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
        if (a.kind == Arg::Kind::Value && a.name == "multipart.filename") {
          normalizeValue(a.value, tls.dec, false, 3);
          toLowerAscii(tls.dec, tls.low);
          const ScopeGuard guard(scope_, kFilename);
          matchPatterns(kFilename, "body.multipart", "filename", tls.low, tls.dec);
        }
      }
      args(list, "body.multipart", "body.multipart-name", false);
      if (!ok && list.args().empty()) {
        dataValue(kArg, "body", {}, body);
      }
      return;
    }
    // Binary data (a file signature, or bytes that are not text), whatever its label says: a
    // JSON or XML parser would reject it (or find "values" in noise); the text runs inside it.
    if (classifyBody(body).binary) {
      binaryData(kArg, "body", {}, body);
      return;
    }
    if (icontains(ct, "json") || icontains(ct, "csp-report") ||
        ((c0 == '{' || c0 == '[') && !icontains(ct, "xml"))) {
      const bool ok = parseJson(body, list, depth);
      if (const std::string_view all = ok ? matchAllComparison(body) : std::string_view{};
          !all.empty()) {
        add(AttackClass::Nosqli, 9004, "body.json-key", {}, all);
      }
      args(list, "body.json", "body.json-key", false);
      if (!ok) {
        value(kArg, "body", {}, body, false); // a body its parser rejects is inspected as text
      }
      return;
    }
    if (icontains(ct, "xml") || c0 == '<') {
      const bool ok = parseXml(body, list, depth);
      args(list, "body.xml", "body.xml-name", false);
      if (!ok) {
        value(kArg, "body", {}, body, false); // a body its parser rejects is inspected as text
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
    // A raw '#' in a request target: browsers never send a fragment, while a server that
    // reads the target as it came (a notebook server's static handler, a raw-URL router) sees
    // what follows it. It is inspected like a parameter ("#/../../etc/passwd").
    std::string_view fragment;
    const size_t hash = target.find('#');
    if (hash != std::string_view::npos) {
      fragment = target.substr(hash + 1);
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
    if (!fragment.empty() && !done()) {
      value(kArg, "fragment", {}, fragment, false);
    }
    std::string_view contentType;
    bool chunked = false;
    for (const auto& h : req.headers) {
      if (done()) {
        return;
      }
      const HeaderKind hk = headerKind(h.name);
      if (hk == HeaderKind::Cookie) {
        if (trim(h.value).starts_with("$Version") || trim(h.value).starts_with("$version")) {
          add(AttackClass::Protocol, 13009, "header", "Cookie", h.value); // RFC 2109 cookies
        }
        ArgList& list = freshArgs();
        parseCookies(h.value, list);
        args(list, "cookie", "cookie-name", false);
        continue;
      }
      if (hk == HeaderKind::Filename) {
        normalizeValue(h.value, tls.dec, false, 3);
        toLowerAscii(tls.dec, tls.low);
        const ScopeGuard guard(scope_, kFilename);
        matchPatterns(kFilename, "header", h.name, tls.low, tls.dec);
      }
      if (hk == HeaderKind::UserAgent) {
        // A User-Agent outside the product/comment grammar is also inspected like a parameter.
        value(kAgent, "header", h.name, h.value, false);
        if (!done() && !wellFormedAgentCached(h.value)) {
          value(kArg, "header", h.name, h.value, false);
        }
        continue;
      }
      if (hk == HeaderKind::ContentType) {
        contentType = h.value;
        checkContentType(h.value);
        value(kHeader, "header", h.name, h.value, false);
        continue;
      }
      if (hk == HeaderKind::TransferEncoding) {
        chunked = true;
      }
      if (hk == HeaderKind::Structured && iequals(h.name, "accept") &&
          badAcceptCharset(h.value)) {
        add(AttackClass::Protocol, evasiveAcceptCharset(h.value) ? 13015 : 13013, "header",
            h.name, h.value);
      }
      if (hk == HeaderKind::AcceptEncoding && h.value.size() > 200) {
        add(AttackClass::Protocol, 13007, "header", h.name, h.value);
      }
      if (hk == HeaderKind::Structured || hk == HeaderKind::TransferEncoding ||
          hk == HeaderKind::AcceptEncoding) {
        if (hasHeaderTrigger(h.value)) {
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
      // A free-form header is inspected like a parameter; Referer and Origin are URLs the
      // browser writes, checked as headers. Browsers never send a URL's fragment: what a
      // single-page app keeps after '#' in Referer (Kibana's rison state, a router's path) is
      // the page's client-side state.
      // Its query string is the page's form data: '+' there is a space.
      if (iequals(h.name, "referer")) {
        // (a value that is no absolute URL was written by something other than a browser: it
        // is inspected whole, like a free-form header)
        if (!internal::absoluteUrl(trim(h.value))) {
          value(kArg, "header", h.name, h.value, false);
          continue;
        }
        const std::string_view page = h.value.substr(0, h.value.find('#'));
        value(kHeader, "header", h.name, page, page.find('?') != std::string_view::npos);
        continue;
      }
      value(iequals(h.name, "origin") ? kHeader : kArg, "header", h.name, h.value, false);
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
    // Content-Encoding (gzip, deflate): the body as the application reads it, capped in size
    // and ratio against compression bombs.
    thread_local std::string inflated;
    for (const auto& h : b.empty() ? std::span<const Header>{} : req.headers) {
      if (iequals(h.name, "content-encoding")) {
        const BodyDecode d =
            decodeContentEncoding(h.value, b, cfg_.maxBodyBytes, kMaxInflateRatio, inflated);
        if (d == BodyDecode::Decoded || d == BodyDecode::Truncated) {
          b = inflated;
        }
        v_.limitExceeded |= d == BodyDecode::Truncated;
        break;
      }
    }
    body(contentType, b);
    if (!done()) {
      internal::checkKnownExploits(req, rawPath, query, contentType, b,
                                   [&](const internal::CveRule& r, std::string_view part) {
                                     add(r.cls, r.id, part, {}, req.target);
                                   });
    }
  }

private:
  // wellFormedUserAgent, remembered in the clean cache for the agents that pass it (a handful
  // of agents make up most traffic).
  bool wellFormedAgentCached(std::string_view agent) const {
    if (agent.size() > CleanCaches::kMax) {
      return wellFormedUserAgent(agent);
    }
    const uint64_t key = cacheHash(agent, kWellFormedAgentSeed);
    if (tls.clean.contains(impl_.id, key, agent)) {
      return true;
    }
    if (!wellFormedUserAgent(agent)) {
      return false;
    }
    tls.clean.insert(impl_.id, key, agent);
    return true;
  }
  static constexpr uint64_t kWellFormedAgentSeed = 0x55412d77656c6c66ULL; // a seed no value uses

  const Engine::Impl& impl_;
  const EngineConfig& cfg_;
  Verdict& v_;
  size_t values_ = 0;
  size_t hits_ = 0; // detector hits, findings merged into earlier ones included
  static constexpr size_t kBudgetStride = 16 * 1024;
  static constexpr size_t kValueCharge = 64; // a value's fixed cost, in bytes
  size_t charged_ = 0;     // bytes charged since the clock was last read
  int64_t deadlineNs_ = 0; // thread CPU time at which the budget runs out (0: not started)
  uint8_t scope_ = 0; // the scope of the value being inspected (0: request-level checks)
  std::array<int, static_cast<size_t>(AttackClass::Count)> classWeight_{};

  // Sets the scope for the inspection of one value and restores the outer one after it (a
  // base64 or '=' split value is inspected inside its carrier's inspection).
  struct ScopeGuard {
    ScopeGuard(uint8_t& slot, uint8_t scope) : slot_(slot), saved_(slot) { slot_ = scope; }
    ~ScopeGuard() { slot_ = saved_; }
    ScopeGuard(const ScopeGuard&) = delete;
    ScopeGuard& operator=(const ScopeGuard&) = delete;
    uint8_t& slot_;
    uint8_t saved_;
  };
  size_t pastLimit_ = 0;    // values past maxArgs given the detectors
  transforms::Chain outer_; // decoding that produced the value being inspected (base64 views)
  transforms::Chain chain_; // outer_ plus the value's own decoding
};

} // namespace

Result<std::shared_ptr<const Engine>> Engine::create(const EngineConfig& config) {
  auto impl = std::make_unique<Impl>();
  for (const auto& [set, name] : internal::kRuleSets) {
    RuleDb& target = impl->sets[static_cast<size_t>(set)];
    target.rules = internal::ruleSet(set);
    if (target.rules.size() > 256) {
      return BW_INVALID("detect: too many pattern rules for the match bitmap");
    }
    auto db = internal::loadRuleSet(set, target.rules, nullptr);
    if (!db) {
      return tl::unexpected(db.error());
    }
    target.db = *db;
  }
  impl->id = nextEngineId.fetch_add(1);
  // Check that a scratch can be allocated now rather than on the first request.
  hs_scratch_t* probe = nullptr;
  for (const RuleDb& set : impl->sets) {
    if (hs_alloc_scratch(set.db, &probe) != HS_SUCCESS) {
      if (probe != nullptr) {
        hs_free_scratch(probe);
      }
      return BW_ERR(std::make_error_code(std::errc::not_enough_memory),
                    "detect: cannot allocate vectorscan scratch");
    }
  }
  hs_free_scratch(probe);
  internal::prepareKnownExploits();
  return std::shared_ptr<const Engine>(new Engine(config, std::move(impl)));
}

Engine::Engine(const EngineConfig& config, std::unique_ptr<Impl> impl)
    : config_(config), impl_(std::move(impl)) {}

Engine::~Engine() = default;

Verdict Engine::inspect(const RequestView& request) const {
  Verdict verdict;
  verdict.paranoiaLevel = std::clamp<uint8_t>(request.paranoiaLevel, 1, 4);
  verdict.threshold = scoreThreshold(verdict.paranoiaLevel);
  if (tls.preparedFor != impl_->id) {
    if (std::any_of(impl_->sets.begin(), impl_->sets.end(), [](const RuleDb& set) {
          return hs_alloc_scratch(set.db, &tls.scratch) != HS_SUCCESS;
        })) {
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

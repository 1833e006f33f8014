#include "ruledb.h"

#include <cstring>

#include <zlib.h>

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

} // namespace

std::vector<const PatternRule*> ruleSet(RuleSet set) {
  std::vector<const PatternRule*> out;
  for (const auto& r : patternRules()) {
    if (set == RuleSet::Full || r.reach == Reach::Plain) {
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

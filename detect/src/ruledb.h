#pragma once

#include <hs/hs.h>

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bulwark/common/result.h"
#include "rules.h"

// The vectorscan databases of the pattern rules: the full set, the "plain" subset (rules
// that can match a value of letters, digits and spaces: the rows marked Reach::Plain in
// rules.cpp), and of those the "plain token" subset (the rules that can match a plain token: a
// value without whitespace such as a word or an id) and the "plain hex" subset (the rules that
// can match hex digits only: a number, a hash, a session id); see canMatchWithin. All are
// compiled when the library is built (bulwark-detect-dbgen) and linked in serialized;
// Engine::create deserializes them in milliseconds and compiles at run time only when they are
// missing or were built from other rules or for another vectorscan.
namespace bulwark::detect::internal {

enum class RuleSet { Full, Plain, PlainToken, PlainHex };

// Every set, with the name its database file and the checks use.
inline constexpr std::pair<RuleSet, const char*> kRuleSets[] = {
    {RuleSet::Full, "full"},
    {RuleSet::Plain, "plain"},
    {RuleSet::PlainToken, "plain_token"},
    {RuleSet::PlainHex, "plain_hex"},
};

// The rules of a set, in database order (a match id is an index into this vector).
std::vector<const PatternRule*> ruleSet(RuleSet set);

// The bytes of a plain token: a value of letters, digits and "-_,@" (no whitespace, no other
// punctuation, no control or non-ASCII byte), such as a session id, a word or a number.
const std::bitset<256>& plainTokenBytes();

// The bytes of a hex token: 0-9, a-f, A-F (numbers, hashes, session ids).
const std::bitset<256>& hexTokenBytes();

// Whether `pattern` can match a string made only of bytes in `alphabet`. A plain rule that
// cannot match a plain token is left out of the plain token set. Conservative: a construct it
// does not model (inline options, \p, back references) counts as "can match".
bool canMatchWithin(std::string_view pattern, const std::bitset<256>& alphabet);

// Identifies a rule set exactly: ids, scopes, patterns, compile flags and the vectorscan
// version. A serialized database is used only when its fingerprint matches.
uint64_t fingerprint(const std::vector<const PatternRule*>& rules);

// Compiles rules for `platform` (nullptr: this host).
Result<hs_database_t*> compileRuleSet(const std::vector<const PatternRule*>& rules,
                                      const hs_platform_info_t* platform);

// The database for a set: the linked-in one when it matches, else compiled now. `source` says
// which ("prebuilt" or "compiled").
Result<hs_database_t*> loadRuleSet(RuleSet set, const std::vector<const PatternRule*>& rules,
                                   std::string_view* source);

// Serialized databases linked into the library (generated at build time, zlib-compressed);
// empty when absent.
struct Prebuilt {
  uint64_t fingerprint = 0;
  const unsigned char* data = nullptr; // zlib stream
  size_t size = 0;                     // bytes at data
  size_t rawSize = 0;                  // the serialized database, inflated
};
Prebuilt prebuilt(RuleSet set);

// hs_scan (block mode) for every database of the library. The multi-architecture vectorscan
// 5.4.x build shipped by Debian dispatches to an AVX-512 scan on CPUs that have it, and that
// code path reports or misses matches depending on where the scanned buffer starts (e.g.
// "\[\s*\$(?:ne|regex)\s*\]" misses "[$regex]" 64 bytes into a value at most start
// addresses; "^'a[^']*$|^`a[^`]*$" matches "'a...'x" although a quote follows). Where the
// library exports its AVX2 scan and the CPU runs it, this calls that one (same databases and
// scratch, results that agree with PCRE at every alignment); elsewhere plain hs_scan.
hs_error_t scanBlock(const hs_database_t* db, const char* data, unsigned int length,
                     hs_scratch_t* scratch, match_event_handler onEvent, void* context);

// Which scan scanBlock uses: "avx2" or "dispatched".
std::string_view scanPath();

} // namespace bulwark::detect::internal

#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "bulwark/detect/engine.h"

namespace bulwark::detect::internal {

// Where a value comes from; a rule applies only to the scopes it names.
enum Scope : uint8_t {
  kPath = 1 << 0,     // the decoded request path
  kArg = 1 << 1,      // query/form/JSON/XML/multipart/cookie values, raw text bodies
  kName = 1 << 2,     // argument names, JSON keys, cookie names
  kHeader = 1 << 3,   // header values other than User-Agent
  kAgent = 1 << 4,    // User-Agent
  kFile = 1 << 5,     // content of an uploaded file (multipart part with a filename)
  kFilename = 1 << 6, // an upload's file name (multipart filename, X-Filename headers)
  kAll = kPath | kArg | kName | kHeader | kAgent,
  kValues = kArg | kName | kHeader | kAgent,
};

// Which values a pattern rule is scanned on. Every rule runs on a value that holds a character
// worth a look (an operator, a quote, a separator, an escape). A value made only of letters,
// digits, spaces, "-_,@" and non-ASCII text skips the full database and runs against the plain
// one, built from the rows marked Reach::Plain: the rules whose pattern can match such a value
// (SQL or shell made of words, gadget class names, serialized-object prefixes). A rule that can
// match a plain value and is not marked never sees one.
enum class Reach : uint8_t {
  Marked, // values with a character worth a look only (the default)
  Plain,  // also plain values: the rule is compiled into the plain database too
};

// One pattern rule, matched by vectorscan against the normalised, lower-cased value.
struct PatternRule {
  uint32_t id;
  AttackClass cls;
  uint8_t scopes;
  std::string_view pattern;
  Reach reach = Reach::Marked;
};

std::span<const PatternRule> patternRules();

} // namespace bulwark::detect::internal

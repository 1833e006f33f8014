#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::detect {

// One inspected value of the request model: a name (argument, JSON path, header...) and a value.
// Views point into the request or into ArgList's own storage.
struct Arg {
  enum class Kind : uint8_t { Value, Name, File }; // File: an uploaded file's content
  std::string_view name;
  std::string_view value;
  Kind kind = Kind::Value;
};

// Collects Args up to a limit; owns decoded strings (JSON escapes, paths) so views stay valid.
class ArgList {
public:
  explicit ArgList(size_t maxArgs) : maxArgs_(maxArgs) {}

  // Values past maxArgs are still collected, with overflow() set; false only past kHardArgs.
  static constexpr size_t kHardArgs = 65536;
  bool add(std::string_view name, std::string_view value, Arg::Kind kind = Arg::Kind::Value);
  std::string_view own(std::string s);
  void clear();

  const std::vector<Arg>& args() const { return args_; }
  bool overflow() const { return overflow_; }
  void setOverflow() { overflow_ = true; }
  void setLimit(size_t maxArgs) { maxArgs_ = maxArgs; }

private:
  size_t maxArgs_;
  bool overflow_ = false;
  std::vector<Arg> args_;
  std::deque<std::string> store_;
};

// "a=1&b=2" (also ';'-separated when sep is ';'); names and values stay raw (still encoded).
void parseUrlencoded(std::string_view text, ArgList& out, char sep = '&');

// "a=1; b=2" Cookie header.
void parseCookies(std::string_view text, ArgList& out);

// JSON: every string value and every key, named by path ("user.name", "items[].id"); numbers and
// literals are skipped. Returns false on malformed JSON (what was parsed so far is kept) or when
// nesting exceeds maxDepth.
bool parseJson(std::string_view text, ArgList& out, size_t maxDepth);

// multipart/form-data: part names, filenames, and values (nested multipart/mixed followed up to
// maxDepth). boundary is the parameter from Content-Type. Returns false when malformed.
bool parseMultipart(std::string_view body, std::string_view boundary, ArgList& out,
                    size_t maxDepth);

// XML: element text, attribute values and names, CDATA, comments, processing instructions and
// the DOCTYPE (with its internal subset) as one value named "!doctype". Returns false when
// malformed or too deep.
bool parseXml(std::string_view text, ArgList& out, size_t maxDepth);

// A User-Agent made of products and comments as RFC 9110 writes them: `name[/version]` tokens,
// `(comment; ...)` and `[bracket; ...]` groups (balanced), separated by spaces, with no quote,
// angle bracket, brace, backtick, '$', '|' or control character anywhere. Such a value is only
// checked for scanner names and tool shapes; anything else is inspected like a parameter.
bool wellFormedUserAgent(std::string_view ua);

// Extracts a parameter ("boundary", "charset") from a Content-Type value.
std::string_view contentTypeParam(std::string_view contentType, std::string_view param);

} // namespace bulwark::detect

#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

// The decoding pipeline: a table of named transforms, each a cheap guard (is there anything this
// transform could decode?) and a decoder (total on any bytes, output bounded by the input size).
// A value is decoded by running the table repeatedly until nothing changes or the budget is
// spent; the names of the transforms that changed the value form its chain, which findings carry
// ("base64 <- url": URL-decoded, then base64-decoded).
namespace bulwark::detect::transforms {

enum class Id : uint8_t {
  Url,        // %XX (and '+' as space in form values, first round only)
  UrlUnicode, // %uXXXX (IIS), to UTF-8
  Overlong,   // overlong UTF-8 of ASCII, full-width and enclosed look-alikes
  XmlEntity,  // &#NN; &#xHH; &lt; &gt; &amp; &quot; &apos; (';' required)
  HtmlEntity, // numeric and named references, ';' optional (&#60 &lt)
  JsonEscape, // \uXXXX, \u{X..}
  HexEscape,  // \xHH
  Utf7,       // +ADw- (shifted UTF-16 of ASCII)
  Utf16,      // UTF-16LE/BE text (NUL every other byte, optional BOM)
  Base64,     // standard alphabet, padded or not
  Base64Url,  // '-' '_' alphabet, padded or not
  Count
};

std::string_view name(Id id);

// Bytes a transform needs in its input: one pass over the value computes which are present, so
// a round skips every transform that cannot apply without scanning again.
enum Need : uint8_t {
  kNeedPercent = 1,
  kNeedHigh = 2, // a byte >= 0xC0
  kNeedAmp = 4,
  kNeedBackslash = 8,
  kNeedPlus = 16,
  kNeedNul = 32,
  kNeedAny = 64, // no byte condition (BOMs, base64)
};
uint8_t needs(std::string_view in);

struct Transform {
  Id id;
  std::string_view name;
  uint8_t need;                                          // Need bits; any one suffices
  bool (*guard)(std::string_view in);                    // cheap: false = nothing to decode
  bool (*decode)(std::string_view in, std::string& out); // false = out is not a new value
};

// The in-place decoders (URL, entities, escapes, UTF-7/16, overlong UTF-8), in the order one
// round applies them. Base64 is not in this list: a value either is base64 as a whole or is not,
// so it yields a second view of the value instead of replacing it (see base64View).
std::span<const Transform> inPlace();

// Every transform, base64 included (for tests, docs and the fuzz target).
std::span<const Transform> all();

// The transforms applied to a value, in the order they were applied.
class Chain {
public:
  static constexpr size_t kMax = 12;
  void push(Id id) {
    if (n_ < kMax) {
      ids_[n_++] = id;
    }
  }
  void clear() { n_ = 0; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  Id operator[](size_t i) const { return ids_[i]; }
  bool contains(Id id) const;
  // Latest transform first: "base64 <- url". Empty for a value used as received.
  std::string str() const;

private:
  std::array<Id, kMax> ids_{};
  size_t n_ = 0;
};

// Appends in[i, k) to out, k being the next position at or after i that holds `stop` (or the
// end); returns k. The decoders copy the bytes between their escape characters in runs.
inline size_t copyRun(std::string_view in, size_t i, char stop, std::string& out) {
  const size_t k = std::min(in.find(stop, i), in.size());
  out.append(in.data() + i, k - i);
  return k;
}

// Limits on the work one value may cause.
struct Budget {
  size_t rounds = 6;          // passes over the table
  size_t maxSteps = 16;       // transforms that changed the value, all rounds together
};

// Decodes raw with the in-place transforms until stable or the budget is spent; appends the
// transforms that changed the value to chain. plusAsSpace: '+' is a space in the first round
// (form and query values). NUL bytes are dropped from the result.
void decode(std::string_view raw, std::string& out, bool plusAsSpace, const Budget& budget,
            Chain* chain);

// If the whole value is base64 or base64url (padded or not) of mostly printable text, its
// decoded text; which alphabet was used is reported in id.
bool base64View(std::string_view in, std::string& out, Id& id);

// Percent-decoding, the one implementation behind url, urlForm, urlUnicode and
// percentDecode: %XX (hex), %uXXXX with UTF-16 surrogate pairs combined (unicode), '+' as a
// space (plusAsSpace), all in one pass. Malformed escapes are kept verbatim. False when nothing
// changed.
struct PercentForms {
  bool plusAsSpace = false;
  bool hex = true;
  bool unicode = false;
};
bool percent(std::string_view in, std::string& out, const PercentForms& forms);

// Individual decoders (also reachable through the table).
bool url(std::string_view in, std::string& out);
bool urlForm(std::string_view in, std::string& out); // '+' is a space
bool urlUnicode(std::string_view in, std::string& out);
bool overlong(std::string_view in, std::string& out);
bool xmlEntities(std::string_view in, std::string& out);
bool htmlEntities(std::string_view in, std::string& out);
bool jsonEscapes(std::string_view in, std::string& out);
bool hexEscapes(std::string_view in, std::string& out);
bool utf7(std::string_view in, std::string& out);
bool utf16(std::string_view in, std::string& out);
bool base64(std::string_view in, std::string& out);    // strict alphabet, text only
bool base64url(std::string_view in, std::string& out); // url-safe alphabet, text only

} // namespace bulwark::detect::transforms

#include "transforms.h"

#include "bulwark/detect/normalize.h"
#include "../detectors.h"
#include "../utf8.h"

namespace bulwark::detect::transforms {
namespace {

using internal::appendUtf8;
using internal::hexValue;

bool has(std::string_view s, char c) { return s.find(c) != std::string_view::npos; }

// Four hex digits at s[at..at+4), or -1.
int32_t hex4(std::string_view s, size_t at) {
  if (at + 4 > s.size()) {
    return -1;
  }
  int32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    const int h = hexValue(static_cast<unsigned char>(s[at + k]));
    if (h < 0) {
      return -1;
    }
    v = (v << 4) | h;
  }
  return v;
}

// A UTF-16 code unit sequence that starts at unit `first` (already read) and may continue with a
// low surrogate read by `next`: the code point, or U+FFFD for a lone surrogate.
template <typename Next> uint32_t combineSurrogates(uint32_t first, Next next) {
  if (first >= 0xD800 && first <= 0xDBFF) {
    const int32_t lo = next();
    if (lo >= 0xDC00 && lo <= 0xDFFF) {
      return 0x10000 + ((first - 0xD800) << 10) + (static_cast<uint32_t>(lo) - 0xDC00);
    }
    return 0xFFFD;
  }
  return first;
}

bool guardUrl(std::string_view in) { return has(in, '%'); }
bool guardUrlUnicode(std::string_view in) {
  const size_t p = in.find('%');
  return p != std::string_view::npos && (has(in.substr(p), 'u') || has(in.substr(p), 'U'));
}
bool guardHigh(std::string_view in) {
  for (const char c : in) {
    if (static_cast<unsigned char>(c) >= 0xC0) {
      return true;
    }
  }
  return false;
}
bool guardAmp(std::string_view in) { return has(in, '&'); }
bool guardBackslash(std::string_view in) { return has(in, '\\'); }
bool guardUtf7(std::string_view in) {
  return in.find("+AD") != std::string_view::npos || in.find("+AC") != std::string_view::npos;
}
bool guardUtf16(std::string_view in) {
  if (in.size() < 4) {
    return false;
  }
  const auto b0 = static_cast<unsigned char>(in[0]);
  const auto b1 = static_cast<unsigned char>(in[1]);
  if ((b0 == 0xFF && b1 == 0xFE) || (b0 == 0xFE && b1 == 0xFF)) {
    return true;
  }
  return (in[0] == '\0') != (in[1] == '\0');
}
bool guardBase64(std::string_view in) { return in.size() >= 8; }

constexpr Transform kInPlace[] = {
    {Id::Url, "url", kNeedPercent | kNeedPlus, guardUrl, url},
    {Id::UrlUnicode, "url-unicode", kNeedPercent, guardUrlUnicode, urlUnicode},
    {Id::Utf16, "utf16", kNeedNul | kNeedHigh, guardUtf16, utf16},
    {Id::Overlong, "overlong-utf8", kNeedHigh, guardHigh, overlong},
    {Id::XmlEntity, "xml-entity", kNeedAmp, guardAmp, xmlEntities},
    {Id::HtmlEntity, "html-entity", kNeedAmp, guardAmp, htmlEntities},
    {Id::JsonEscape, "json-unicode", kNeedBackslash, guardBackslash, jsonEscapes},
    {Id::HexEscape, "hex-escape", kNeedBackslash, guardBackslash, hexEscapes},
    {Id::Utf7, "utf7", kNeedPlus, guardUtf7, utf7},
};

constexpr Transform kAll[] = {
    kInPlace[0],
    kInPlace[1],
    kInPlace[2],
    kInPlace[3],
    kInPlace[4],
    kInPlace[5],
    kInPlace[6],
    kInPlace[7],
    kInPlace[8],
    {Id::Base64, "base64", kNeedAny, guardBase64, base64},
    {Id::Base64Url, "base64url", kNeedAny, guardBase64, base64url},
};

constexpr std::array<uint8_t, 256> kNeedOf = [] {
  std::array<uint8_t, 256> t{};
  t['%'] = kNeedPercent;
  t['&'] = kNeedAmp;
  t['\\'] = kNeedBackslash;
  t['+'] = kNeedPlus;
  t[0] = kNeedNul;
  for (size_t c = 0xC0; c < 256; ++c) {
    t[c] = kNeedHigh;
  }
  t[0xFE] |= kNeedNul; // UTF-16 byte order marks
  t[0xFF] |= kNeedNul;
  return t;
}();

// Base64 of text. alphabet: 0 either, 1 standard only, 2 url-safe only.
bool base64Text(std::string_view in, std::string& out, int alphabet) {
  out.clear();
  // Padding marks base64 on its own: a padded value of 6-7 characters (4-5 bytes) is decoded
  // too ("KikoJg==").
  const bool padded = in.size() % 4 == 0 && !in.empty() && in.back() == '=';
  while (!in.empty() && in.back() == '=') {
    in.remove_suffix(1);
  }
  if (in.size() < 6 || in.size() % 4 == 1) {
    return false;
  }
  // Unpadded and shorter than 8 characters (4-5 bytes: "fGlkfA" is "|id|"): decoded only when
  // the text holds a syntax character, since short names and ids decode to letters by chance.
  const bool shortBare = !padded && in.size() < 8;
  bool lower = false;
  bool upper = false;
  for (const char c : in) {
    lower |= c >= 'a' && c <= 'z';
    upper |= c >= 'A' && c <= 'Z';
  }
  if (!lower || !upper) {
    return false; // words, hex ids and numbers are not base64 worth decoding
  }
  // The decoded size is known up front, so the text test below can give up as soon as too
  // many bytes are neither printable nor high (ids and tokens decode to noise within a few
  // bytes): the same answer as testing the whole decoded value.
  const size_t n = in.size() * 6 / 8;
  size_t printable = 0;
  size_t high = 0;
  size_t other = 0;
  out.resize(n);
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if ((c == '+' && alphabet != 2) || (c == '-' && alphabet != 1)) {
      v = 62;
    } else if ((c == '/' && alphabet != 2) || (c == '_' && alphabet != 1)) {
      v = 63;
    } else {
      out.clear();
      return false;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      const auto b = static_cast<unsigned char>((acc >> bits) & 0xFF);
      out[o++] = static_cast<char>(b);
      if ((b >= 0x20 && b < 0x7F) || b == '\n' || b == '\r' || b == '\t') {
        ++printable;
      } else if (b >= 0x80) {
        ++high;
      } else {
        ++other;
      }
      // Mostly printable ASCII; UTF-8 text is allowed when it is valid UTF-8 (checked coarsely:
      // bytes >= 0x80 are at most a quarter of the text).
      if (high * 4 > n || other * 100 > n * 5) {
        out.clear();
        return false;
      }
    }
  }
  if (o != n || n == 0) {
    out.clear();
    return false;
  }
  if (shortBare && (high != 0 || printable != out.size() ||
                    std::all_of(out.begin(), out.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == ' ';
                    }))) {
    out.clear();
    return false;
  }
  return true;
}

} // namespace

std::string_view name(Id id) {
  for (const auto& t : kAll) {
    if (t.id == id) {
      return t.name;
    }
  }
  return "?";
}

std::span<const Transform> inPlace() { return kInPlace; }

uint8_t needs(std::string_view in) {
  uint8_t m = kNeedAny;
  for (const char c : in) {
    m |= kNeedOf[static_cast<unsigned char>(c)];
  }
  return m;
}
std::span<const Transform> all() { return kAll; }

bool Chain::contains(Id id) const {
  for (size_t i = 0; i < n_; ++i) {
    if (ids_[i] == id) {
      return true;
    }
  }
  return false;
}

std::string Chain::str() const {
  std::string s;
  for (size_t i = n_; i-- > 0;) {
    if (!s.empty()) {
      s.append(" <- ");
    }
    s.append(name(ids_[i]));
  }
  return s;
}

bool percent(std::string_view in, std::string& out, const PercentForms& forms) {
  out.clear();
  out.reserve(in.size());
  bool changed = false;
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c != '%' && (c != '+' || !forms.plusAsSpace)) {
      // Copy up to the next escape character in one run.
      size_t k = i + 1;
      if (forms.plusAsSpace) {
        while (k < in.size() && in[k] != '%' && in[k] != '+') {
          ++k;
        }
        out.append(in.data() + i, k - i);
      } else {
        k = copyRun(in, i, '%', out);
      }
      i = k - 1;
      continue;
    }
    if (c == '+') {
      out.push_back(' ');
      changed = true;
      continue;
    }
    if (forms.unicode && i + 5 < in.size() && (in[i + 1] == 'u' || in[i + 1] == 'U')) {
      const int32_t u = hex4(in, i + 2);
      if (u >= 0) {
        size_t j = i + 6;
        const uint32_t cp = combineSurrogates(static_cast<uint32_t>(u), [&]() -> int32_t {
          if (j + 6 <= in.size() && in[j] == '%' && (in[j + 1] == 'u' || in[j + 1] == 'U')) {
            const int32_t lo = hex4(in, j + 2);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
              j += 6;
            }
            return lo;
          }
          return -1;
        });
        appendUtf8(out, cp);
        i = j - 1;
        changed = true;
        continue;
      }
    }
    if (forms.hex && i + 2 < in.size()) {
      const int hi = hexValue(static_cast<unsigned char>(in[i + 1]));
      const int lo = hexValue(static_cast<unsigned char>(in[i + 2]));
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>((hi << 4) | lo));
        i += 2;
        changed = true;
        continue;
      }
    }
    out.push_back(c);
  }
  return changed;
}

bool url(std::string_view in, std::string& out) { return percent(in, out, PercentForms{}); }
bool urlForm(std::string_view in, std::string& out) {
  return percent(in, out, PercentForms{.plusAsSpace = true});
}
bool urlUnicode(std::string_view in, std::string& out) {
  return percent(in, out, PercentForms{.hex = false, .unicode = true});
}

bool overlong(std::string_view in, std::string& out) { return foldUnicode(in, out); }

bool xmlEntities(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  bool changed = false;
  const size_t n = in.size();
  size_t nextSemi = 0; // the first ';' at or after the last search start (npos: none left)
  for (size_t i = 0; i < n; ++i) {
    if (in[i] != '&') {
      i = copyRun(in, i, '&', out) - 1;
      continue;
    }
    if (nextSemi != std::string_view::npos && nextSemi <= i) {
      nextSemi = in.find(';', i + 1);
    }
    const size_t semi = nextSemi;
    if (semi == std::string_view::npos || semi - i > 12 || semi == i + 1) {
      out.push_back(in[i]);
      continue;
    }
    const std::string_view ref = in.substr(i + 1, semi - i - 1);
    uint32_t cp = 0;
    bool ok = false;
    if (ref[0] == '#') {
      const bool hex = ref.size() > 1 && (ref[1] == 'x' || ref[1] == 'X');
      const std::string_view digits = ref.substr(hex ? 2 : 1);
      ok = !digits.empty() && digits.size() <= 8;
      for (const char c : digits) {
        const int v = hex ? hexValue(static_cast<unsigned char>(c))
                          : (c >= '0' && c <= '9' ? c - '0' : -1);
        if (v < 0) {
          ok = false;
          break;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
      }
    } else {
      static constexpr std::pair<std::string_view, char> kPredefined[] = {
          {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
      for (const auto& [name, ch] : kPredefined) {
        if (ref == name) {
          cp = static_cast<unsigned char>(ch);
          ok = true;
        }
      }
    }
    if (!ok) {
      out.push_back(in[i]);
      continue;
    }
    appendUtf8(out, cp);
    i = semi;
    changed = true;
  }
  return changed;
}

bool htmlEntities(std::string_view in, std::string& out) { return decodeHtmlEntities(in, out); }

namespace {

// \uXXXX / \u{X..} (json) or \xHH (hex).
bool backslashEscapes(std::string_view in, std::string& out, bool json) {
  out.clear();
  out.reserve(in.size());
  bool changed = false;
  const size_t n = in.size();
  for (size_t i = 0; i < n; ++i) {
    if (in[i] != '\\') {
      i = copyRun(in, i, '\\', out) - 1;
      continue;
    }
    if (i + 1 >= n) {
      out.push_back(in[i]);
      continue;
    }
    const char k = in[i + 1];
    if (json && (k == 'u' || k == 'U')) {
      if (i + 2 < n && in[i + 2] == '{') {
        size_t j = i + 3;
        uint32_t cp = 0;
        while (j < n && j - i < 12 && hexValue(static_cast<unsigned char>(in[j])) >= 0) {
          cp = cp * 16 + static_cast<uint32_t>(hexValue(static_cast<unsigned char>(in[j])));
          ++j;
        }
        if (j < n && in[j] == '}' && j > i + 3 && cp < 0x110000) {
          appendUtf8(out, cp);
          i = j;
          changed = true;
          continue;
        }
      } else if (const int32_t u = hex4(in, i + 2); u >= 0) {
        size_t j = i + 6;
        const uint32_t cp = combineSurrogates(static_cast<uint32_t>(u), [&]() -> int32_t {
          if (j + 6 <= n && in[j] == '\\' && (in[j + 1] == 'u' || in[j + 1] == 'U')) {
            const int32_t lo = hex4(in, j + 2);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
              j += 6;
            }
            return lo;
          }
          return -1;
        });
        appendUtf8(out, cp);
        i = j - 1;
        changed = true;
        continue;
      }
    } else if (!json && (k == 'x' || k == 'X') && i + 3 < n) {
      const int hi = hexValue(static_cast<unsigned char>(in[i + 2]));
      const int lo = hexValue(static_cast<unsigned char>(in[i + 3]));
      if (hi >= 0 && lo >= 0) {
        appendUtf8(out, static_cast<uint32_t>((hi << 4) | lo));
        i += 3;
        changed = true;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return changed;
}

} // namespace

bool jsonEscapes(std::string_view in, std::string& out) { return backslashEscapes(in, out, true); }
bool hexEscapes(std::string_view in, std::string& out) { return backslashEscapes(in, out, false); }

bool utf7(std::string_view in, std::string& out) { return decodeUtf7(in, out); }

bool utf16(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() < 4) {
    return false;
  }
  bool little = true;
  size_t start = 0;
  const auto b0 = static_cast<unsigned char>(in[0]);
  const auto b1 = static_cast<unsigned char>(in[1]);
  if (b0 == 0xFF && b1 == 0xFE) {
    start = 2;
  } else if (b0 == 0xFE && b1 == 0xFF) {
    little = false;
    start = 2;
  } else if (in[0] == '\0' && in[1] != '\0') {
    little = false;
  } else if (!(in[0] != '\0' && in[1] == '\0')) {
    return false;
  }
  // Without a BOM, most units must be ASCII (a zero high byte): text, not binary.
  const size_t units = (in.size() - start) / 2;
  size_t ascii = 0;
  for (size_t u = 0; u < units; ++u) {
    const char hi = in[start + 2 * u + (little ? 1 : 0)];
    ascii += hi == '\0' ? 1 : 0;
  }
  if (start == 0 && ascii * 10 < units * 9) {
    return false;
  }
  out.reserve(in.size());
  auto unit = [&](size_t u) -> uint32_t {
    const auto a = static_cast<unsigned char>(in[start + 2 * u]);
    const auto b = static_cast<unsigned char>(in[start + 2 * u + 1]);
    return little ? (static_cast<uint32_t>(b) << 8 | a) : (static_cast<uint32_t>(a) << 8 | b);
  };
  for (size_t u = 0; u < units; ++u) {
    size_t next = u + 1;
    const uint32_t cp = combineSurrogates(unit(u), [&]() -> int32_t {
      if (next < units) {
        const uint32_t lo = unit(next);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
          ++next;
        }
        return static_cast<int32_t>(lo);
      }
      return -1;
    });
    appendUtf8(out, cp);
    u = next - 1;
  }
  if ((in.size() - start) % 2 != 0) {
    out.push_back(in.back());
  }
  return true;
}

bool base64(std::string_view in, std::string& out) { return base64Text(in, out, 1); }
bool base64url(std::string_view in, std::string& out) { return base64Text(in, out, 2); }

bool base64View(std::string_view in, std::string& out, Id& id) {
  if (in.size() < 6) {
    return false;
  }
  const bool urlSafe = has(in, '-') || has(in, '_');
  id = urlSafe ? Id::Base64Url : Id::Base64;
  return base64Text(in, out, 0);
}

void decode(std::string_view raw, std::string& out, bool plusAsSpace, const Budget& budget,
            Chain* chain) {
  thread_local std::string cur;
  thread_local std::string tmp;
  cur.assign(raw);
  size_t steps = 0;
  bool plus = plusAsSpace;
  uint8_t present = needs(cur);
  for (size_t round = 0; round < budget.rounds && steps < budget.maxSteps; ++round) {
    bool changed = false;
    for (const auto& t : kInPlace) {
      if (steps >= budget.maxSteps) {
        break;
      }
      if ((t.need & present) == 0) {
        continue;
      }
      const bool form = t.id == Id::Url && plus;
      if (!form && !t.guard(cur)) {
        continue;
      }
      const bool did = form ? urlForm(cur, tmp) : t.decode(cur, tmp);
      if (did) {
        cur.swap(tmp);
        present = needs(cur);
        changed = true;
        ++steps;
        if (chain != nullptr) {
          chain->push(t.id);
        }
      }
    }
    plus = false; // '+' means space in the first (form) decoding round only
    if (!changed) {
      break;
    }
  }
  // NUL bytes split keywords and truncate C strings: drop them.
  out.clear();
  out.reserve(cur.size());
  for (size_t i = 0; i < cur.size(); ++i) {
    i = copyRun(cur, i, '\0', out);
  }
}

} // namespace bulwark::detect::transforms

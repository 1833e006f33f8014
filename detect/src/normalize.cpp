#include "bulwark/detect/normalize.h"

#include <array>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "detectors.h"
#include "transforms/transforms.h"
#include "utf8.h"

namespace bulwark::detect {
namespace {

using internal::appendUtf8;
using internal::hexValue;

// Code points that are look-alikes of ASCII punctuation used by attacks.
uint32_t asciiLookalike(uint32_t cp) {
  if (cp >= 0xFF01 && cp <= 0xFF5E) {
    return cp - 0xFF01 + 0x21; // full-width forms
  }
  // Enclosed alphanumerics: circled digits and letters (NFKC folds them to ASCII).
  if (cp >= 0x2460 && cp <= 0x2468) {
    return '1' + (cp - 0x2460);
  }
  if (cp == 0x24EA || cp == 0x24FF) {
    return '0';
  }
  if (cp >= 0x24B6 && cp <= 0x24CF) {
    return 'A' + (cp - 0x24B6);
  }
  if (cp >= 0x24D0 && cp <= 0x24E9) {
    return 'a' + (cp - 0x24D0);
  }
  if (cp >= 0x2474 && cp <= 0x247C) {
    return '1' + (cp - 0x2474); // parenthesized digits
  }
  switch (cp) {
  case 0x2215: // division slash
  case 0x2044: // fraction slash
    return '/';
  case 0x2216: // set minus
  case 0xFE68:
    return '\\';
  case 0x2024: // one dot leader
  case 0xFE52:
    return '.';
  case 0x02BC: // modifier apostrophe
  case 0x2032:
    return '\'';
  case 0x00A0:
  case 0x3000:
    return ' ';
  case 0xFE64:
  case 0x2039:
    return '<';
  case 0xFE65:
  case 0x203A:
    return '>';
  default:
    return 0;
  }
}

struct Entity {
  std::string_view name;
  char ch;
};

constexpr std::array<Entity, 36> kEntities{{
    {"lt", '<'},     {"gt", '>'},    {"amp", '&'},      {"quot", '"'},   {"apos", '\''},
    {"sol", '/'},    {"bsol", '\\'}, {"colon", ':'},    {"semi", ';'},   {"lpar", '('},
    {"rpar", ')'},   {"tab", '\t'},  {"newline", '\n'}, {"nbsp", ' '},   {"equals", '='},
    {"period", '.'}, {"comma", ','}, {"excl", '!'},     {"num", '#'},    {"dollar", '$'},
    {"percnt", '%'}, {"plus", '+'},  {"lsqb", '['},     {"rsqb", ']'},   {"lbrack", '['},
    {"rbrack", ']'}, {"lcub", '{'},  {"rcub", '}'},     {"lbrace", '{'}, {"rbrace", '}'},
    {"grave", '`'},  {"hat", '^'},   {"ast", '*'},      {"quest", '?'},  {"lowbar", '_'},
    {"verbar", '|'},
}};

// For each first letter, the entities that start with it (bit i: kEntities[i]).
static_assert(kEntities.size() <= 64);
constexpr auto kEntitiesByFirst = [] {
  std::array<uint64_t, 26> t{};
  for (size_t i = 0; i < kEntities.size(); ++i) {
    t[static_cast<size_t>(kEntities[i].name[0] - 'a')] |= uint64_t{1} << i;
  }
  return t;
}();

// The entity named `name` (lower-case letters), or nullptr.
const Entity* findEntity(std::string_view name) {
  for (uint64_t m = kEntitiesByFirst[static_cast<size_t>(name[0] - 'a')]; m != 0; m &= m - 1) {
    const Entity& e = kEntities[static_cast<size_t>(__builtin_ctzll(m))];
    if (e.name == name) {
      return &e;
    }
  }
  return nullptr;
}

constexpr size_t kLongestEntity = [] {
  size_t n = 0;
  for (const auto& e : kEntities) {
    n = e.name.size() > n ? e.name.size() : n;
  }
  return n;
}();

} // namespace

bool percentDecode(std::string_view in, std::string& out, bool plusAsSpace) {
  return transforms::percent(in, out,
                             transforms::PercentForms{.plusAsSpace = plusAsSpace, .unicode = true});
}

bool foldUnicode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  bool changed = false;
  const size_t n = in.size();
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    if (c < 0xC0) {
      size_t k = i + 1;
      while (k < n && static_cast<unsigned char>(in[k]) < 0xC0) {
        ++k;
      }
      out.append(in.data() + i, k - i);
      i = k - 1;
      continue;
    }
    auto at = [&](size_t k) { return static_cast<unsigned char>(in[i + k]); };
    if ((c == 0xC0 || c == 0xC1) && i + 1 < n) {
      // Overlong 2-byte ASCII. With a non-continuation second byte (%c0%2e, %c0\\) the lead
      // byte is noise that lenient decoders drop.
      if (at(1) >= 0x80) {
        // %c1%af is read as '/' by the decoders attackers target: low six bits when they are
        // punctuation, else the strict value (%c1%9c -> '\\').
        const unsigned char low6 = at(1) & 0x3F;
        out.push_back(static_cast<char>(low6 >= 0x20 ? low6 : (((c & 1) << 6) | low6)));
        ++i;
      }
      changed = true;
      continue;
    }
    if (c == 0xE0 && i + 2 < n && at(1) < 0xA0) {
      const uint32_t cp = ((at(1) & 0x3Fu) << 6) | (at(2) & 0x3Fu);
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
        i += 2;
        changed = true;
        continue;
      }
    }
    if (c == 0xF0 && i + 3 < n && at(1) < 0x90) {
      const uint32_t cp = ((at(1) & 0x3Fu) << 12) | ((at(2) & 0x3Fu) << 6) | (at(3) & 0x3Fu);
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
        i += 3;
        changed = true;
        continue;
      }
    }
    if ((c == 0xF8 || c == 0xFC) && i + (c == 0xF8 ? 4 : 5) < n) {
      // 5- and 6-byte overlong forms (%f8%80%80%80%ae): never valid UTF-8, read as ASCII by
      // the lenient decoders attackers target.
      const size_t len = c == 0xF8 ? 5 : 6;
      bool cont = true;
      for (size_t k = 1; k < len; ++k) {
        cont &= (at(k) & 0xC0) == 0x80;
      }
      if (cont) {
        out.push_back(static_cast<char>((at(len - 1) & 0x3F) | ((at(len - 2) & 0x01) << 6)));
        i += len - 1;
        changed = true;
        continue;
      }
    }
    // Well-formed multi-byte sequences: fold ASCII look-alikes.
    uint32_t cp = 0;
    size_t len = 0;
    if ((c & 0xE0) == 0xC0 && i + 1 < n && (at(1) & 0xC0) == 0x80) {
      cp = ((c & 0x1Fu) << 6) | (at(1) & 0x3Fu);
      len = 2;
    } else if ((c & 0xF0) == 0xE0 && i + 2 < n && (at(1) & 0xC0) == 0x80 &&
               (at(2) & 0xC0) == 0x80) {
      cp = ((c & 0x0Fu) << 12) | ((at(1) & 0x3Fu) << 6) | (at(2) & 0x3Fu);
      len = 3;
    }
    if (len > 0) {
      if (const uint32_t a = asciiLookalike(cp); a != 0) {
        out.push_back(static_cast<char>(a));
        i += len - 1;
        changed = true;
        continue;
      }
      out.append(in.substr(i, len));
      i += len - 1;
      continue;
    }
    out.push_back(static_cast<char>(c));
  }
  return changed;
}

namespace {

// Whether decodeHtmlEntities would change anything: a '&' followed by '#' or by a run of letters
// that names an entity. Most '&' in values are parameter separators.
bool anyEntity(std::string_view in) {
  const size_t n = in.size();
  for (size_t i = in.find('&'); i != std::string_view::npos && i + 2 < n; i = in.find('&', i + 1)) {
    if (in[i + 1] == '#') {
      return true;
    }
    size_t j = i + 1;
    char buf[9];
    while (j < n && j - i <= 8 &&
           ((in[j] >= 'a' && in[j] <= 'z') || (in[j] >= 'A' && in[j] <= 'Z'))) {
      buf[j - i - 1] = static_cast<char>(in[j] | 0x20);
      ++j;
    }
    if (j == i + 1 || j - i - 1 > kLongestEntity) {
      continue;
    }
    if (findEntity(std::string_view(buf, j - i - 1)) != nullptr) {
      return true;
    }
  }
  return false;
}

} // namespace

bool decodeHtmlEntities(std::string_view in, std::string& out) {
  if (!anyEntity(in)) {
    out.assign(in);
    return false;
  }
  out.clear();
  out.reserve(in.size());
  bool changed = false;
  const size_t n = in.size();
  for (size_t i = 0; i < n; ++i) {
    if (in[i] != '&') {
      i = transforms::copyRun(in, i, '&', out) - 1;
      continue;
    }
    if (i + 2 >= n) {
      out.push_back(in[i]);
      continue;
    }
    if (in[i + 1] == '#') {
      size_t j = i + 2;
      uint32_t cp = 0;
      bool hex = false;
      if (j < n && (in[j] == 'x' || in[j] == 'X')) {
        hex = true;
        ++j;
      }
      const size_t start = j;
      while (j < n && j - start < 10) {
        const int v = hex ? hexValue(in[j]) : (in[j] >= '0' && in[j] <= '9' ? in[j] - '0' : -1);
        if (v < 0) {
          break;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
        ++j;
      }
      if (j > start && cp < 0x110000) {
        appendUtf8(out, cp); // NUL: U+FFFD
        if (j < n && in[j] == ';') {
          ++j;
        }
        i = j - 1;
        changed = true;
        continue;
      }
      out.push_back(in[i]);
      continue;
    }
    size_t j = i + 1;
    while (j < n && j - i <= 8 &&
           ((in[j] >= 'a' && in[j] <= 'z') || (in[j] >= 'A' && in[j] <= 'Z'))) {
      ++j;
    }
    bool done = false;
    if (j > i + 1) {
      char buf[9]; // the loop above stops after 8 letters
      for (size_t k = i + 1; k < j; ++k) {
        buf[k - i - 1] = static_cast<char>(in[k] | 0x20);
      }
      const std::string_view name(buf, j - i - 1);
      if (const Entity* e = name.size() <= kLongestEntity ? findEntity(name) : nullptr) {
        out.push_back(e->ch);
        i = (j < n && in[j] == ';') ? j : j - 1;
        changed = true;
        done = true;
      }
    }
    if (!done) {
      out.push_back(in[i]);
    }
  }
  return changed;
}

bool decodeJsEscapes(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  bool changed = false;
  const size_t n = in.size();
  for (size_t i = 0; i < n; ++i) {
    if (in[i] != '\\') {
      i = transforms::copyRun(in, i, '\\', out) - 1;
      continue;
    }
    if (i + 1 >= n) {
      out.push_back(in[i]);
      continue;
    }
    const char k = in[i + 1];
    if ((k == 'u' || k == 'U') && i + 5 < n && in[i + 2] != '{') {
      int h[4] = {hexValue(in[i + 2]), hexValue(in[i + 3]), hexValue(in[i + 4]),
                  hexValue(in[i + 5])};
      if (h[0] >= 0 && h[1] >= 0 && h[2] >= 0 && h[3] >= 0) {
        const uint32_t cp = static_cast<uint32_t>((h[0] << 12) | (h[1] << 8) | (h[2] << 4) | h[3]);
        appendUtf8(out, cp); // NUL: U+FFFD
        i += 5;
        changed = true;
        continue;
      }
    } else if ((k == 'u' || k == 'U') && i + 3 < n && in[i + 2] == '{') {
      size_t j = i + 3;
      uint32_t cp = 0;
      while (j < n && j - i < 12 && hexValue(in[j]) >= 0) {
        cp = cp * 16 + static_cast<uint32_t>(hexValue(in[j]));
        ++j;
      }
      if (j < n && in[j] == '}' && j > i + 3 && cp < 0x110000) {
        appendUtf8(out, cp); // NUL: U+FFFD
        i = j;
        changed = true;
        continue;
      }
    } else if ((k == 'x' || k == 'X') && i + 3 < n) {
      const int hi = hexValue(in[i + 2]);
      const int lo = hexValue(in[i + 3]);
      if (hi >= 0 && lo >= 0) {
        const int v = (hi << 4) | lo;
        appendUtf8(out, static_cast<uint32_t>(v)); // NUL: U+FFFD
        i += 3;
        changed = true;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return changed;
}

bool decodeUtf7(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  bool changed = false;
  auto b64 = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') {
      return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
      return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
      return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  // '+' is a base64 character too: a run that fails to decode holds more '+' that start
  // decodes of their own. One from s + 8k reads the same units as one from s (8 sextets are 3
  // units) from the 3k-th on, so it fails at the same unit when that unit's 8-sextet group
  // starts at or after it: per start residue mod 8, the last such group start is kept.
  std::array<size_t, 8> failsThrough{};
  std::array<bool, 8> failKnown{};
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '+') {
      i = transforms::copyRun(in, i, '+', out) - 1;
      continue;
    }
    if (i + 1 >= in.size() || b64(in[i + 1]) < 0) {
      out.push_back(in[i]);
      continue;
    }
    const size_t start = i + 1;
    if (failKnown[start % 8] && start <= failsThrough[start % 8]) {
      out.push_back(in[i]);
      continue;
    }
    // +<base64 of UTF-16BE>[-]: decode only when every unit is ASCII (the evasion case).
    size_t j = i + 1;
    uint32_t acc = 0;
    int bits = 0;
    std::string ascii;
    bool ok = true;
    while (j < in.size() && b64(in[j]) >= 0) {
      acc = (acc << 6) | static_cast<uint32_t>(b64(in[j]));
      bits += 6;
      if (bits >= 16) {
        bits -= 16;
        const uint32_t unit = (acc >> bits) & 0xFFFF;
        if (unit == 0 || unit >= 0x80) {
          ok = false;
          break;
        }
        ascii.push_back(static_cast<char>(unit));
      }
      ++j;
    }
    if (!ok) {
      failKnown[start % 8] = true;
      failsThrough[start % 8] = start + (j - start) / 8 * 8;
    }
    if (!ok || ascii.empty()) {
      out.push_back(in[i]);
      continue;
    }
    out.append(ascii);
    if (j < in.size() && in[j] == '-') {
      ++j;
    }
    i = j - 1;
    changed = true;
  }
  return changed;
}

void normalizeValue(std::string_view raw, std::string& out, bool plusAsSpace, size_t maxRounds) {
  transforms::Budget budget;
  budget.rounds = maxRounds;
  budget.maxSteps = maxRounds * 4;
  transforms::decode(raw, out, plusAsSpace, budget, nullptr);
}

void toLowerAscii(std::string_view in, std::string& out) {
  out.resize(in.size());
  char* o = out.data();
  size_t i = 0;
#if defined(__SSE2__)
  // 16 bytes at a time: bytes in 'A'..'Z' get 0x20 (signed compares: bytes >= 0x80 are
  // negative and stay as they are).
  const __m128i before = _mm_set1_epi8('A' - 1);
  const __m128i after = _mm_set1_epi8('Z' + 1);
  const __m128i bit = _mm_set1_epi8(0x20);
  for (; i + 16 <= in.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in.data() + i));
    const __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, before), _mm_cmplt_epi8(v, after));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + i),
                     _mm_or_si128(v, _mm_and_si128(upper, bit)));
  }
#endif
  for (; i < in.size(); ++i) {
    const char c = in[i];
    o[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
  }
}

size_t canonicalPath(std::string_view decodedPath, std::string& out) {
  out.clear();
  out.push_back('/');
  size_t climbs = 0;
  size_t i = 0;
  const size_t n = decodedPath.size();
  while (i < n) {
    while (i < n && (decodedPath[i] == '/' || decodedPath[i] == '\\')) {
      ++i;
    }
    size_t j = i;
    while (j < n && decodedPath[j] != '/' && decodedPath[j] != '\\') {
      ++j;
    }
    std::string_view seg = decodedPath.substr(i, j - i);
    // "..;x" (Tomcat path parameters) climbs too.
    if (const size_t semi = seg.find(';'); semi != std::string_view::npos) {
      seg = seg.substr(0, semi);
    }
    if (seg.empty() || seg == ".") {
      // nothing
    } else if (seg == ".." || seg == ". ." || seg == "...") {
      if (out.size() > 1) {
        out.pop_back();
        while (out.back() != '/') {
          out.pop_back();
        }
      } else {
        ++climbs;
      }
    } else {
      out.append(seg);
      out.push_back('/');
    }
    i = j;
  }
  if (out.size() > 1 && !(n > 0 && (decodedPath.back() == '/' || decodedPath.back() == '\\'))) {
    out.pop_back();
  }
  return climbs;
}

bool tryBase64Text(std::string_view in, std::string& out) {
  transforms::Id id{};
  return transforms::base64View(in, out, id);
}

} // namespace bulwark::detect

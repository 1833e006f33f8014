#pragma once

// The field list of a checked request head (http_head.cpp): the names the proxy acts on, and
// the order Beast's field container keeps.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "bulwark/filter/http_head.h"

namespace bulwark::filter::http1 {

// ASCII case folding (what std::tolower does in the "C" locale the proxy runs in).
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) {
      return false;
    }
  }
  return true;
}

// Whether the token `name` is `lower` (lowercase letters, digits, '-') in any case, eight bytes
// at a time: setting bit 0x20 of a token byte folds a letter to lowercase and turns no other
// token byte into a letter, a digit or '-'.
inline bool tokenIs(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) {
    return false;
  }
  size_t i = 0;
  for (; i + 8 <= name.size(); i += 8) {
    uint64_t a;
    uint64_t b;
    std::memcpy(&a, name.data() + i, 8);
    std::memcpy(&b, lower.data() + i, 8);
    if ((a | 0x2020202020202020ULL) != b) {
      return false;
    }
  }
  for (; i < name.size(); ++i) {
    if ((static_cast<unsigned char>(name[i]) | 0x20) != static_cast<unsigned char>(lower[i])) {
      return false;
    }
  }
  return true;
}

// Beast's field enum for the names the proxy reads or acts on (framing, routing, hop-by-hop,
// Accept, and HTTP2-Settings, which is never forwarded); unknown
// for any other name, whose id nothing reads. Cheaper than Beast's lookup of every known name.
inline boost::beast::http::field fieldIdOf(std::string_view name) {
  using F = boost::beast::http::field;
  const auto is = [name](std::string_view known) { return tokenIs(name, known); };
  switch (name.size()) {
  case 2:
    return is("te") ? F::te : F::unknown;
  case 4:
    return is("host") ? F::host : F::unknown;
  case 6:
    return is("accept") ? F::accept : is("expect") ? F::expect : F::unknown;
  case 7:
    return is("upgrade") ? F::upgrade : is("trailer") ? F::trailer : F::unknown;
  case 10:
    return is("connection") ? F::connection : is("keep-alive") ? F::keep_alive : F::unknown;
  case 12:
    return is("content-type") ? F::content_type : F::unknown;
  case 14:
    return is("content-length")   ? F::content_length
           : is("http2-settings") ? F::http2_settings
                                  : F::unknown;
  case 16:
    return is("content-encoding")   ? F::content_encoding
           : is("proxy-connection") ? F::proxy_connection
                                    : F::unknown;
  case 17:
    return is("transfer-encoding") ? F::transfer_encoding : F::unknown;
  default:
    return F::unknown;
  }
}

inline bool sameName(const HeadField& a, const HeadField& b) {
  if (a.id != b.id || a.name.size() != b.name.size()) {
    return false;
  }
  if (a.id != boost::beast::http::field::unknown) {
    return true;
  }
  for (size_t i = 0; i < a.name.size(); ++i) { // ASCII case folding
    auto x = static_cast<unsigned char>(a.name[i]);
    auto y = static_cast<unsigned char>(b.name[i]);
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) {
      return false;
    }
  }
  return true;
}

// Adds a field after the last one of the same name, else at the end (as Beast's container).
inline void addField(std::vector<HeadField>& fields, const HeadField& f) {
  for (size_t k = fields.size(); k-- > 0;) {
    if (sameName(fields[k], f)) {
      fields.insert(fields.begin() + static_cast<std::ptrdiff_t>(k + 1), f);
      return;
    }
  }
  fields.push_back(f);
}

} // namespace bulwark::filter::http1

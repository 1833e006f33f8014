#include "bulwark/filter/forward_headers.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <charconv>
#include <cstring>
#include <random>

#include "bulwark/filter/local_reply.h"
#include "head_fields.h"

namespace bulwark::filter {
namespace {

namespace http = boost::beast::http;

using http1::iequals;

// The tokens of a Connection value (comma-separated, blanks around them ignored), split once
// into views (no copy) and looked up for every field of the head.
class ConnectionTokens {
public:
  ConnectionTokens() = default;
  explicit ConnectionTokens(std::string_view value) : value_(value) {
    forEach(value_, [this](std::string_view t) {
      if (count_ == kMax) {
        many_ = true; // looked up in the value itself
        return false;
      }
      tokens_[count_++] = t;
      return true;
    });
  }
  // Names listed in a Connection header are hop-by-hop for this message too.
  bool lists(std::string_view name) const {
    if (many_) {
      bool found = false;
      forEach(value_, [&](std::string_view t) {
        found = iequals(t, name);
        return !found;
      });
      return found;
    }
    for (size_t i = 0; i < count_; ++i) {
      if (iequals(tokens_[i], name)) {
        return true;
      }
    }
    return false;
  }

private:
  static constexpr size_t kMax = 8;
  template <class Fn>
  static void forEach(std::string_view rest, Fn&& fn) { // fn returns false to stop
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
        item.remove_prefix(1);
      }
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
        item.remove_suffix(1);
      }
      if (!item.empty() && !fn(item)) {
        return;
      }
    }
  }
  std::string_view value_;
  std::array<std::string_view, kMax> tokens_{};
  size_t count_ = 0;
  bool many_ = false;
};

template <bool isRequest, class Fields>
ConnectionTokens connectionTokens(const http::header<isRequest, Fields>& h) {
  if (auto c = h.find(http::field::connection); c != h.end()) {
    return ConnectionTokens(c->value());
  }
  return {};
}

ConnectionTokens connectionTokens(const http1::Request& r) {
  if (const auto* c = r.find(http::field::connection)) {
    return ConnectionTokens(c->value);
  }
  return {};
}

// One field of either kind of request head.
template <class F> http::field idOf(const F& f) { return f.name(); }
template <class F> std::string_view nameOf(const F& f) { return f.name_string(); }
template <class F> std::string_view valueOf(const F& f) { return f.value(); }
inline http::field idOf(const http1::HeadField& f) { return f.id; }
inline std::string_view nameOf(const http1::HeadField& f) { return f.name; }
inline std::string_view valueOf(const http1::HeadField& f) { return f.value; }

std::string_view methodOf(const RequestHead& r) { return r.method_string(); }
std::string_view methodOf(const http1::Request& r) { return r.method; }
const auto& fieldsOf(const RequestHead& r) { return r; }
const auto& fieldsOf(const http1::Request& r) { return r.fields; }

// One resize and two copies per field line (the head buffer keeps its capacity between
// requests, so the resize rarely allocates).
void appendField(std::string& out, std::string_view name, std::string_view value) {
  const size_t at = out.size();
  out.resize(at + name.size() + value.size() + 4);
  char* p = out.data() + at;
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  *p++ = ':';
  *p++ = ' ';
  std::memcpy(p, value.data(), value.size());
  p += value.size();
  *p++ = '\r';
  *p = '\n';
}

} // namespace

bool validRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '-';
  });
}

void newRequestId(std::span<char, kRequestIdLength> out) {
  thread_local std::mt19937_64 rng{
      std::random_device{}() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  // Each byte as two digits, its low nibble first (a table: half the steps of nibble by nibble).
  static constexpr auto kDigits = [] {
    constexpr char kHex[] = "0123456789abcdef";
    std::array<std::array<char, 2>, 256> t{};
    for (size_t b = 0; b < 256; ++b) {
      t[b] = {kHex[b & 0xF], kHex[b >> 4]};
    }
    return t;
  }();
  for (size_t half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (size_t i = 0; i < 16; i += 2) {
      std::memcpy(&out[half * 16 + i], kDigits[v & 0xFF].data(), 2);
      v >>= 8;
    }
  }
}

std::string newRequestId() {
  std::string id(kRequestIdLength, '0');
  newRequestId(std::span<char, kRequestIdLength>(id.data(), kRequestIdLength));
  return id;
}

bool isHopByHop(http::field f) {
  switch (f) {
  case http::field::connection:
  case http::field::keep_alive:
  case http::field::proxy_connection:
  case http::field::te:
  case http::field::trailer:
  case http::field::transfer_encoding:
  case http::field::upgrade:
  case http::field::content_length: // re-stated from the parsed framing
    return true;
  default:
    return false;
  }
}

std::string requestHeadForApp(const RequestHead& req, const AppHeadParams& p) {
  std::string out;
  requestHeadForApp(req, p, out);
  return out;
}

namespace {

template <class Head>
void appHeadFrom(const Head& req, const AppHeadParams& p, std::string& out) {
  out.clear();
  out.append(methodOf(req));
  out += ' ';
  out.append(p.target);
  out += " HTTP/1.1\r\n";
  const auto dropped = connectionTokens(req);
  std::string xff;
  bool host = false;
  for (const auto& f : fieldsOf(req)) {
    const auto name = idOf(f);
    // HTTP2-Settings is connection-specific like the hop-by-hop fields: it belongs to an h2c
    // upgrade, which is never forwarded.
    if (isHopByHop(name) || name == http::field::expect || name == http::field::http2_settings) {
      continue;
    }
    const auto fname = nameOf(f);
    if (name == http::field::unknown) { // the lengths first: most names differ in them
      const size_t len = fname.size();
      if (len == 15 && iequals(fname, "x-forwarded-for")) {
        if (!xff.empty()) {
          xff += ", ";
        }
        xff.append(valueOf(f));
        continue;
      }
      if ((len == 17 && iequals(fname, "x-forwarded-proto")) ||
          (len == 12 && iequals(fname, "x-request-id"))) {
        continue;
      }
    }
    if (name == http::field::host && !p.hostOverride.empty()) {
      continue;
    }
    if (dropped.lists(fname)) {
      continue;
    }
    host = host || name == http::field::host;
    appendField(out, fname, valueOf(f));
  }
  if (!p.hostOverride.empty()) {
    appendField(out, "Host", p.hostOverride);
  } else if (!host) {
    appendField(out, "Host", p.defaultHost);
  }
  out += "X-Forwarded-For: ";
  if (!xff.empty()) {
    out += xff;
    out += ", ";
  }
  out.append(p.peerIp);
  out += "\r\nX-Forwarded-Proto: http\r\n";
  appendField(out, "X-Request-Id", p.requestId);
  if (p.chunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (p.contentLength) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, *p.contentLength).ptr;
    appendField(out, "Content-Length", std::string_view(digits, static_cast<size_t>(end - digits)));
  }
  if (p.upgrade) {
    out += "Connection: Upgrade\r\n";
    appendField(out, "Upgrade", req[http::field::upgrade]);
  }
  out += "\r\n";
}

} // namespace

void requestHeadForApp(const RequestHead& req, const AppHeadParams& p, std::string& out) {
  appHeadFrom(req, p, out);
}

void requestHeadForApp(const http1::Request& req, const AppHeadParams& p, std::string& out) {
  appHeadFrom(req, p, out);
}

std::string responseHeadForClient(const ResponseHead& res, const ClientHeadParams& p) {
  std::string out;
  responseHeadForClient(res, p, out);
  return out;
}

namespace {

template <class Head>
void clientHeadFrom(const Head& res, const ClientHeadParams& p, std::string& out) {
  const unsigned status = res.result_int();
  out.clear();
  out += "HTTP/1.1 ";
  char digits[8];
  const auto end = std::to_chars(digits, digits + sizeof digits, status).ptr;
  out.append(digits, static_cast<size_t>(end - digits));
  out += ' ';
  const auto reason = res.reason();
  out.append(reason.empty() ? reasonPhrase(status) : reason);
  out += "\r\n";
  const ConnectionTokens dropped = p.keepUpgrade ? ConnectionTokens() : connectionTokens(res);
  bool hasId = false;
  for (const auto& f : res) {
    const auto name = f.name();
    if (p.keepUpgrade && (name == http::field::connection || name == http::field::upgrade)) {
      // a 101 keeps its protocol switch fields
    } else if (name == http::field::content_length && p.keepLength) {
      // the length stays (also for HEAD and 304 answers)
    } else if (isHopByHop(name) || dropped.lists(f.name_string())) {
      continue;
    }
    hasId = hasId || iequals(f.name_string(), "x-request-id");
    appendField(out, f.name_string(), f.value());
  }
  if (!hasId) {
    appendField(out, "X-Request-Id", p.requestId);
  }
  if (p.chunkedOut) {
    out += "Transfer-Encoding: chunked\r\n";
  }
  if (!p.keepUpgrade && status >= 200) {
    if (p.closeAfter) {
      out += "Connection: close\r\n";
    } else if (p.http10) {
      out += "Connection: keep-alive\r\n";
    }
  }
  out += "\r\n";
}

} // namespace

void responseHeadForClient(const ResponseHead& res, const ClientHeadParams& p, std::string& out) {
  clientHeadFrom(res, p, out);
}

std::string responseHeadForClient(const PooledResponseHead& res, const ClientHeadParams& p) {
  std::string out;
  clientHeadFrom(res, p, out);
  return out;
}

void responseHeadForClient(const PooledResponseHead& res, const ClientHeadParams& p,
                           std::string& out) {
  clientHeadFrom(res, p, out);
}

} // namespace bulwark::filter

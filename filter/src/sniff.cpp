#include "bulwark/filter/http_head.h"

#include <algorithm>
#include <array>

namespace bulwark::filter::http1 {
namespace {

constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

constexpr std::array<std::string_view, 16> kKnownMethods = {
    "GET",     "POST",    "HEAD",  "PUT",      "DELETE",    "OPTIONS", "PATCH", "TRACE",
    "CONNECT", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK"};

} // namespace

Sniff sniffProtocol(std::string_view data, const Limits& limits) {
  if (data.empty()) {
    return Sniff::NeedMore;
  }
  if (static_cast<unsigned char>(data[0]) == 0x16) {
    return Sniff::Tls;
  }
  const size_t cmp = std::min(data.size(), kH2Preface.size());
  if (data.substr(0, cmp) == kH2Preface.substr(0, cmp)) {
    // Only the whole 24-byte connection preface is HTTP/2. A "PRI * HTTP/2.0" line followed by
    // anything else is an HTTP/1 request line (refused by the head checks), never a tunnel.
    return cmp == kH2Preface.size() ? Sniff::Http2Preface : Sniff::NeedMore;
  }
  // A known method and any separator after it: HTTP, however malformed the rest turns out to be.
  size_t p = 0;
  while (p < data.size() && isTchar(static_cast<unsigned char>(data[p]))) ++p;
  if (p < data.size()) {
    const std::string_view method = data.substr(0, p);
    for (auto m : kKnownMethods) {
      if (method == m) {
        return Sniff::Http;
      }
    }
  }
  // Binary bytes before the first line end: some other protocol, unless the line claims to be
  // HTTP/1.x (a NUL or control byte in a request line is refused as HTTP, never tunnelled to
  // an app that might strip it and parse the rest).
  const size_t lf = data.find('\n');
  const std::string_view head = data.substr(0, lf);
  for (char c : head) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\r' && u != '\t') || u == 0x7F) {
      return head.find("HTTP/1.") != std::string_view::npos ? Sniff::Http : Sniff::Unknown;
    }
  }
  if (lf == std::string_view::npos) {
    return data.size() > limits.maxRequestLine ? Sniff::Unknown : Sniff::NeedMore;
  }
  // A text line: anything that claims to be HTTP is parsed (and refused if malformed), so an
  // odd request line cannot slip past inspection as "another protocol".
  if (head.find(" HTTP/") != std::string_view::npos || head.find("\tHTTP/") != std::string_view::npos) {
    return Sniff::Http;
  }
  return Sniff::Unknown;
}

} // namespace bulwark::filter::http1

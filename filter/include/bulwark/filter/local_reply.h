#pragma once

#include <string>
#include <string_view>

namespace bulwark::filter {

// An answer the proxy writes itself (400/403/405/408/413/417/431/502/504/505 and the block
// page), never the app's.
struct LocalReply {
  unsigned status = 400;
  std::string_view error;     // one line for the JSON body ("request blocked by ...")
  std::string_view requestId; // also sent as X-Request-Id
  bool html = false;          // the block page for a browser (Accept: text/html)
  const std::string* htmlPage = nullptr; // with html: the configured page ({{request_id}}) or null
  bool headOnly = false;      // the request was HEAD: no body
  bool close = true;          // Connection: close
  bool noStore = false;       // Cache-Control: no-store (a block decision must not be cached)
};

// The whole response: status line, headers and a small JSON body (or the HTML block page).
std::string renderLocalReply(const LocalReply& r);

// The reason phrase the proxy uses for `status`.
std::string_view reasonPhrase(unsigned status);

} // namespace bulwark::filter

#include "bulwark/filter/local_reply.h"

#include <boost/beast/http/status.hpp>

#include "bulwark/common/log.h"

namespace bulwark::filter {

std::string_view reasonPhrase(unsigned status) {
  switch (status) {
  case 400:
    return "Bad Request";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 413:
    return "Content Too Large";
  case 417:
    return "Expectation Failed";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  }
}

std::string renderLocalReply(const LocalReply& r) {
  std::string body;
  if (r.html && r.htmlPage) {
    // The configured page: each {{request_id}} becomes the id (a safe token, nothing to escape).
    constexpr std::string_view kMark = "{{request_id}}";
    const std::string& page = *r.htmlPage;
    size_t from = 0;
    for (size_t at; (at = page.find(kMark, from)) != std::string::npos; from = at + kMark.size()) {
      body.append(page, from, at - from);
      body.append(r.requestId);
    }
    body.append(page, from, std::string::npos);
  } else if (r.html) {
    body = "<!doctype html><html><head><title>403 Forbidden</title></head><body>"
           "<h1>403 Forbidden</h1><p>This request was blocked by the web application "
           "firewall.</p><p>Request ID: <code>";
    body.append(r.requestId);
    body += "</code></p></body></html>\n";
  } else {
    body = "{\"status\":" + std::to_string(r.status) + ",\"error\":\"";
    log::appendJsonEscaped(body, r.error);
    body += "\",\"request_id\":\"";
    body.append(r.requestId);
    body += "\"}\n";
  }
  std::string msg = "HTTP/1.1 " + std::to_string(r.status) + " ";
  msg.append(reasonPhrase(r.status));
  msg += "\r\nContent-Type: ";
  msg += r.html ? "text/html; charset=utf-8" : "application/json";
  msg += "\r\nContent-Length: " + std::to_string(body.size());
  if (r.noStore) {
    msg += "\r\nCache-Control: no-store";
  }
  msg += "\r\nX-Request-Id: ";
  msg.append(r.requestId);
  msg += r.close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n";
  if (!r.headOnly) {
    msg += body;
  }
  return msg;
}

} // namespace bulwark::filter

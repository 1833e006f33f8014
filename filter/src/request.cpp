#include "bulwark/filter/http_head.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace bulwark::filter::http1 {

namespace http = boost::beast::http;

namespace {

// Beast's own string view (std::string_view, or Boost's where Beast is built without it).
boost::beast::string_view bv(std::string_view s) { return {s.data(), s.size()}; }

} // namespace

const HeadField* Request::find(http::field id) const {
  for (const HeadField& f : fields) {
    if (f.id == id) {
      return &f;
    }
  }
  return nullptr;
}

const HeadField* Request::find(std::string_view name) const {
  for (const HeadField& f : fields) {
    if (boost::beast::iequals(bv(f.name), bv(name))) {
      return &f;
    }
  }
  return nullptr;
}

bool readRequest(const HeadInfo& info, std::span<const HeadField> fields, Request& req) {
  req.method = info.method;
  req.verb = http::string_to_verb(bv(info.method));
  req.target = info.target;
  req.fields = fields;
  req.contentLength = info.contentLength;
  // Connection options, read as Beast's request parser reads them (and refused where it
  // refuses them): both Connection and Proxy-Connection count.
  bool close = false;
  bool keepAlive = false;
  bool upgrade = false;
  for (const HeadField& f : fields) {
    if (f.id != http::field::connection && f.id != http::field::proxy_connection) {
      continue;
    }
    const http::opt_token_list list{bv(f.value)};
    if (!http::validate_list(list)) {
      return false;
    }
    for (const auto& token : list) {
      if (boost::beast::iequals(token, "close")) {
        close = true;
      } else if (boost::beast::iequals(token, "keep-alive")) {
        keepAlive = true;
      } else if (boost::beast::iequals(token, "upgrade")) {
        upgrade = true;
      }
    }
  }
  req.keepAlive = info.versionMinor >= 1 ? !close : keepAlive;
  req.connectionUpgrade = upgrade;
  return true;
}

} // namespace bulwark::filter::http1

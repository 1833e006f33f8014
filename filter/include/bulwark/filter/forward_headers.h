#pragma once

#include <cstdint>
#include <memory_resource>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/message.hpp>

#include "bulwark/filter/http_head.h"

namespace bulwark::filter {

using RequestHead = boost::beast::http::request_header<>;
using ResponseHead = boost::beast::http::response_header<>;
// A response head whose fields live in a memory resource (the session's, reset per response).
using ResponseFields = boost::beast::http::basic_fields<std::pmr::polymorphic_allocator<char>>;
using PooledResponseHead = boost::beast::http::response_header<ResponseFields>;

// An incoming X-Request-Id is kept when it is 1..128 of [A-Za-z0-9._:-].
bool validRequestId(std::string_view id);
// 32 random hex digits.
constexpr size_t kRequestIdLength = 32;
std::string newRequestId();
void newRequestId(std::span<char, kRequestIdLength> out);

// Headers that describe one hop and are never forwarded as they came.
bool isHopByHop(boost::beast::http::field f);

struct AppHeadParams {
  std::string_view requestId;
  std::string_view peerIp;      // appended to X-Forwarded-For
  std::string_view target;      // the request-target to send (origin-form)
  std::string_view defaultHost; // Host when the request has none (HTTP/1.0)
  std::string_view hostOverride{}; // absolute-form authority: replaces every Host field
  bool chunked = false;
  std::optional<uint64_t> contentLength{};
  bool upgrade = false; // keep the (validated) Upgrade
};

// The request head sent to the app: HTTP/1.1, hop-by-hop fields (and HTTP2-Settings) and those
// named in Connection removed, framing re-stated, X-Forwarded-For appended, X-Forwarded-Proto and X-Request-Id set.
std::string requestHeadForApp(const RequestHead& req, const AppHeadParams& p);
// The same into `out` (replaced; its capacity is reused from one request to the next).
void requestHeadForApp(const RequestHead& req, const AppHeadParams& p, std::string& out);
// The same from a checked head's field list (what the proxy forwards; no Beast parse).
void requestHeadForApp(const http1::Request& req, const AppHeadParams& p, std::string& out);

struct ClientHeadParams {
  std::string_view requestId;
  bool keepUpgrade = false; // a 101 keeps Connection/Upgrade
  bool keepLength = true;   // the app's Content-Length stays (not chunked)
  bool chunkedOut = false;  // the body is re-chunked towards the client
  bool closeAfter = false;
  bool http10 = false;
};

// The response head sent to the client: hop-by-hop fields removed, framing and connection
// re-stated for this hop, X-Request-Id added when the app did not set one.
std::string responseHeadForClient(const ResponseHead& res, const ClientHeadParams& p);
void responseHeadForClient(const ResponseHead& res, const ClientHeadParams& p, std::string& out);
std::string responseHeadForClient(const PooledResponseHead& res, const ClientHeadParams& p);
void responseHeadForClient(const PooledResponseHead& res, const ClientHeadParams& p,
                           std::string& out);

} // namespace bulwark::filter

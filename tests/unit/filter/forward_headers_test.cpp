#include "bulwark/filter/forward_headers.h"

#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <gtest/gtest.h>

namespace bulwark::filter {
namespace {

namespace http = boost::beast::http;

template <bool isRequest>
http::message<isRequest, http::empty_body> parse(std::string_view text) {
  http::parser<isRequest, http::empty_body> p;
  p.eager(false);
  boost::system::error_code ec;
  p.put(boost::asio::buffer(text.data(), text.size()), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p.is_header_done());
  return p.release();
}

TEST(RequestHeadForApp, GoldenHopByHopAndForwardedFields) {
  const auto req = parse<true>(
      "POST /a?b=1 HTTP/1.1\r\n"
      "Host: example.test\r\n"
      "Connection: keep-alive, X-Drop-Me\r\n"
      "X-Drop-Me: secret\r\n"
      "Keep-Alive: timeout=5\r\n"
      "TE: trailers\r\n"
      "Expect: 100-continue\r\n"
      "X-Forwarded-For: 198.18.0.1\r\n"
      "X-Forwarded-Proto: https\r\n"
      "X-Request-Id: spoofed\r\n"
      "Transfer-Encoding: chunked\r\n"
      "Accept: */*\r\n"
      "\r\n");
  AppHeadParams p;
  p.requestId = "rid1";
  p.peerIp = "198.18.0.9";
  p.target = "/a?b=1";
  p.defaultHost = "127.0.0.1:26001";
  p.chunked = true;
  const std::string head = requestHeadForApp(req, p);
  EXPECT_EQ(head,
            "POST /a?b=1 HTTP/1.1\r\n"
            "Host: example.test\r\n"
            "Accept: */*\r\n"
            "X-Forwarded-For: 198.18.0.1, 198.18.0.9\r\n"
            "X-Forwarded-Proto: http\r\n"
            "X-Request-Id: rid1\r\n"
            "Transfer-Encoding: chunked\r\n"
            "\r\n");
}

TEST(RequestHeadForApp, Http10GetsAHostAndALength) {
  const auto req = parse<true>("PUT /u HTTP/1.0\r\nContent-Length: 3\r\n\r\n");
  AppHeadParams p;
  p.requestId = "r";
  p.peerIp = "::1";
  p.target = "/u";
  p.defaultHost = "[::1]:8080";
  p.contentLength = 3;
  const std::string head = requestHeadForApp(req, p);
  EXPECT_EQ(head,
            "PUT /u HTTP/1.1\r\nHost: [::1]:8080\r\nX-Forwarded-For: ::1\r\n"
            "X-Forwarded-Proto: http\r\nX-Request-Id: r\r\nContent-Length: 3\r\n\r\n");
}

TEST(RequestHeadForApp, UpgradeIsRestated) {
  const auto req = parse<true>(
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  AppHeadParams p;
  p.requestId = "r";
  p.peerIp = "p";
  p.target = "/ws";
  p.defaultHost = "x";
  p.upgrade = true;
  const std::string head = requestHeadForApp(req, p);
  EXPECT_NE(head.find("\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), std::string::npos)
      << head;
}

TEST(ResponseHeadForClient, GoldenRechunkedAndClosed) {
  const auto res = parse<false>(
      "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
      "Content-Type: text/plain\r\nTrailer: X-T\r\n\r\n");
  const std::string head = responseHeadForClient(
      res, {.requestId = "rid", .keepLength = true, .chunkedOut = true, .closeAfter = true});
  EXPECT_EQ(head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Request-Id: rid\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
}

TEST(ResponseHeadForClient, KeepsLengthAndAppRequestId) {
  const auto res = parse<false>(
      "HTTP/1.0 404 \r\nContent-Length: 9\r\nX-Request-Id: from-app\r\n\r\n");
  const std::string head =
      responseHeadForClient(res, {.requestId = "rid", .keepLength = true, .http10 = true});
  EXPECT_EQ(head,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nX-Request-Id: from-app\r\n"
            "Connection: keep-alive\r\n\r\n");
}

TEST(ResponseHeadForClient, SwitchingProtocolsKeepsUpgrade) {
  const auto res = parse<false>(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  const std::string head =
      responseHeadForClient(res, {.requestId = "r", .keepUpgrade = true, .keepLength = true});
  EXPECT_EQ(head,
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            "X-Request-Id: r\r\n\r\n");
}

TEST(RequestId, ValidationAndGeneration) {
  EXPECT_TRUE(validRequestId("A.b_c:d-e"));
  EXPECT_FALSE(validRequestId(""));
  EXPECT_FALSE(validRequestId("bad id"));
  EXPECT_FALSE(validRequestId(std::string(129, 'a')));
  const std::string a = newRequestId();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, newRequestId());
}

} // namespace
} // namespace bulwark::filter

#include "bulwark/filter/local_reply.h"

#include <gtest/gtest.h>

namespace bulwark::filter {
namespace {

TEST(LocalReply, JsonErrorIsComplete) {
  const std::string msg =
      renderLocalReply({.status = 431, .error = "field \"x\" too large", .requestId = "r1"});
  const std::string body =
      "{\"status\":431,\"error\":\"field \\\"x\\\" too large\",\"request_id\":\"r1\"}\n";
  EXPECT_EQ(msg, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json"
                 "\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nX-Request-Id: r1\r\nConnection: close\r\n\r\n" + body);
}

TEST(LocalReply, BlockPageForBrowsersKeepsTheConnection) {
  const std::string msg = renderLocalReply({.status = 403,
                                            .error = "blocked",
                                            .requestId = "abc",
                                            .html = true,
                                            .close = false,
                                            .noStore = true});
  EXPECT_EQ(msg.rfind("HTTP/1.1 403 Forbidden\r\nContent-Type: text/html; charset=utf-8\r\n", 0),
            0u);
  EXPECT_NE(msg.find("\r\nCache-Control: no-store\r\nX-Request-Id: abc\r\n\r\n<!doctype html>"),
            std::string::npos);
  EXPECT_NE(msg.find("<code>abc</code>"), std::string::npos);
  EXPECT_EQ(msg.find("Connection: close"), std::string::npos);
}

TEST(LocalReply, HeadRequestGetsNoBodyButTheLength) {
  const std::string full = renderLocalReply({.status = 403, .error = "e", .requestId = "r"});
  const std::string head =
      renderLocalReply({.status = 403, .error = "e", .requestId = "r", .headOnly = true});
  EXPECT_EQ(full.substr(0, head.size()), head);
  EXPECT_GT(full.size(), head.size());
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}

TEST(LocalReply, ReasonPhrases) {
  EXPECT_EQ(reasonPhrase(413), "Content Too Large");
  EXPECT_EQ(reasonPhrase(504), "Gateway Timeout");
  EXPECT_EQ(reasonPhrase(403), "Forbidden");
}

} // namespace
} // namespace bulwark::filter

#include "bulwark/filter/http_head.h"
#include "http_bytes.h"

#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <gtest/gtest.h>

namespace bulwark::filter::http1 {
namespace {

namespace http = boost::beast::http;

const Limits kLimits{};

// The fields HeadField::id names.
bool actedOn(http::field f) {
  using F = http::field;
  for (F g : {F::te, F::host, F::accept, F::expect, F::upgrade, F::trailer, F::connection,
              F::keep_alive, F::content_type, F::content_length, F::http2_settings,
              F::content_encoding, F::proxy_connection, F::transfer_encoding}) {
    if (f == g) {
      return true;
    }
  }
  return false;
}

// What the session reads from a checked head (http1::readRequest) is what Beast's request
// parser read from it: the same refusals, fields (order, spelling, values), method, target and
// connection options.
void expectSameAsBeast(std::string_view head) {
  SCOPED_TRACE(std::string(head));
  std::vector<HeadField> fields;
  const HeadCheck check = checkRequestHead(head, kLimits, fields);
  ASSERT_EQ(check.error, HeadError::None);
  Request req;
  const bool ours = readRequest(check.info, fields, req);

  http::request_parser<http::empty_body> p;
  p.header_limit(kLimits.maxHeaderBytes + 1);
  p.body_limit(UINT64_MAX);
  const std::string_view kept =
      check.info.droppedFields.empty() ? head : std::string_view(check.info.keptHead);
  boost::system::error_code ec;
  const size_t used = p.put(boost::asio::buffer(kept.data(), kept.size()), ec);
  const bool beast = !ec && p.is_header_done() && used == kept.size();
  ASSERT_EQ(ours, beast) << ec.message();
  if (!beast) {
    return;
  }
  const auto& m = p.get();
  EXPECT_EQ(req.verb, m.method());
  EXPECT_EQ(req.method, m.method_string());
  EXPECT_EQ(req.target, m.target());
  EXPECT_EQ(req.keepAlive, p.keep_alive());
  EXPECT_EQ(req.connectionUpgrade, p.upgrade());
  EXPECT_EQ(req.contentLength.has_value(), p.content_length().has_value());
  if (req.contentLength && p.content_length()) {
    EXPECT_EQ(*req.contentLength, *p.content_length());
  }
  size_t i = 0;
  for (const auto& f : m) {
    ASSERT_LT(i, req.fields.size());
    EXPECT_EQ(req.fields[i].name, f.name_string());
    EXPECT_EQ(req.fields[i].value, f.value());
    EXPECT_EQ(req.fields[i].id, actedOn(f.name()) ? f.name() : http::field::unknown);
    ++i;
  }
  EXPECT_EQ(i, req.fields.size());
  for (const auto* name : {"host", "X-A", "x-request-id", "accept", "connection", "nope"}) {
    const auto it = m.find(name);
    const HeadField* f = req.find(std::string_view(name));
    ASSERT_EQ(f == nullptr, it == m.end()) << name;
    if (f != nullptr) {
      EXPECT_EQ(f->value, it->value()) << name;
      if (const auto id = http::string_to_field(name); id != http::field::unknown) {
        EXPECT_EQ(f, req.find(id)) << name;
      }
    }
  }
  EXPECT_EQ(req[http::field::accept], m[http::field::accept]);
  EXPECT_EQ(req[http::field::upgrade], m[http::field::upgrade]);
}

TEST(ReadRequest, ReadsWhatBeastsParserRead) {
  for (const char* head : {
           "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
           "GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nX-Request-Id: abc\r\n\r\n",
           "POST /p HTTP/1.1\r\nhost: x\r\nContent-Length: 12\r\nX-A: 1\r\n\r\n",
           "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
           "GET / HTTP/1.0\r\n\r\n",
           "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
           "GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nConnection: , ,CLOSE ,\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nProxy-Connection: close\r\n\r\n",
           "GET / HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nConnection:\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nConnection: \t \r\n\r\n",
           "POST / HTTP/1.1\r\nHOST: x\r\nte: trailers\r\nExpect: 100-continue\r\n"
           "Trailer: x\r\nKeep-Alive: 5\r\nContent-Type: a\r\nCONTENT-LENGTH: 1\r\n"
           "Http2-Settings: x\r\nContent-Encoding: gzip\r\nProxy-Connection: x\r\n"
           "Accept: y\r\nUpgrade: z\r\nUser-Agent: u\r\nCookie: c\r\nX-Te: 1\r\n"
           "Accept-Encoding: br\r\nConnection: te, keep-alive\r\n\r\n",
           // not token lists: Beast's parser refuses them
           "GET / HTTP/1.1\r\nHost: x\r\nConnection: a b\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nConnection: close;x\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nConnection: \"close\"\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nConnection: close, up/grade\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nConnection: clos\xe9\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nProxy-Connection: a=b\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nConnection: a@b\r\n\r\n",
           // fields of one name are kept together, in the order received
           "GET / HTTP/1.1\r\nX-A: 1\r\nHost: x\r\nx-a: 2\r\nAccept: y\r\nX-A: 3\r\n\r\n",
           "GET / HTTP/1.1\r\nAccept: 1\r\nHost: x\r\nCookie: c\r\naccept: 2\r\nCOOKIE: d\r\n\r\n",
           "GET / HTTP/1.1\r\nX-B: 1\r\nX-A: 1\r\nHost: x\r\nX-B: 2\r\nX-A: 2\r\nX-B: 3\r\n\r\n",
           // values: blanks around them dropped, inner ones kept, obs-text kept
           "GET / HTTP/1.1\r\nHost: x\r\nX-A:\t a  b \t\r\nX-B:\r\nX-C: \xff\x80\r\n\r\n",
           // methods and targets
           "BREW /pot?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
           "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
           "get / HTTP/1.1\r\nHost: x\r\n\r\n",
           "GET http://h.test:81/p?q HTTP/1.1\r\n\r\n",
           "CONNECT h.test:443 HTTP/1.1\r\nHost: h.test:443\r\n\r\n",
           "GET /\xe9t\xe9 HTTP/1.1\r\nHost: x\r\n\r\n",
           // a field whose name is not a token is not read (inspected, never forwarded)
           "GET / HTTP/1.1\r\nHost: x\r\nX(a): 1\r\nX-A: 2\r\nConnection: close\r\n\r\n",
       }) {
    expectSameAsBeast(head);
  }
}

TEST(ReadRequest, FieldListIsReplaced) {
  std::vector<HeadField> fields{{"old", "v"}};
  const HeadCheck c = checkRequestHead("GET / HTTP/1.1\r\nHost: a\r\n\r\n", kLimits, fields);
  ASSERT_EQ(c.error, HeadError::None);
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0].name, "Host");
  EXPECT_EQ(fields[0].id, http::field::host);
}

} // namespace
} // namespace bulwark::filter::http1

namespace bulwark::filter::http1 {
namespace {

// Every byte value at every position of values of every length up to three 16-byte blocks.
TEST(FirstNonValueChar, SameAsByteByByte) {
  for (size_t len = 0; len <= 48; ++len) {
    for (int b = 0; b < 256; ++b) {
      for (size_t pos = 0; pos < len; ++pos) {
        std::string v(len, 'a');
        v[pos] = static_cast<char>(b);
        size_t want = len;
        for (size_t i = 0; i < len; ++i) {
          if (!isValueChar(static_cast<unsigned char>(v[i]))) {
            want = i;
            break;
          }
        }
        ASSERT_EQ(firstNonValueChar(v), want) << "byte " << b << " at " << pos << " of " << len;
      }
    }
  }
}

} // namespace
} // namespace bulwark::filter::http1

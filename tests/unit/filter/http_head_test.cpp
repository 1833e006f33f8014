#include "bulwark/filter/http_head.h"

#include <string>

#include <gtest/gtest.h>

namespace bulwark::filter::http1 {
namespace {

const Limits kLimits{};

HeadError check(std::string_view head, const Limits& lim = kLimits) {
  return checkRequestHead(head, lim).error;
}

TEST(CheckRequestHead, AcceptsOrdinaryRequests) {
  auto r = checkRequestHead("GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", kLimits);
  EXPECT_EQ(r.error, HeadError::None);
  EXPECT_EQ(r.info.versionMinor, 1);
  EXPECT_FALSE(r.info.chunked);
  EXPECT_FALSE(r.info.contentLength);

  r = checkRequestHead("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n", kLimits);
  EXPECT_EQ(r.error, HeadError::None);
  EXPECT_EQ(r.info.contentLength, 12u);

  r = checkRequestHead("POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  Chunked \r\n\r\n",
                       kLimits);
  EXPECT_EQ(r.error, HeadError::None);
  EXPECT_TRUE(r.info.chunked);

  r = checkRequestHead("GET / HTTP/1.0\r\n\r\n", kLimits); // HTTP/1.0 needs no Host
  EXPECT_EQ(r.error, HeadError::None);
  EXPECT_EQ(r.info.versionMinor, 0);

  r = checkRequestHead("PUT /u HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
                       kLimits);
  EXPECT_TRUE(r.info.expectContinue);
  EXPECT_FALSE(r.info.expectOther);
  EXPECT_EQ(check("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), HeadError::None);
  // Asterisk-form is for OPTIONS only; "PRI *" over HTTP/1.x is not a request.
  EXPECT_EQ(check("PRI * HTTP/1.0\r\n\r\n"), HeadError::BadRequestLine);
  EXPECT_EQ(check("GET * HTTP/1.1\r\nHost: x\r\n\r\n"), HeadError::BadRequestLine);
  EXPECT_EQ(check("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\nX: \xc3\xa9\r\n\r\n"), HeadError::None);
}

TEST(CheckRequestHead, RefusesSmugglingAmbiguities) {
  EXPECT_EQ(check("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            HeadError::TransferEncodingWithContentLength);
  EXPECT_EQ(check("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
            HeadError::DuplicateContentLength);
  for (const char* v : {"abc", "-1", "+5", "1,1", "1 1", "", "0x10", "99999999999999999999"}) {
    EXPECT_EQ(check(std::string("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ") + v + "\r\n\r\n"),
              HeadError::BadContentLength)
        << v;
  }
  for (const char* v : {"gzip, chunked", "chunked, chunked", "identity", "chunked;x=1", "xchunked"}) {
    EXPECT_EQ(check(std::string("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ") + v + "\r\n\r\n"),
              HeadError::BadTransferEncoding)
        << v;
  }
  EXPECT_EQ(check("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            HeadError::DuplicateTransferEncoding);
  EXPECT_EQ(check("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            HeadError::TransferEncodingInHttp10);
}

TEST(CheckRequestHead, DropsFieldsWhoseNameIsNotAToken) {
  const std::string head = "GET /p HTTP/1.1\r\nHost: x\r\nGET /page?a=1: //example.org/\r\n"
                           "Accept: */*\r\nX(y)\xc3\xa9: v \r\nX-Ok: 1\r\n\r\n";
  auto r = checkRequestHead(head, kLimits);
  ASSERT_EQ(r.error, HeadError::None);
  ASSERT_EQ(r.info.droppedFields.size(), 2u);
  EXPECT_EQ(r.info.droppedFields[0].first, "GET /page?a=1");
  EXPECT_EQ(r.info.droppedFields[0].second, "//example.org/");
  EXPECT_EQ(r.info.droppedFields[1].first, "X(y)\xc3\xa9");
  EXPECT_EQ(r.info.droppedFields[1].second, "v");
  EXPECT_EQ(r.info.keptHead, "GET /p HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nX-Ok: 1\r\n\r\n");
  EXPECT_EQ(r.info.length, head.size());
  // Nothing dropped: no copy of the head.
  r = checkRequestHead("GET / HTTP/1.1\r\nHost: x\r\n\r\n", kLimits);
  EXPECT_TRUE(r.info.droppedFields.empty());
  EXPECT_TRUE(r.info.keptHead.empty());
  // A dropped line still counts towards the field limit and its value is still checked.
  EXPECT_EQ(check(std::string("GET / HTTP/1.1\r\nHost: x\r\nA B: a\0b\r\n\r\n", 37)),
            HeadError::BadHeaderValue);
}

TEST(CheckRequestHead, RefusesFramingNamesSpelledWithSeparators) {
  for (const char* name : {"Content Length", "Transfer-Encoding\"", "transfer encoding",
                           "X Forwarded For", "Ho st", "content length\xc2\xa0"}) {
    EXPECT_EQ(check(std::string("POST / HTTP/1.1\r\nHost: x\r\n") + name + ": 5\r\n\r\n"),
              HeadError::LookalikeHeaderName)
        << name;
  }
  // Whitespace before the colon stays a hard error (RFC 9112 5.1), also with a framing name.
  EXPECT_EQ(check("POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n"),
            HeadError::BadHeaderName);
}

TEST(CheckRequestHead, DefaultLimitsTakeLongBrowserUrls) {
  // Tracking pixels and SPA state URLs run past 16 KiB; the default keeps them, a 40 KB line
  // is still refused.
  const std::string longLine = "GET /p?s=" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(check(longLine), HeadError::None);
  EXPECT_EQ(scanHead(longLine, 0, kLimits).state, HeadScan::State::Complete);
  const std::string tooLong = "GET /p?s=" + std::string(40000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(check(tooLong), HeadError::RequestLineTooLong);
  EXPECT_EQ(scanHead(tooLong, 0, kLimits).error, HeadError::RequestLineTooLong);
}

TEST(CheckRequestHead, RefusesMalformedSyntax) {
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n"), HeadError::ObsFold);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n"), HeadError::BareLineEnding);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\nBad\x01Header: x\r\n\r\n"), HeadError::BadHeaderName);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\nBad Header\t: x\r\n\r\n"), HeadError::BadHeaderName);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\nX-A : x\r\n\r\n"), HeadError::BadHeaderName);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\n: x\r\n\r\n"), HeadError::BadHeaderName);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n"), HeadError::BadHeaderName);
  EXPECT_EQ(check(std::string("GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 36)),
            HeadError::BadHeaderValue);
  EXPECT_EQ(check("GET / HTTP/1.1\r\n\r\n"), HeadError::MissingHost);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), HeadError::DuplicateHost);
  EXPECT_EQ(check("GET /  HTTP/1.1\r\nHost: x\r\n\r\n"), HeadError::BadRequestLine);
  EXPECT_EQ(check("GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n"), HeadError::BadRequestLine);
  EXPECT_EQ(check("GET /\r\n\r\n"), HeadError::BadRequestLine);
  EXPECT_EQ(check("GET / http/1.1\r\nHost: x\r\n\r\n"), HeadError::BadRequestLine);
  EXPECT_EQ(check("GET / HTTP/1.2\r\nHost: x\r\n\r\n"), HeadError::BadVersion);
  EXPECT_EQ(check("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), HeadError::BadVersion);
  EXPECT_EQ(headErrorStatus(HeadError::BadVersion), 505);
  EXPECT_EQ(headErrorStatus(HeadError::ObsFold), 400);
}

// Field values are checked a word at a time; every byte value at every position of a value
// longer than two words must get the answer the per-byte rule gives.
TEST(CheckRequestHead, EveryByteOfAFieldValueIsChecked) {
  for (int b = 0; b < 256; ++b) {
    const auto c = static_cast<unsigned char>(b);
    if (c == '\n') {
      continue; // ends the line: another case
    }
    const bool valid = c == '\t' || (c >= 0x20 && c != 0x7F);
    for (size_t pos = 0; pos < 39; ++pos) { // two 16-byte blocks, a word and single bytes
      std::string value(39, 'v');
      value[pos] = static_cast<char>(c);
      const std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + value + "z\r\n\r\n";
      const HeadError want =
          valid ? HeadError::None
                : (c == '\r' ? HeadError::BareLineEnding : HeadError::BadHeaderValue);
      ASSERT_EQ(check(head), want) << "byte " << b << " at " << pos;
    }
  }
}

// The request target is scanned a word at a time, and the request line's end found by CR:
// every byte value at every position of a target longer than two words, and a CR inside a value.
TEST(CheckRequestHead, EveryByteOfATargetIsChecked) {
  for (int b = 0; b < 256; ++b) {
    const auto c = static_cast<unsigned char>(b);
    const bool valid = c > 0x20 && c != 0x7F;
    for (size_t pos = 1; pos < 20; ++pos) {
      std::string target = "/" + std::string(19, 'a');
      target[pos] = static_cast<char>(c);
      const std::string head = "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
      ASSERT_EQ(check(head), valid ? HeadError::None : HeadError::BadRequestLine)
          << "byte " << b << " at " << pos;
    }
  }
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\rb\r\n\r\n"), HeadError::BareLineEnding);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\nX-A: ab\r\r\n\r\n"), HeadError::BareLineEnding);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\nX-A: ab\r\n\r\n"), HeadError::None);
}

TEST(ScanHead, BareLfAfterLongLines) {
  const std::string line = "X-Long: " + std::string(300, 'a') + "\r\n";
  const std::string ok = "GET / HTTP/1.1\r\n" + line + line + "\r\n";
  const auto done = scanHead(ok, 0, kLimits);
  EXPECT_EQ(done.state, HeadScan::State::Complete);
  EXPECT_EQ(done.length, ok.size());
  std::string bare = "GET / HTTP/1.1\r\n" + line + line;
  bare.insert(bare.size() - 200, "\n");
  EXPECT_EQ(scanHead(bare, 0, kLimits).error, HeadError::BareLineEnding);
  // Resumed scans find the end where it is, whatever was scanned before.
  const auto part = scanHead(std::string_view(ok).substr(0, ok.size() - 3), 0, kLimits);
  EXPECT_EQ(part.state, HeadScan::State::NeedMore);
  EXPECT_EQ(scanHead(ok, part.scanned, kLimits).length, ok.size());
}

TEST(CheckRequestHead, EnforcesLimits) {
  Limits lim;
  lim.maxRequestLine = 64;
  lim.maxHeaders = 2;
  lim.maxHeaderBytes = 256;
  EXPECT_EQ(check("GET /" + std::string(80, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", lim),
            HeadError::RequestLineTooLong);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n", lim), HeadError::TooManyHeaders);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\nA: " + std::string(300, 'a') + "\r\n\r\n", lim),
            HeadError::HeadTooLarge);
}

TEST(ScanHead, FindsEndIncrementally) {
  const std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\nNEXT";
  size_t resume = 0;
  for (size_t n = 1; n < req.size(); ++n) {
    auto s = scanHead(std::string_view(req).substr(0, n), resume, kLimits);
    if (s.state == HeadScan::State::Complete) {
      EXPECT_EQ(s.length, req.size() - 4);
      EXPECT_EQ(n, req.size() - 4);
      return;
    }
    ASSERT_EQ(s.state, HeadScan::State::NeedMore) << n;
    resume = s.scanned;
  }
  FAIL() << "head end not found";
}

TEST(ScanHead, RefusesBareLfAndOversizeEarly) {
  EXPECT_EQ(scanHead("GET / HTTP/1.1\nHost: x\n\n", 0, kLimits).error, HeadError::BareLineEnding);
  Limits lim;
  lim.maxRequestLine = 16;
  lim.maxHeaderBytes = 64;
  EXPECT_EQ(scanHead("GET /aaaaaaaaaaaaaaaaaaaaaaaa", 0, lim).error, HeadError::RequestLineTooLong);
  EXPECT_EQ(scanHead("GET / HTTP/1.1\r\n" + std::string(70, 'x'), 0, lim).error,
            HeadError::HeadTooLarge);
}

TEST(Sniff, TellsProtocolsApart) {
  EXPECT_EQ(sniffProtocol("", kLimits), Sniff::NeedMore);
  EXPECT_EQ(sniffProtocol("GE", kLimits), Sniff::NeedMore);
  EXPECT_EQ(sniffProtocol("GET ", kLimits), Sniff::Http);
  EXPECT_EQ(sniffProtocol("DELETE /x", kLimits), Sniff::Http);
  EXPECT_EQ(sniffProtocol("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", kLimits), Sniff::Http2Preface);
  EXPECT_EQ(sniffProtocol("PRI", kLimits), Sniff::NeedMore);
  EXPECT_EQ(sniffProtocol("\x16\x03\x01\x02\x00", kLimits), Sniff::Tls);
  EXPECT_EQ(sniffProtocol("SSH-2.0-OpenSSH_9.2\r\n", kLimits), Sniff::Unknown);
  EXPECT_EQ(sniffProtocol(std::string("\x00\x01", 2), kLimits), Sniff::Unknown);
  EXPECT_EQ(sniffProtocol("BREW /pot HTTP/1.1\r\n", kLimits), Sniff::Http);
  EXPECT_EQ(sniffProtocol("BREW /pot", kLimits), Sniff::NeedMore);
  EXPECT_EQ(sniffProtocol("HELLO world\r\n", kLimits), Sniff::Unknown);
  // Malformed request lines are still HTTP: parsed and refused, never tunnelled uninspected.
  EXPECT_EQ(sniffProtocol("G@T / HTTP/1.1\r\n", kLimits), Sniff::Http);
  EXPECT_EQ(sniffProtocol(" GET / HTTP/1.1\r\n", kLimits), Sniff::Http);
  EXPECT_EQ(sniffProtocol("GET\t/\tHTTP/1.1\r\n", kLimits), Sniff::Http);
  EXPECT_EQ(sniffProtocol("GET / HTTP/1.1x\r\n", kLimits), Sniff::Http);
  EXPECT_EQ(sniffProtocol("\x80\x01binary", kLimits), Sniff::Unknown);
}

} // namespace
} // namespace bulwark::filter::http1

namespace bulwark::filter::http1 {
namespace {

TEST(Normalisation, AbsoluteFormTakesTheAuthority) {
  auto r = checkRequestHead("GET HTTPS://Ex.Test:8443?q=1 HTTP/1.1\r\nHost: other\r\n\r\n", kLimits);
  ASSERT_EQ(r.error, HeadError::None);
  EXPECT_TRUE(r.info.absoluteForm);
  EXPECT_EQ(r.info.authority, "Ex.Test:8443");
  EXPECT_EQ(r.info.originTarget, "/?q=1");
  r = checkRequestHead("GET http://ex.test/a/b HTTP/1.1\r\n\r\n", kLimits); // no Host needed
  EXPECT_EQ(r.error, HeadError::None);
  EXPECT_EQ(r.info.originTarget, "/a/b");
  for (const char* bad : {"GET http://u@ex.test/ HTTP/1.1\r\nHost: a\r\n\r\n",
                          "GET ftp://ex.test/ HTTP/1.1\r\nHost: a\r\n\r\n",
                          "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
                          "GET http://ex.test/#frag HTTP/1.1\r\nHost: a\r\n\r\n"}) {
    EXPECT_EQ(check(bad), HeadError::BadAbsoluteForm) << bad;
  }
}

TEST(Normalisation, HostValues) {
  for (const char* ok : {"a", "a.b-c_d~e", "1.2.3.4:80", "[::1]", "[fd00:b::1]:65535", "a:"}) {
    EXPECT_TRUE(validHost(ok)) << ok;
  }
  for (const char* bad : {"", "a,b", "a b", "u@a", "a/b", "a\\b", "a:x", "a:65536", "[::1",
                          "[zz]", ":80", "a:123456"}) {
    EXPECT_FALSE(validHost(bad)) << bad;
  }
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: a,b\r\n\r\n"), HeadError::BadHost);
}

TEST(Normalisation, LookalikesDuplicatesAndH2c) {
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n\r\n"),
            HeadError::LookalikeHeaderName);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: a\r\ncontent_LENGTH: 1\r\n\r\n"),
            HeadError::LookalikeHeaderName);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: a\r\nX_Other: 1\r\n\r\n"), HeadError::None);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: a\r\nContent-Type: a\r\ncontent-type: b\r\n\r\n"),
            HeadError::DuplicateParsingHeader);
  auto r = checkRequestHead("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: foo, H2C\r\n\r\n", kLimits);
  EXPECT_TRUE(r.info.upgradeH2c);
  r = checkRequestHead("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", kLimits);
  EXPECT_FALSE(r.info.upgradeH2c);
}

TEST(Normalisation, ControlBytesInTheRequestLineAreHttp) {
  EXPECT_EQ(sniffProtocol(std::string_view("\0GET / HTTP/1.1\r\n", 17), kLimits), Sniff::Http);
  EXPECT_EQ(sniffProtocol(std::string_view("GET\0/ HTTP/1.1\r\n", 16), kLimits), Sniff::Http);
  EXPECT_EQ(sniffProtocol(std::string_view("\0\1\2binary", 9), kLimits), Sniff::Unknown);
  EXPECT_EQ(sniffProtocol("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", kLimits), Sniff::Http2Preface);
}

} // namespace
} // namespace bulwark::filter::http1

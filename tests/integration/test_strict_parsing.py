"""Request smuggling / strict parsing over raw sockets.

Every malformed request must be answered by the proxy itself with 400 (505 for an unsupported
HTTP version), carry X-Request-Id and a JSON body, close the connection (400), and -- for
head-level errors -- never reach the app (checked with the app's own request counter).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402

LIMITS = {"max_request_line": 1024, "max_header_bytes": 4096, "max_headers": 20}

H = b"Host: a\r\n"


def post(extra, body=b""):
    return b"POST /echo HTTP/1.1\r\n" + H + extra + b"\r\n" + body


# name -> (raw bytes, expected status, head-level error (app must not see a request))
BAD = {
    # framing / smuggling
    "cl_and_te": (post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                       b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"), 400, True),
    "te_and_cl": (post(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n"), 400, True),
    "two_content_lengths_different": (post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"), 400, True),
    "two_content_lengths_same": (post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"), 400, True),
    "content_length_abc": (post(b"Content-Length: abc\r\n", b"hello"), 400, True),
    "content_length_negative": (post(b"Content-Length: -1\r\n", b"hello"), 400, True),
    "content_length_list": (post(b"Content-Length: 1,1\r\n", b"h"), 400, True),
    "content_length_plus": (post(b"Content-Length: +5\r\n", b"hello"), 400, True),
    "content_length_hex": (post(b"Content-Length: 0x5\r\n", b"hello"), 400, True),
    "content_length_inner_space": (post(b"Content-Length: 1 2\r\n", b"hello"), 400, True),
    "content_length_empty": (post(b"Content-Length: \r\n", b""), 400, True),
    "content_length_overflow": (post(b"Content-Length: 99999999999999999999999999\r\n", b"x"), 400, True),
    "te_gzip_chunked": (post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"), 400, True),
    "te_chunked_gzip": (post(b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n"), 400, True),
    "te_identity": (post(b"Transfer-Encoding: identity\r\n", b""), 400, True),
    "te_xchunked": (post(b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n"), 400, True),
    "te_two_headers": (post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"), 400, True),
    "te_in_http10": (b"POST /echo HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, True),
    # line syntax
    "obs_fold": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400, True),
    "obs_fold_tab": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 400, True),
    "bare_lf_everywhere": (b"GET / HTTP/1.1\nHost: a\n\n", 400, True),
    "bare_lf_one_header": (b"GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n", 400, True),
    "bare_cr_in_value": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", 400, True),
    "bare_cr_in_request_line": (b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    "nul_in_value": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n", 400, True),
    "ctl_in_value": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x01b\r\n\r\n", 400, True),
    "del_in_value": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x7fb\r\n\r\n", 400, True),
    "header_name_with_ctl": (b"GET / HTTP/1.1\r\nHost: a\r\nBad\x01: x\r\n\r\n", 400, True),
    # a name that is not a token but spells a framing or routing header once separators are
    # ignored is refused (other invalid names are dropped, see DroppedFieldTests)
    "header_name_content_length_with_space": (post(b"Content Length: 5\r\n", b"hello"), 400, True),
    "header_name_transfer_encoding_quote": (post(b"Transfer-Encoding\": chunked\r\n", b"0\r\n\r\n"), 400, True),
    "header_name_host_with_space": (b"GET / HTTP/1.1\r\nHost: a\r\nHo st: b\r\n\r\n", 400, True),
    "nul_in_request_line": (b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    "header_name_empty": (b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400, True),
    "header_without_colon": (b"GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n", 400, True),
    "space_before_colon": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", 400, True),
    "tab_before_colon": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A\t: b\r\n\r\n", 400, True),
    "space_before_colon_content_length": (post(b"Content-Length : 5\r\n", b"hello"), 400, True),
    "leading_whitespace_first_header": (b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, True),
    # Host
    "missing_host_http11": (b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400, True),
    "two_hosts": (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, True),
    "two_hosts_same": (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, True),
    # request line
    "request_line_double_space": (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    "request_line_extra_token": (b"GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", 400, True),
    "request_line_space_in_target": (b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    # a request line that ends in HTTP/1.x is HTTP: it must be rejected, never tunnelled
    # uninspected to the app as an "unknown" protocol (inspection bypass for lenient apps)
    "request_line_bad_method": (b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    "request_line_tab_separator": (b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    "request_line_leading_space": (b" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    "request_line_no_version": (b"GET /\r\nHost: a\r\n\r\n", 400, True),
    "request_line_bad_version_syntax": (b"GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400, True),
    "request_line_lowercase_version": (b"GET / http/1.1\r\nHost: a\r\n\r\n", 400, True),
    # limits (max_request_line 1024, max_header_bytes 4096, max_headers 20)
    "oversize_request_line": (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    "oversize_head": (b"GET / HTTP/1.1\r\nHost: a\r\n" +
                      b"".join(b"X-P%d: %s\r\n" % (i, b"v" * 900) for i in range(6)) + b"\r\n", 400, True),
    "too_many_headers": (b"GET / HTTP/1.1\r\nHost: a\r\n" +
                         b"".join(b"X-N%d: v\r\n" % i for i in range(30)) + b"\r\n", 400, True),
    # chunked body errors (detected after the head may have been forwarded)
    "chunk_size_invalid": (post(b"Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n"), 400, False),
    "chunk_size_overflow": (post(b"Transfer-Encoding: chunked\r\n", b"fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"), 400, False),
    "chunk_size_negative": (post(b"Transfer-Encoding: chunked\r\n", b"-5\r\nhello\r\n0\r\n\r\n"), 400, False),
    "chunk_missing_crlf_after_data": (post(b"Transfer-Encoding: chunked\r\n", b"5\r\nhelloXX0\r\n\r\n"), 400, False),
    "chunk_size_bare_lf": (post(b"Transfer-Encoding: chunked\r\n", b"5\nhello\r\n0\r\n\r\n"), 400, False),
    # versions
    "version_http12": (b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, True),
    "version_http20": (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, True),
    "version_http30": (b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505, True),
}

# Well-formed edge cases that must pass (so the suite cannot be satisfied by rejecting everything).
GOOD = {
    "http10_without_host": b"GET /echo HTTP/1.0\r\n\r\n",
    "tab_inside_value": b"GET /echo HTTP/1.1\r\nHost: a\r\nX-A: a\tb\r\n\r\n",
    "ows_around_value": b"GET /echo HTTP/1.1\r\nHost: a\r\nX-A: \t spaced \t\r\n\r\n",
    "content_length_zero": b"GET /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    "content_length_ows": b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length:  5 \r\n\r\nhello",
    "request_line_near_limit": b"GET /echo?" + b"q" * 900 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    "headers_near_limit": b"GET /echo HTTP/1.1\r\nHost: a\r\n" +
                          b"".join(b"X-N%d: v\r\n" % i for i in range(15)) + b"\r\n",
    "chunk_extensions_and_trailer": b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    b"5;name=val\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n",
    "chunk_size_uppercase_hex": b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                b"A\r\n0123456789\r\n0\r\n\r\n",
    "absolute_path_with_query": b"GET /echo?x=1&y=%20 HTTP/1.1\r\nHost: a\r\n\r\n",
    # "X:Y Z: 1" is a valid field: name "X", value "Y Z: 1" (colons and spaces are fine in values)
    "colon_and_space_in_value": b"GET /echo HTTP/1.1\r\nHost: a\r\nX:Y Z: 1\r\n\r\n",
}


class StrictParsingTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.a.port, config={"limits": LIMITS})

    def check_rejected(self, raw, status, head_level):
        before_app = self.a.stats()["requests"]
        m0 = self.px.metrics()
        bad0 = m0.get("bulwark_bad_requests_total")
        c = self.conn(self.px.port, timeout=3)
        try:
            c.send(raw)
        except (BrokenPipeError, ConnectionResetError) as e:
            self.fail("proxy reset the connection before a response: %r%s" % (e, c.transcript()))
        r = self.read_response(c, timeout=3)
        self.assertProxyError(c, r, status, expect_close=(status == 400))
        if head_level:
            after_app = self.a.stats()["requests"]
            self.assertEqual(after_app, before_app,
                             "the malformed request reached the app%s" % c.transcript())
        if status == 400:
            bad1 = self.px.wait_metric("bulwark_bad_requests_total", None, lambda v: v > bad0)
            self.assertEqual(bad1 - bad0, 1, "bulwark_bad_requests_total did not count the 400")

    def check_accepted(self, raw):
        c = self.conn(self.px.port, timeout=3)
        c.send(raw)
        r = self.read_response(c, timeout=3)
        self.assertEqual(r.status, 200, "well-formed request rejected%s" % c.transcript())
        return r.json()

    def test_good_values_reach_app_unchanged(self):
        j = self.check_accepted(GOOD["tab_inside_value"])
        self.assertIn(["X-A", "a\tb"], j["headers"])
        j = self.check_accepted(GOOD["ows_around_value"])
        self.assertIn(["X-A", "spaced"], j["headers"])
        j = self.check_accepted(GOOD["chunk_extensions_and_trailer"])
        self.assertEqual(j["body_length"], 5)
        j = self.check_accepted(GOOD["colon_and_space_in_value"])
        self.assertIn(["X", "Y Z: 1"], j["headers"])
        j = self.check_accepted(GOOD["content_length_ows"])
        self.assertEqual(j["body_length"], 5)

    def test_smuggled_request_never_reaches_app(self):
        before = self.a.stats()["requests"]
        c = self.conn(self.px.port, timeout=3)
        c.send(BAD["cl_and_te"][0])
        c.read_until_close(3)
        self.assertEqual(self.a.stats()["requests"], before, c.transcript())


class DroppedFieldTests(ProxyTestCase):
    """A header line whose name is not a token is dropped (never forwarded) and inspected."""

    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.a.port, config={"mode": "block"})

    def send(self, raw):
        c = self.conn(self.px.port, timeout=3)
        c.send(raw)
        return c, self.read_response(c, timeout=3)

    def test_invalid_names_dropped_rest_forwarded(self):
        d0 = self.px.metrics().get("bulwark_dropped_header_fields_total")
        c, r = self.send(b"GET /echo?x=1 HTTP/1.1\r\nHost: a\r\nGET /page?ref=https: //example.org/a\r\n"
                         b"Bad(Name): x\r\nX/Y: z\r\nX-Keep: 1\r\n\xc3\xa9t\xc3\xa9: summer\r\n\r\n")
        self.assertEqual(r.status, 200, c.transcript())
        names = [h[0].lower() for h in r.json()["headers"]]
        self.assertIn("x-keep", names)
        for bad in ("bad(name)", "x/y", "get /page?ref=https"):
            self.assertNotIn(bad, names, "an invalid header name reached the app")
        self.assertFalse([n for n in names if not n.isascii()], names)
        d1 = self.px.wait_metric("bulwark_dropped_header_fields_total", None, lambda v: v >= d0 + 4)
        self.assertEqual(d1 - d0, 4)

    def test_long_browser_url_passes_by_default(self):
        c, r = self.send(b"GET /echo?s=" + b"a" * 17000 + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(r.status, 200, c.transcript())
        self.assertEqual(len(r.json()["target"]), len("/echo?s=") + 17000)

    def test_attack_in_dropped_field_is_blocked(self):
        before = self.a.stats()["requests"]
        c, r = self.send(b"GET /echo HTTP/1.1\r\nHost: a\r\n"
                         b"X File(1): ../../../../etc/passwd\r\n\r\n")
        self.assertEqual(r.status, 403, c.transcript())
        self.assertEqual(self.a.stats()["requests"], before)


def _make_bad(raw, status, head_level):
    def t(self):
        self.check_rejected(raw, status, head_level)
    return t


def _make_good(raw):
    def t(self):
        self.check_accepted(raw)
    return t


for _name, (_raw, _st, _hl) in BAD.items():
    setattr(StrictParsingTests, "test_reject_" + _name, _make_bad(_raw, _st, _hl))
for _name, _raw in GOOD.items():
    setattr(StrictParsingTests, "test_accept_" + _name, _make_good(_raw))


if __name__ == "__main__":
    unittest.main()

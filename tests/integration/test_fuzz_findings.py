"""Inputs the whole-session fuzzer (tests/fuzz/http/session_fuzz.cpp) found, replayed against a
real proxy in front of the real test app.

Each was a request the proxy forwarded (or answered) in a way a back-end or client could read
differently from the proxy. They stay as seeds in tests/fuzz/http/session_corpus and here as
black-box tests: a refused request is answered by the proxy (400, JSON, X-Request-Id, connection
closed), counted in bulwark_bad_requests_total{reason} and never reaches the app; a request that
is accepted reaches the app normalised.
"""

import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase, echo_headers  # noqa: E402

# name -> (raw request, reason label of bulwark_bad_requests_total)
REFUSED = {
    # asterisk-form is for OPTIONS only (RFC 9112 3.2.4): "PRI * HTTP/1.0" is the HTTP/2 preface
    # line with another version, which an h2-capable app may take for the preface
    "pri_star_http10": (b"PRI * HTTP/1.0\r\n\r\nSM\r\n\r\n", "bad_request_line"),
    "pri_star_http11": (b"PRI * HTTP/1.1\r\nHost: test.local\r\n\r\n", "bad_request_line"),
    "get_star": (b"GET * HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n",
                 "bad_request_line"),
    "post_star": (b"POST * HTTP/1.1\r\nHost: test.local\r\nContent-Length: 2\r\n\r\nab",
                  "bad_request_line"),
    # a target that is neither origin-form, absolute-form nor "*"
    "target_query_only": (b"GET ? HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n",
                          "bad_request_line"),
    "target_relative": (b"GET index.html HTTP/1.1\r\nHost: test.local\r\n\r\n",
                        "bad_request_line"),
}


class SessionFuzzerFindings(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.a.port, config={"mode": "monitoring"})

    def assertServes(self):
        c, r = self.exchange(self.px.port,
                             b"GET / HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n")
        self.assertEqual(r.status, 200, c.transcript())
        self.assertEqual(r.body, b"hello from app\n")

    def test_refused_and_never_reach_the_app(self):
        for name, (raw, reason) in REFUSED.items():
            with self.subTest(name):
                self.assertRefusedUnforwarded(self.px, self.a, raw, reason)
                self.assertServes()

    def test_refused_after_a_forwarded_request_on_the_same_connection(self):
        # the first request is served, the pipelined "PRI *" one is refused and ends the
        # connection: nothing after it reaches the app
        app_before = self.a.stats()["requests"]
        c = self.conn(self.px.port)
        c.send(b"GET / HTTP/1.1\r\nHost: test.local\r\n\r\n"
               b"PRI * HTTP/1.0\r\n\r\n"
               b"GET /echo HTTP/1.1\r\nHost: test.local\r\n\r\n")
        r1 = self.read_response(c)
        self.assertEqual(r1.status, 200, c.transcript())
        r2 = self.read_response(c)
        self.assertProxyError(c, r2, 400, expect_close=True)
        self.assertNotEqual(r1.header("x-request-id"), r2.header("x-request-id"))
        self.assertEqual(self.a.stats()["requests"], app_before + 1, "more than the first request "
                         "reached the app%s" % c.transcript())

    def test_options_star_still_reaches_the_app(self):
        app_before = self.a.stats()["requests"]
        c = self.conn(self.px.port)
        c.send(b"OPTIONS * HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n")
        r = self.read_response(c, "OPTIONS")
        self.assertNotEqual(r.status, 400, c.transcript())
        self.assertEqual(self.a.stats()["requests"], app_before + 1, c.transcript())

    def test_upgrade_value_with_obs_text_is_not_forwarded(self):
        # "Upgrade: h2c\xff..." is not a list of protocol tokens: an app may still read h2c out
        # of it, so the request goes on as plain HTTP/1.1 without the Upgrade field
        c, r = self.exchange(self.px.port,
                             b"GET /echo HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings"
                             b"\r\nUpgrade: h2c\xff\xff\xff\r\nHTTP2-Settings: AAMAAABkAAQ\r\n\r\n")
        self.assertEqual(r.status, 200, c.transcript())
        j = r.json()
        self.assertEqual(echo_headers(j, "upgrade"), [], j)
        self.assertEqual(echo_headers(j, "http2-settings"), [], j)
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(self.read_response(c).status, 200, c.transcript())


def unused_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ErrorAnswerToHead(ProxyTestCase):
    """The proxy's own error answer to a HEAD has no content (RFC 9110 9.3.2), like the app's:
    a client that reads the head only must not find the JSON body as the start of the next
    response (the session fuzzer now checks every answer against the request's method)."""

    @classmethod
    def setUpClass(cls):
        cls.px = cls.class_proxy(upstream_port=unused_port(), config={"mode": "monitoring"},
                                 wait="healthz")

    def test_head_gets_502_head_only(self):
        c = self.conn(self.px.port)
        c.send(b"HEAD /x HTTP/1.1\r\nHost: test.local\r\n\r\n")
        r = self.read_response(c, "HEAD")
        self.assertEqual(r.status, 502, c.transcript())
        self.assertIsNotNone(r.header("x-request-id"))
        self.assertGreater(int(r.header("content-length")), 0, c.transcript())
        self.assertTrue(c.wait_closed(2.0), c.transcript())
        self.assertEqual(bytes(c.buf), b"", "content after the head of an answer to HEAD%s"
                         % c.transcript())

    def test_get_still_gets_the_json_body(self):
        c = self.conn(self.px.port)
        c.send(b"GET /x HTTP/1.1\r\nHost: test.local\r\n\r\n")
        r = self.read_response(c)
        self.assertProxyError(c, r, 502, expect_close=True)


if __name__ == "__main__":
    unittest.main()

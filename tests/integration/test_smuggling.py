"""Smuggling-safe normalisation and protocol bypasses, against a real proxy and the real app.

Each refused request must be answered by the proxy (400, JSON, X-Request-Id, connection closed),
be counted in bulwark_bad_requests_total{reason}, and never reach the app. Accepted lookalikes
of a dangerous form must reach the app normalised (one Host, origin-form target).
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase, echo_headers  # noqa: E402

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
GOAWAY_HTTP11_REQUIRED = b"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0d"

# name -> (raw request, reason label)
REFUSED = {
    # absolute-form targets the proxy cannot take a host from
    "absolute_userinfo": (b"GET http://user:pw@other.example/echo HTTP/1.1\r\nHost: a\r\n\r\n",
                          "bad_absolute_form"),
    "absolute_at_only": (b"GET http://@other.example/echo HTTP/1.1\r\nHost: a\r\n\r\n",
                         "bad_absolute_form"),
    "absolute_ftp": (b"GET ftp://other.example/echo HTTP/1.1\r\nHost: a\r\n\r\n",
                     "bad_absolute_form"),
    "absolute_odd_scheme": (b"GET gopher+x://other.example/echo HTTP/1.1\r\nHost: a\r\n\r\n",
                            "bad_absolute_form"),
    "absolute_empty_authority": (b"GET http:///echo HTTP/1.1\r\nHost: a\r\n\r\n",
                                 "bad_absolute_form"),
    "absolute_bad_port": (b"GET http://other.example:99999/echo HTTP/1.1\r\nHost: a\r\n\r\n",
                          "bad_absolute_form"),
    # Host values that are not an authority
    "host_comma": (b"GET /echo HTTP/1.1\r\nHost: a.example,b.example\r\n\r\n", "bad_host"),
    "host_space": (b"GET /echo HTTP/1.1\r\nHost: a.example b.example\r\n\r\n", "bad_host"),
    "host_userinfo": (b"GET /echo HTTP/1.1\r\nHost: user@a.example\r\n\r\n", "bad_host"),
    "host_slash": (b"GET /echo HTTP/1.1\r\nHost: a.example/evil\r\n\r\n", "bad_host"),
    "host_backslash": (b"GET /echo HTTP/1.1\r\nHost: a.example\\evil\r\n\r\n", "bad_host"),
    "host_empty": (b"GET /echo HTTP/1.1\r\nHost: \r\n\r\n", "bad_host"),
    "host_bad_port": (b"GET /echo HTTP/1.1\r\nHost: a.example:8o\r\n\r\n", "bad_host"),
    "host_port_too_big": (b"GET /echo HTTP/1.1\r\nHost: a.example:65536\r\n\r\n", "bad_host"),
    # names that become framing or identity headers when '_' is read as '-'
    "underscore_te": (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n"
                      b"Content-Length: 5\r\n\r\nhello", "lookalike_header_name"),
    "underscore_cl": (b"POST /echo HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\n",
                      "lookalike_header_name"),
    "underscore_host": (b"GET /echo HTTP/1.1\r\nHost: a\r\nHOST_: b\r\nX_Forwarded_Host: c\r\n\r\n",
                        "lookalike_header_name"),
    "underscore_xff": (b"GET /echo HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 1.2.3.4\r\n\r\n",
                       "lookalike_header_name"),
    # NUL / controls in the request line are HTTP to refuse, not "another protocol"
    "nul_in_target": (b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n", "bad_request_line"),
    "nul_after_method": (b"GET\x00/ HTTP/1.1\r\nHost: a\r\n\r\n", "bad_request_line"),
    "nul_before_method": (b"\x00GET / HTTP/1.1\r\nHost: a\r\n\r\n", "bad_request_line"),
    "ctl_in_target": (b"GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", "bad_request_line"),
    # two of a header that decides how the body is parsed
    "two_content_types": (b"POST /echo HTTP/1.1\r\nHost: a\r\n"
                          b"Content-Type: application/x-www-form-urlencoded\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
                          "duplicate_parsing_header"),
    "two_content_encodings": (b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\n"
                              b"Content-Encoding: identity\r\nContent-Length: 2\r\n\r\nab",
                              "duplicate_parsing_header"),
}


class NormalisationTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.a.port, config={"mode": "monitoring"})

    def test_refused(self):
        for name, (raw, reason) in REFUSED.items():
            with self.subTest(name):
                self.assertRefusedUnforwarded(self.px, self.a, raw, reason)

    def test_absolute_form_is_rewritten_with_the_authority_as_host(self):
        cases = [
            (b"GET http://other.example/echo?x=1 HTTP/1.1\r\nHost: test.local\r\n\r\n",
             "/echo?x=1", "other.example"),
            (b"GET HTTPS://Other.Example:8443/echo HTTP/1.1\r\nHost: test.local\r\n\r\n",
             "/echo", "Other.Example:8443"),
            (b"GET HtTp://other.example/echo HTTP/1.1\r\n\r\n", "/echo", "other.example"),
            (b"GET http://[fd00:b::1]:8080/echo HTTP/1.1\r\nHost: x\r\n\r\n", "/echo",
             "[fd00:b::1]:8080"),
        ]
        for raw, target, host in cases:
            with self.subTest(raw=raw):
                c, r = self.exchange(self.px.port, raw)
                self.assertEqual(r.status, 200, c.transcript())
                j = r.json()
                self.assertEqual(j["target"], target, j)
                self.assertEqual(echo_headers(j, "host"), [host], j)

    def test_absolute_form_without_path_gets_slash(self):
        c, r = self.exchange(self.px.port,
                             b"GET http://other.example HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(r.status, 200, c.transcript())
        self.assertEqual(r.body, b"hello from app\n")

    def test_valid_hosts_pass(self):
        for host in (b"a.example", b"a.example:8080", b"[::1]:8080", b"127.0.0.1", b"a_b-c.d~e"):
            with self.subTest(host=host):
                c, r = self.exchange(self.px.port,
                                     b"GET /echo HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
                self.assertEqual(r.status, 200, c.transcript())
                self.assertEqual(echo_headers(r.json(), "host"), [host.decode()])

    def test_other_underscore_names_are_forwarded(self):
        c, r = self.exchange(self.px.port,
                             b"GET /echo HTTP/1.1\r\nHost: a\r\nX_Custom_Thing: 1\r\n\r\n")
        self.assertEqual(r.status, 200, c.transcript())
        self.assertEqual(echo_headers(r.json(), "x_custom_thing"), ["1"])

    def test_upgrade_h2c_is_stripped(self):
        c, r = self.exchange(self.px.port,
                             b"GET /echo HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings"
                             b"\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
        self.assertEqual(r.status, 200, c.transcript())
        j = r.json()
        self.assertEqual(echo_headers(j, "upgrade"), [], j)
        self.assertEqual(echo_headers(j, "http2-settings"), [], j)
        # the connection stays plain HTTP/1.1
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(self.read_response(c).status, 200, c.transcript())

    def test_http2_settings_never_reaches_the_app(self):
        # Connection-specific (RFC 9113 3.2.1 / RFC 7540 3.2.1), even when Connection does not
        # name it and no Upgrade comes with it.
        settings = b"AAMAAABkAARAAAAAAAIAAAAA"
        for head in (b"GET /echo HTTP/1.1\r\nHost: a\r\nHTTP2-Settings: " + settings + b"\r\n\r\n",
                     b"GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
                     b"http2-settings: " + settings + b"\r\n\r\n"):
            c, r = self.exchange(self.px.port, head)
            self.assertEqual(r.status, 200, c.transcript())
            self.assertEqual(echo_headers(r.json(), "http2-settings"), [], r.json())


class Http2PriorKnowledgeTests(ProxyTestCase):
    """The preface on the HTTP/1.1 port, against an app that would accept anything (echo)."""

    def start(self, mode, **cfg):
        app = self.app("echo")
        config = {"mode": mode}
        config.update(cfg)
        return self.proxy(upstream_port=app.port, config=config)

    def send_raw(self, px, data, timeout=3.0):
        s = socket.create_connection(("127.0.0.1", px.port), timeout=timeout)
        self.addCleanup(s.close)
        s.sendall(data)
        got = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                return got, True
            got += b
            if len(got) >= len(data):
                break
        return got, False

    def test_refused_in_block_and_safe_blocking(self):
        for mode in ("block", "safe_blocking"):
            with self.subTest(mode=mode):
                px = self.start(mode)
                got, closed = self.send_raw(px, H2_PREFACE + H2_SETTINGS)
                self.assertEqual(got, GOAWAY_HTTP11_REQUIRED)
                self.assertTrue(closed, "connection left open")
                m = px.metrics()
                self.assertEqual(m.get("bulwark_bad_requests_total",
                                       {"reason": "http2_prior_knowledge"}), 1)
                self.assertEqual(m.get("bulwark_uninspected_connections_total",
                                       {"reason": "http2"}), 0)

    def test_passed_when_configured_or_monitoring(self):
        for mode, cfg in (("block", {"http2_prior_knowledge": "pass"}), ("monitoring", {})):
            with self.subTest(mode=mode, cfg=cfg):
                px = self.start(mode, **cfg)
                data = H2_PREFACE + H2_SETTINGS
                got, _ = self.send_raw(px, data)
                self.assertEqual(got, data, "not tunnelled to the app")
                self.assertEqual(px.metrics().get("bulwark_uninspected_connections_total",
                                                  {"reason": "http2"}), 1)

    def test_tls_keeps_counted_passthrough_in_block_mode(self):
        px = self.start("block")
        hello = b"\x16\x03\x01\x00\x05hello"
        got, _ = self.send_raw(px, hello)
        self.assertEqual(got, hello)
        self.assertEqual(px.metrics().get("bulwark_uninspected_connections_total",
                                          {"reason": "tls"}), 1)

    def test_bad_config_value_is_refused(self):
        from testlib.proxyctl import run_proxy_once
        rc, _, err = run_proxy_once([], config={"http2_prior_knowledge": "maybe"})
        self.assertEqual(rc, 2)
        self.assertIn("http2_prior_knowledge", err)


class WebSocketStillInspectedTests(ProxyTestCase):
    def test_attack_in_upgrade_request_is_blocked(self):
        app = self.app()
        px = self.proxy(upstream_port=app.port, config={"mode": "block"})
        c = self.conn(px.port)
        c.send(b"GET /ws?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E HTTP/1.1\r\nHost: a\r\n"
               b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        r = self.read_response(c)
        self.assertEqual(r.status, 403, c.transcript())


if __name__ == "__main__":
    unittest.main()

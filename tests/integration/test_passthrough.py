"""Non-HTTP connections: tunnelled unchanged to the app (non_http=pass) or closed (close)."""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_SETTINGS = b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64"  # SETTINGS max_concurrent=100


def tls_client_hello():
    body = b"\x01\x00\x00\x2c\x03\x03" + bytes(range(32)) + b"\x00\x00\x02\x13\x01\x01\x00"
    return b"\x16\x03\x01" + len(body).to_bytes(2, "big") + body


def read_exactly(c, n, timeout=3.0):
    try:
        return c.read_exact(n, timeout=timeout)
    except (EOFError, socket.timeout, ConnectionError):
        return bytes(c.buf)


class PassthroughTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = cls.class_app("echo")
        cls.px = cls.class_proxy(upstream_port=cls.echo.port, config={"non_http": "pass"})

    def uninspected(self, reason):
        return self.px.metrics().get("bulwark_uninspected_connections_total", {"reason": reason})

    def tunnel_roundtrip(self, first, reason, split_at=None):
        m0 = self.uninspected(reason)
        c = self.conn(self.px.port)
        if split_at:
            c.send(first[:split_at])
            time.sleep(0.15)
            c.send(first[split_at:])
        else:
            c.send(first)
        got = read_exactly(c, len(first))
        self.assertEqual(got, first, "first bytes not tunnelled unchanged%s" % c.transcript())
        more = os.urandom(5000)
        c.send(more)
        self.assertEqual(read_exactly(c, len(more)), more, "tunnel not bidirectional%s" % c.transcript())
        m1 = self.px.wait_metric("bulwark_uninspected_connections_total", {"reason": reason}, lambda v: v > m0)
        self.assertEqual(m1 - m0, 1, "bulwark_uninspected_connections_total{reason=%s}" % reason)
        return c

    def test_http2_prior_knowledge_preface(self):
        self.tunnel_roundtrip(H2_PREFACE + H2_SETTINGS, "http2")

    def test_http2_preface_split_across_writes(self):
        self.tunnel_roundtrip(H2_PREFACE + H2_SETTINGS, "http2", split_at=16)

    def test_tls_client_hello(self):
        self.tunnel_roundtrip(tls_client_hello(), "tls")

    def test_tls_first_byte_only_then_rest(self):
        self.tunnel_roundtrip(tls_client_hello(), "tls", split_at=1)

    def test_unknown_binary_protocol(self):
        # demanding: bytes that cannot start an HTTP/1.x request are tunnelled as "unknown"
        self.tunnel_roundtrip(b"\x00\x01\x02\x03binary-protocol\xff\xfe", "unknown")

    def test_large_bidirectional_tunnel(self):
        c = self.conn(self.px.port, timeout=10)
        payload = os.urandom(4 * 1024 * 1024)
        first = tls_client_hello()
        errors = []

        def sender():
            try:
                c.sock.sendall(first + payload)
            except OSError as e:
                errors.append(e)

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        c._keep_log = False
        got = read_exactly(c, len(first) + len(payload), timeout=20)
        t.join(10)
        self.assertEqual(errors, [])
        self.assertEqual(len(got), len(first) + len(payload))
        self.assertTrue(got == first + payload, "tunnelled bytes differ")

    def test_client_half_close_propagates(self):
        c = self.conn(self.px.port)
        c.send(H2_PREFACE)
        self.assertEqual(read_exactly(c, len(H2_PREFACE)), H2_PREFACE, c.transcript())
        c.sock.shutdown(socket.SHUT_WR)
        # the echo app sees EOF, shuts its side; the proxy must pass that back
        self.assertTrue(c.wait_closed(3), "client FIN not propagated through the tunnel" + c.transcript())

    def test_http_still_inspected_on_same_listener(self):
        # a real HTTP request on the same listener is parsed, not tunnelled: the echo app
        # reflects the forwarded request, which is no valid response, so the client must get
        # a proxy-generated 502 (and never its own bytes back)
        c = self.conn(self.px.port)
        c.send(b"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        r = self.read_response(c, timeout=5)
        self.assertFalse(c.received.startswith(b"GET /x"), "HTTP request was tunnelled%s" % c.transcript())
        self.assertProxyError(c, r, 502)


class NonHttpCloseTests(ProxyTestCase):
    def test_non_http_close(self):
        echo = self.app("echo")
        px = self.proxy(upstream_port=echo.port, config={"non_http": "close"})
        for first in (H2_PREFACE + H2_SETTINGS, tls_client_hello()):
            with self.subTest(first=first[:8]):
                c = self.conn(px.port)
                c.send(first)
                data, closed = c.read_until_close(3)
                self.assertTrue(closed, "non-HTTP connection not closed in close mode" + c.transcript())
                self.assertNotIn(first, data, "bytes were tunnelled in close mode" + c.transcript())


class TunnelIdleTests(ProxyTestCase):
    def test_tunnel_idle_timeout(self):
        echo = self.app("echo")
        px = self.proxy(upstream_port=echo.port, config={"timeouts": {"tunnel_idle_ms": 700}})
        m0 = px.metrics().get("bulwark_timeouts_total", {"kind": "tunnel"})
        c = self.conn(px.port)
        c.send(H2_PREFACE)
        self.assertEqual(read_exactly(c, len(H2_PREFACE)), H2_PREFACE)
        # traffic keeps it alive
        for _ in range(3):
            time.sleep(0.4)
            c.send(b"x")
            self.assertEqual(read_exactly(c, 1), b"x", "tunnel closed while active" + c.transcript())
        t0 = time.monotonic()
        closed = c.wait_closed(4)
        dt = time.monotonic() - t0
        self.assertTrue(closed, "idle tunnel not closed after tunnel_idle_ms=700")
        self.assertGreater(dt, 0.4, "idle tunnel closed too early (%.2fs)" % dt)
        m1 = px.wait_metric("bulwark_timeouts_total", {"kind": "tunnel"}, lambda v: v > m0)
        self.assertEqual(m1 - m0, 1)


if __name__ == "__main__":
    unittest.main()

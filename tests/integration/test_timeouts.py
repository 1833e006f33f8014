"""Client and upstream timeouts, and upstream failures (502 / 504)."""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402
from testlib.httpc import build_request  # noqa: E402
from testlib.proxyctl import free_port  # noqa: E402

TIMEOUTS = {"header_ms": 600, "idle_ms": 800, "body_ms": 600, "upstream_read_ms": 800, "send_ms": 700}


class ClientTimeoutTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.a.port, config={"timeouts": TIMEOUTS})

    def timeouts(self, kind):
        return self.px.metrics().get("bulwark_timeouts_total", {"kind": kind})

    def expect_timeout_metric(self, kind, before):
        v = self.px.wait_metric("bulwark_timeouts_total", {"kind": kind}, lambda v: v > before)
        self.assertEqual(v - before, 1, "bulwark_timeouts_total{kind=%s}" % kind)

    def check_408_or_close(self, c, t0, lo, hi):
        data, closed = c.read_until_close(hi + 1.0)
        dt = time.monotonic() - t0
        self.assertTrue(closed, "connection not closed within %.1fs%s" % (hi + 1, c.transcript()))
        self.assertGreaterEqual(dt, lo, "closed too early (%.2fs)%s" % (dt, c.transcript()))
        self.assertLessEqual(dt, hi, "closed too late (%.2fs)%s" % (dt, c.transcript()))
        if data:
            self.assertTrue(data.startswith(b"HTTP/1.1 408 ") or data.startswith(b"HTTP/1.0 408 "),
                            "unexpected bytes instead of 408%s" % c.transcript())
        return data

    def test_partial_head_gets_408(self):
        m0 = self.timeouts("header")
        c = self.conn(self.px.port)
        t0 = time.monotonic()
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n")
        data = self.check_408_or_close(c, t0, 0.45, 2.5)
        self.assertTrue(data, "no 408 sent for a partial head (documented: 408 head not received in time)"
                        + c.transcript())
        self.expect_timeout_metric("header", m0)

    def test_slowloris_trickled_head(self):
        # header_ms runs from the first byte to the end of the head: progress must not extend it
        c = self.conn(self.px.port)
        stop = threading.Event()
        head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"a" * 200

        def trickle():
            for i in range(len(head)):
                if stop.is_set():
                    return
                try:
                    c.sock.send(head[i:i + 1])
                except OSError:
                    return
                time.sleep(0.05)

        t0 = time.monotonic()
        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        try:
            self.check_408_or_close(c, t0, 0.45, 2.0)
        finally:
            stop.set()
            t.join(2)

    def test_idle_keepalive_closed(self):
        m0 = self.timeouts("idle")
        c = self.conn(self.px.port)
        c.send(build_request("GET", "/"))
        self.assertEqual(self.read_response(c).status, 200)
        time.sleep(0.4)  # below idle_ms: still open
        c.send(build_request("GET", "/"))
        self.assertEqual(self.read_response(c).status, 200, "keep-alive closed before idle_ms" + c.transcript())
        t0 = time.monotonic()
        data, closed = c.read_until_close(4)
        dt = time.monotonic() - t0
        self.assertTrue(closed, "idle keep-alive connection not closed after idle_ms=800")
        self.assertGreater(dt, 0.6, "closed after %.2fs, idle_ms is 0.8s" % dt)
        self.assertLess(dt, 2.5, "closed after %.2fs, idle_ms is 0.8s" % dt)
        self.assertEqual(data, b"", "bytes sent on an idle connection%s" % c.transcript())
        self.expect_timeout_metric("idle", m0)

    def test_fresh_connection_without_bytes_closed_silently(self):
        c = self.conn(self.px.port)
        t0 = time.monotonic()
        data, closed = c.read_until_close(4)
        dt = time.monotonic() - t0
        self.assertTrue(closed, "silent new connection never closed")
        self.assertLess(dt, 2.5)
        # demanding: no 408 on a connection that never sent a byte (browser preconnects)
        self.assertEqual(data, b"", "bytes sent to a client that never sent anything%s" % c.transcript())

    def test_body_timeout(self):
        m0 = self.timeouts("body")
        c = self.conn(self.px.port)
        c.send(build_request("POST", "/echo", [("Content-Length", "100")]) + b"0123456789")
        t0 = time.monotonic()
        data, closed = c.read_until_close(4)
        dt = time.monotonic() - t0
        self.assertTrue(closed, "stalled body not timed out (body_ms=600)%s" % c.transcript())
        self.assertGreater(dt, 0.45)
        self.assertLess(dt, 2.5)
        if data:
            self.assertRegex(data[:12], rb"^HTTP/1\.[01] 408", c.transcript())
        self.expect_timeout_metric("body", m0)

    def test_slow_body_with_progress_ok(self):
        # progress resets body_ms: 10 pieces 200 ms apart (2 s total) must succeed
        c = self.conn(self.px.port)
        c.send(build_request("POST", "/echo", [("Content-Length", "100")]))
        for i in range(10):
            time.sleep(0.2)
            c.send(b"0123456789")
        r = self.read_response(c)
        self.assertEqual((r.status, r.json()["body_length"]), (200, 100), c.transcript())

    def test_send_timeout_client_not_reading(self):
        # the client requests 64 MB and never reads: once socket buffers are full there is no
        # progress writing to the client, so after send_ms the proxy must give up and close
        m0 = self.timeouts("send")
        c = self.conn(self.px.port)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        size = 64 * 1024 * 1024
        c.send(build_request("GET", "/big?bytes=%d" % size))
        time.sleep(3.0)
        c._keep_log = False
        total = 0
        closed = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                b = c.sock.recv(1 << 20)
            except (ConnectionResetError, socket.timeout):
                closed = True
                break
            if not b:
                closed = True
                break
            total += len(b)
        self.assertTrue(closed, "connection still open 10s after stalling")
        self.assertLess(total, size, "the whole body was delivered although the client stalled for 3s "
                                     "with send_ms=700 (%d bytes)" % total)
        self.expect_timeout_metric("send", m0)

    def test_upstream_read_timeout_504(self):
        m0 = self.timeouts("upstream")
        e0 = self.px.metrics().get("bulwark_upstream_errors_total", {"kind": "timeout"})
        c = self.conn(self.px.port)
        t0 = time.monotonic()
        c.send(build_request("GET", "/slow?ms=4000"))
        r = self.read_response(c, timeout=5)
        dt = time.monotonic() - t0
        self.assertProxyError(c, r, 504)
        self.assertGreater(dt, 0.6)
        self.assertLess(dt, 2.5, "504 after %.2fs with upstream_read_ms=800" % dt)
        self.expect_timeout_metric("upstream", m0)
        e1 = self.px.wait_metric("bulwark_upstream_errors_total", {"kind": "timeout"}, lambda v: v > e0)
        self.assertEqual(e1 - e0, 1)

    def test_upstream_slow_but_within_timeout_ok(self):
        c = self.conn(self.px.port)
        c.send(build_request("GET", "/slow?ms=400"))
        r = self.read_response(c)
        self.assertEqual(r.status, 200, c.transcript())

    def test_upstream_slow_stream_with_progress_ok(self):
        # 4 chunks 500 ms apart: no single gap exceeds upstream_read_ms (800)
        c = self.conn(self.px.port)
        c.send(build_request("GET", "/chunked?n=4&size=10&delay_ms=500"))
        r = self.read_response(c, timeout=6)
        self.assertEqual((r.status, len(r.body)), (200, 40), c.transcript())


class UpstreamFailureTests(ProxyTestCase):
    def test_upstream_never_answers_504(self):
        bh = self.app("blackhole")
        px = self.proxy(upstream_port=bh.port, config={"timeouts": {"upstream_read_ms": 700}})
        c = self.conn(px.port)
        t0 = time.monotonic()
        c.send(build_request("GET", "/"))
        r = self.read_response(c, timeout=5)
        dt = time.monotonic() - t0
        self.assertProxyError(c, r, 504)
        self.assertLess(dt, 2.5)

    def test_nothing_listening_502(self):
        port = free_port()
        px = self.proxy(upstream_port=port, wait="healthz")
        m0 = px.metrics().get("bulwark_upstream_errors_total", {"kind": "connect"})
        c = self.conn(px.port)
        t0 = time.monotonic()
        c.send(build_request("GET", "/"))
        r = self.read_response(c, timeout=5)
        self.assertProxyError(c, r, 502)
        self.assertLess(time.monotonic() - t0, 2.0)
        m1 = px.wait_metric("bulwark_upstream_errors_total", {"kind": "connect"}, lambda v: v > m0)
        self.assertEqual(m1 - m0, 1)
        # the counter of 5xx responses sent to clients moves too (it is counted when the
        # exchange ends, which may be just after the client has read the answer)
        self.assertGreaterEqual(
            px.wait_metric("bulwark_requests_total", {"class": "5xx"}, lambda v: v >= 1), 1)

    def test_app_restart_recovers(self):
        # pooled connections to a dead app must not produce errors once the app is back
        port = free_port()
        a = self.app(port=port)
        px = self.proxy(upstream_port=port)
        c = self.conn(px.port)
        for _ in range(3):
            c.send(build_request("GET", "/"))
            self.assertEqual(self.read_response(c).status, 200)
        a.stop()
        a2 = self.app(port=port)
        time.sleep(0.1)
        for i in range(5):
            c.send(build_request("GET", "/echo?i=%d" % i))
            r = self.read_response(c)
            self.assertEqual(r.status, 200, "request %d after app restart failed%s" % (i, c.transcript()))
        self.assertIsNotNone(a2)


if __name__ == "__main__":
    unittest.main()

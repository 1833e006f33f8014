"""unittest base class with process management and assertion helpers."""

import json
import re
import socket
import time
import unittest

from .httpc import RawConn, ProtocolError
from .proxyctl import App, Proxy, require_proxy_bin

HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
REQ_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class ProxyTestCase(unittest.TestCase):
    maxDiff = 4000

    # -- class level (shared by the tests of a class) -------------------------
    @classmethod
    def class_app(cls, mode="http", port=0):
        app = App(mode, port).start()
        cls.addClassCleanup(app.stop)
        return app

    @classmethod
    def class_proxy(cls, **kw):
        require_proxy_bin()
        px = Proxy(**kw)
        cls.addClassCleanup(px.kill)
        px.start()
        return px

    # -- per test ------------------------------------------------------------
    def app(self, mode="http", port=0):
        a = App(mode, port).start()
        self.addCleanup(a.stop)
        return a

    def proxy(self, **kw):
        px = Proxy(**kw)
        self.addCleanup(px.kill)
        px.start()
        return px

    def conn(self, port, timeout=5.0):
        c = RawConn(port, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def exchange(self, port, raw):
        """Sends raw bytes on a new connection and reads one response (for the method sent)."""
        c = self.conn(port)
        c.send(raw)
        return c, self.read_response(c, raw.split(b" ", 1)[0].decode("latin-1", "replace"))

    # -- assertions ----------------------------------------------------------
    def read_response(self, conn, method="GET", timeout=None, **kw):
        """read_response that fails the test (with the raw exchange) instead of raising."""
        try:
            return conn.read_response(method, timeout=timeout, **kw)
        except (EOFError, socket.timeout, ConnectionError, ProtocolError, ValueError) as e:
            self.fail("no complete response: %s: %s%s" % (type(e).__name__, e, conn.transcript()))

    def assertProxyError(self, conn, resp, status, expect_close=None):
        """A proxy-generated error: status, X-Request-Id, small JSON body."""
        self.assertEqual(resp.status, status, "unexpected status%s" % conn.transcript())
        rid = resp.header("x-request-id")
        self.assertIsNotNone(rid, "proxy-generated %d without X-Request-Id%s" % (status, conn.transcript()))
        self.assertRegex(rid, REQ_ID_OK)
        try:
            body = json.loads(resp.body.decode("utf-8"))
        except ValueError:
            self.fail("proxy-generated %d body is not JSON: %r%s" % (status, resp.body, conn.transcript()))
        self.assertEqual(body.get("status"), status, "JSON body %r" % body)
        self.assertIn("error", body, "JSON body %r" % body)
        self.assertEqual(body.get("request_id"), rid, "JSON body %r vs header %r" % (body, rid))
        if expect_close:
            closed = conn.wait_closed(2.0)
            self.assertTrue(closed, "connection not closed within 2s after %d%s" % (status, conn.transcript()))
        return body

    def assertRefusedUnforwarded(self, px, app, raw, reason):
        """raw is answered 400 with the connection closed, counted under
        bulwark_bad_requests_total{reason}, and never reaches the app."""
        before = px.metrics().get("bulwark_bad_requests_total", {"reason": reason})
        app_before = app.stats()["requests"]
        c, r = self.exchange(px.port, raw)
        self.assertProxyError(c, r, 400, expect_close=True)
        self.assertEqual(px.metrics().get("bulwark_bad_requests_total", {"reason": reason}),
                         before + 1, "not counted as %s%s" % (reason, c.transcript()))
        self.assertEqual(app.stats()["requests"], app_before, "reached the app%s" % c.transcript())

    def wait_until(self, fn, timeout=2.0, interval=0.05):
        """Polls fn() until truthy (bounded); returns the last value."""
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v or time.monotonic() > deadline:
                return v
            time.sleep(interval)


def echo_headers(resp_json, name):
    name = name.lower()
    return [v for n, v in resp_json["headers"] if n.lower() == name]

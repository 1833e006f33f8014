"""Core HTTP behaviour of bulwark-proxy against the real test app (tests/testlib/app.py).

Run: python3 -m unittest discover -s tests/integration -v
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib import app as appmod  # noqa: E402
from testlib.base import ProxyTestCase, HEX32, echo_headers  # noqa: E402
from testlib.httpc import build_request, chunk_encode  # noqa: E402
from testlib.ws import WsClient, encode_frame  # noqa: E402


def curl(*args, timeout=30):
    p = subprocess.run(["curl", "-sS", "--max-time", str(timeout)] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 5)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


class BasicProxyTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.a.port)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.px.port, path)

    def get(self, path, headers=None, method="GET", body=None, version="HTTP/1.1", host="test.local"):
        c = self.conn(self.px.port)
        c.send(build_request(method, path, headers, body, version, host))
        return c, self.read_response(c, method)

    # -- basics ----------------------------------------------------------------
    def test_get_root(self):
        c, r = self.get("/")
        self.assertEqual(r.status, 200, c.transcript())
        self.assertEqual(r.body, b"hello from app\n", c.transcript())
        self.assertRegex(r.header("x-request-id") or "", HEX32, c.transcript())

    def test_get_with_curl(self):
        rc, out, err = curl("-i", self.url("/"))
        self.assertEqual(rc, 0, err)
        self.assertIn(b"hello from app", out)
        self.assertIn(b"\r\nx-request-id:", out.lower())

    def test_forwarded_headers_added(self):
        c, r = self.get("/echo")
        self.assertEqual(r.status, 200, c.transcript())
        j = r.json()
        self.assertEqual(echo_headers(j, "x-forwarded-for"), ["127.0.0.1"], j)
        self.assertEqual(echo_headers(j, "x-forwarded-proto"), ["http"], j)
        rid = echo_headers(j, "x-request-id")
        self.assertEqual(len(rid), 1, j)
        self.assertRegex(rid[0], HEX32)
        self.assertEqual(r.header("x-request-id"), rid[0], "response X-Request-Id differs from the one sent to the app")

    def test_request_ids_are_unique(self):
        ids = set()
        for _ in range(10):
            c, r = self.get("/")
            ids.add(r.header("x-request-id"))
        self.assertEqual(len(ids), 10, ids)

    def test_x_forwarded_for_appended(self):
        c, r = self.get("/echo", [("X-Forwarded-For", "10.1.2.3")])
        xff = echo_headers(r.json(), "x-forwarded-for")
        self.assertEqual(len(xff), 1, xff)
        self.assertEqual([p.strip() for p in xff[0].split(",")], ["10.1.2.3", "127.0.0.1"], xff)

    def test_x_forwarded_proto_not_spoofable(self):
        # demanding expectation: the app sees exactly one X-Forwarded-Proto, the proxy's "http"
        c, r = self.get("/echo", [("X-Forwarded-Proto", "https")])
        self.assertEqual(echo_headers(r.json(), "x-forwarded-proto"), ["http"], r.json()["headers"])

    def test_valid_request_id_kept(self):
        for rid in ["abc-123", "A.b_c:d-e", "x", "a" * 128, "0123456789abcdef0123456789abcdef"]:
            with self.subTest(rid=rid):
                c, r = self.get("/echo", [("X-Request-Id", rid)])
                self.assertEqual(r.status, 200, c.transcript())
                self.assertEqual(echo_headers(r.json(), "x-request-id"), [rid])
                self.assertEqual(r.header("x-request-id"), rid, c.transcript())

    def test_invalid_request_id_replaced(self):
        for rid in ["bad id", "a" * 129, "ab/cd", "id;drop", "<script>", "ünï"]:
            with self.subTest(rid=rid):
                c, r = self.get("/echo", [("X-Request-Id", rid)])
                self.assertEqual(r.status, 200, c.transcript())
                got = echo_headers(r.json(), "x-request-id")
                self.assertEqual(len(got), 1, got)
                self.assertRegex(got[0], HEX32)
                self.assertEqual(r.header("x-request-id"), got[0], c.transcript())

    def test_hop_by_hop_request_headers_not_forwarded(self):
        c, r = self.get("/echo", [("Connection", "keep-alive, X-Hop-Custom"), ("X-Hop-Custom", "1"),
                                  ("Keep-Alive", "timeout=5"), ("X-End-To-End", "kept")])
        j = r.json()
        self.assertEqual(echo_headers(j, "x-hop-custom"), [], j["headers"])
        self.assertEqual(echo_headers(j, "keep-alive"), [], j["headers"])
        for v in echo_headers(j, "connection"):
            self.assertNotIn("x-hop-custom", v.lower(), j["headers"])
        self.assertEqual(echo_headers(j, "x-end-to-end"), ["kept"])

    def test_hop_by_hop_response_headers_not_forwarded(self):
        c, r = self.get("/hop")
        self.assertEqual(r.status, 200, c.transcript())
        self.assertIsNone(r.header("x-resp-hop"), c.transcript())
        self.assertIsNone(r.header("keep-alive"), c.transcript())
        self.assertEqual(r.header("x-normal"), "yes", c.transcript())

    def test_target_and_query_preserved(self):
        target = "/echo?a=1&b=%20x&c=%2F&d=%E2%82%AC&e"
        c, r = self.get(target)
        self.assertEqual(r.json()["target"], target)

    def test_methods(self):
        for m in ["PUT", "DELETE", "PATCH", "OPTIONS", "POST"]:
            with self.subTest(method=m):
                c, r = self.get("/echo", method=m, body=b"data-" + m.encode())
                j = r.json()
                self.assertEqual(j["method"], m)
                self.assertEqual(j["body_length"], len(b"data-" + m.encode()))

    def test_post_content_length_body(self):
        body = appmod.pattern(0, 1000000)
        c, r = self.get("/echo", method="POST", body=body)
        j = r.json()
        self.assertEqual(j["body_length"], len(body))
        self.assertEqual(j["body_sha256"], hashlib.sha256(body).hexdigest())
        self.assertEqual(echo_headers(j, "content-length"), [str(len(body))])

    def test_many_headers_under_limits(self):
        hs = [("X-H%02d" % i, "v" * 100) for i in range(50)]
        c, r = self.get("/echo", hs)
        self.assertEqual(r.status, 200, c.transcript())
        got = [(n, v) for n, v in r.json()["headers"] if n.lower().startswith("x-h")]
        self.assertEqual([(n.lower(), v) for n, v in got], [(n.lower(), v) for n, v in hs])

    def test_status_codes_passed_through(self):
        c = self.conn(self.px.port)
        for code in [200, 201, 204, 301, 304, 404, 418, 500, 503]:
            with self.subTest(code=code):
                c.send(build_request("GET", "/status?code=%d" % code))
                r = self.read_response(c)
                self.assertEqual(r.status, code, c.transcript())
                if code in (204, 304):
                    self.assertEqual(r.body, b"")
                else:
                    self.assertEqual(r.body, b"status %d\n" % code, c.transcript())
        # connection still usable after all of them (incl. bodiless 204/304)
        c.send(build_request("GET", "/"))
        self.assertEqual(self.read_response(c).body, b"hello from app\n", c.transcript())

    # -- keep-alive / pooling / pipelining -----------------------------------
    def test_keepalive_many_requests_one_connection(self):
        m0 = self.px.metrics().get("bulwark_upstream_reused_total")
        c = self.conn(self.px.port)
        app_conns = set()
        for i in range(30):
            c.send(build_request("GET", "/echo?i=%d" % i))
            r = self.read_response(c)
            self.assertEqual(r.status, 200, c.transcript())
            self.assertNotIn("close", r.conn_tokens(), c.transcript())
            self.assertEqual(r.json()["query"], "i=%d" % i)
            app_conns.add(r.header("x-app-conn"))
        self.assertLessEqual(len(app_conns), 2, "upstream connections not reused: %s" % app_conns)
        m1 = self.px.wait_metric("bulwark_upstream_reused_total", None, lambda v: v - m0 >= 29)
        self.assertGreaterEqual(m1 - m0, 29, "bulwark_upstream_reused_total went %s -> %s" % (m0, m1))

    def test_upstream_pool_shared_across_client_connections(self):
        m0 = self.px.metrics().get("bulwark_upstream_reused_total")
        app_conns = set()
        for i in range(12):
            c, r = self.get("/", [("Connection", "close")])
            self.assertEqual(r.status, 200, c.transcript())
            app_conns.add(r.header("x-app-conn"))
            self.assertTrue(c.wait_closed(2), "client asked Connection: close" + c.transcript())
        # 2 worker threads -> at most a few app connections for 12 sequential requests
        self.assertLessEqual(len(app_conns), 3, "app connections used: %s" % sorted(app_conns))
        m1 = self.px.wait_metric("bulwark_upstream_reused_total", None, lambda v: v - m0 >= 9)
        self.assertGreaterEqual(m1 - m0, 9)

    def test_app_connection_close_does_not_close_client(self):
        # the app closes its connection after each response; the client's keep-alive
        # connection must survive and every request must succeed on a fresh app connection
        c = self.conn(self.px.port)
        app_conns = set()
        for i in range(5):
            c.send(build_request("GET", "/echo?close=1&i=%d" % i))
            r = self.read_response(c)
            self.assertEqual(r.status, 200, c.transcript())
            self.assertNotIn("close", r.conn_tokens(), "app's Connection: close leaked to the client" + c.transcript())
            app_conns.add(r.header("x-app-conn"))
        self.assertEqual(len(app_conns), 5, "a closed app connection was reused: %s" % app_conns)

    def test_pipelining_five_requests_one_write(self):
        c = self.conn(self.px.port)
        reqs = [
            build_request("GET", "/echo?i=0"),
            build_request("POST", "/echo?i=1", body=b"x" * 1000),
            build_request("GET", "/chunked?n=2&size=10"),
            build_request("HEAD", "/echo?i=3"),
            build_request("PUT", "/echo?i=4", [("Transfer-Encoding", "chunked")]) + chunk_encode([b"ab", b"cde"]),
        ]
        c.send(b"".join(reqs))
        r0 = self.read_response(c)
        r1 = self.read_response(c)
        r2 = self.read_response(c)
        r3 = self.read_response(c, "HEAD")
        r4 = self.read_response(c)
        self.assertEqual(r0.json()["query"], "i=0", c.transcript())
        self.assertEqual((r1.json()["query"], r1.json()["body_length"]), ("i=1", 1000))
        self.assertEqual(r2.body, appmod.pattern(0, 20))
        self.assertEqual(r3.status, 200)
        self.assertEqual(r3.body, b"")
        self.assertEqual((r4.json()["query"], r4.json()["body_length"], r4.json()["method"]), ("i=4", 5, "PUT"))
        # and nothing extra arrives
        c.send(build_request("GET", "/"))
        self.assertEqual(self.read_response(c).body, b"hello from app\n", c.transcript())

    def test_pipelining_slow_first_answered_in_order(self):
        c = self.conn(self.px.port)
        c.send(build_request("GET", "/slow?ms=300") + build_request("GET", "/echo?i=1")
               + build_request("GET", "/echo?i=2"))
        r0 = self.read_response(c)
        r1 = self.read_response(c)
        r2 = self.read_response(c)
        self.assertTrue(r0.body.startswith(b"slow done"), c.transcript())
        self.assertEqual(r1.json()["query"], "i=1")
        self.assertEqual(r2.json()["query"], "i=2")

    # -- chunked ---------------------------------------------------------------
    def test_chunked_request_upload_raw(self):
        pieces = [appmod.pattern(0, 1), appmod.pattern(1, 100), appmod.pattern(101, 65536),
                  appmod.pattern(65637, 3), appmod.pattern(65640, 200000)]
        whole = b"".join(pieces)
        data = build_request("POST", "/echo", [("Transfer-Encoding", "chunked")]) + \
            chunk_encode(pieces, trailers=[("X-Trailer", "t1")], ext=True)
        c = self.conn(self.px.port)
        # send in awkward pieces so chunk headers are split across reads
        for i in range(0, len(data), 7777):
            c.send(data[i:i + 7777])
            if i < 50000:
                time.sleep(0.002)
        r = self.read_response(c)
        self.assertEqual(r.status, 200, c.transcript())
        j = r.json()
        self.assertEqual(j["body_length"], len(whole))
        self.assertEqual(j["body_sha256"], hashlib.sha256(whole).hexdigest())
        c.send(build_request("GET", "/"))
        self.assertEqual(self.read_response(c).body, b"hello from app\n", c.transcript())

    def test_chunked_request_upload_curl(self):
        with tempfile.NamedTemporaryFile(prefix="bulwark-it-") as f:
            body = appmod.pattern(12345, 3 * 1024 * 1024 + 17)
            f.write(body)
            f.flush()
            rc, out, err = curl("-H", "Transfer-Encoding: chunked", "-H", "Expect:",
                                "--data-binary", "@" + f.name, self.url("/echo"))
        self.assertEqual(rc, 0, err)
        j = json.loads(out)
        self.assertEqual(j["body_length"], len(body))
        self.assertEqual(j["body_sha256"], hashlib.sha256(body).hexdigest())

    def test_chunked_response_download(self):
        c = self.conn(self.px.port)
        c.send(build_request("GET", "/chunked?n=50&size=1000"))
        r = self.read_response(c)
        self.assertEqual(r.status, 200, c.transcript())
        self.assertEqual(r.body, appmod.pattern(0, 50000))
        c.send(build_request("GET", "/chunked?n=0&size=10"))
        r = self.read_response(c)
        self.assertEqual((r.status, r.body), (200, b""), c.transcript())
        rc, out, err = curl(self.url("/chunked?n=200&size=4099"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(hashlib.sha256(out).hexdigest(), hashlib.sha256(appmod.pattern(0, 200 * 4099)).hexdigest())

    def test_response_is_streamed_not_buffered(self):
        c = self.conn(self.px.port)
        t0 = time.monotonic()
        c.send(build_request("GET", "/chunked?n=3&size=100&delay_ms=800"))
        c.read_head()
        first = c.read_some(timeout=3)
        t_first = time.monotonic() - t0
        self.assertTrue(first, c.transcript())
        self.assertLess(t_first, 0.6, "first chunk took %.2fs: the proxy buffers the response" % t_first)

    # -- Expect: 100-continue ----------------------------------------------------
    def test_expect_100_continue_raw(self):
        c = self.conn(self.px.port)
        c.send(build_request("POST", "/echo", [("Expect", "100-continue"), ("Content-Length", "11")]))
        try:
            interim = c.read_head(timeout=3)
        except Exception as e:
            self.fail("no 100 Continue before the body was sent: %r%s" % (e, c.transcript()))
        self.assertEqual(interim.status, 100, c.transcript())
        self.assertTrue(c.received.startswith(b"HTTP/1.1 100 Continue\r\n"), c.transcript())
        c.send(b"hello world")
        r = self.read_response(c)
        self.assertEqual(r.status, 200, c.transcript())
        j = r.json()
        self.assertEqual(j["body_length"], 11)
        self.assertEqual(echo_headers(j, "expect"), [], "Expect was forwarded to the app")
        # exactly one 100 reached the client (the app's own 100 must not leak through)
        self.assertEqual(c.received.count(b" 100 Continue"), 1, c.transcript())

    def test_expect_100_continue_curl(self):
        with tempfile.NamedTemporaryFile(prefix="bulwark-it-") as f:
            body = appmod.pattern(0, 2 * 1024 * 1024)
            f.write(body)
            f.flush()
            t0 = time.monotonic()
            rc, out, err = curl("-v", "--expect100-timeout", "20", "-H", "Expect: 100-continue",
                                "--data-binary", "@" + f.name, self.url("/echo"))
            dt = time.monotonic() - t0
        self.assertEqual(rc, 0, err)
        self.assertIn("HTTP/1.1 100 Continue", err)
        self.assertLess(dt, 10, "curl waited for its expect100 timeout")
        j = json.loads(out)
        self.assertEqual(j["body_sha256"], hashlib.sha256(body).hexdigest())

    def test_expect_unknown_417(self):
        c = self.conn(self.px.port)
        c.send(build_request("POST", "/echo", [("Expect", "something-else"), ("Content-Length", "5")]))
        r = self.read_response(c)
        self.assertProxyError(c, r, 417)

    # -- HTTP/1.0 ---------------------------------------------------------------
    def test_http10_without_keepalive(self):
        c = self.conn(self.px.port)
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        r = self.read_response(c)
        self.assertEqual((r.status, r.body), (200, b"hello from app\n"), c.transcript())
        self.assertIsNone(r.header("transfer-encoding"), c.transcript())
        self.assertTrue(c.wait_closed(2), "HTTP/1.0 connection without keep-alive not closed" + c.transcript())

    def test_http10_with_keepalive(self):
        c = self.conn(self.px.port)
        for i in range(3):
            c.send(b"GET /echo?i=%d HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n" % i)
            r = self.read_response(c)
            self.assertEqual(r.status, 200, c.transcript())
            self.assertEqual(r.json()["query"], "i=%d" % i)
            self.assertIn("keep-alive", r.conn_tokens(), "HTTP/1.0 keep-alive response lacks Connection: keep-alive" + c.transcript())
            self.assertIsNone(r.header("transfer-encoding"), c.transcript())
        self.assertFalse(c.wait_closed(0.3), "keep-alive HTTP/1.0 connection closed" + c.transcript())

    def test_http10_client_chunked_upstream(self):
        for ka in (False, True):
            with self.subTest(keepalive=ka):
                c = self.conn(self.px.port)
                c.send(b"GET /chunked?n=5&size=1000 HTTP/1.0\r\nHost: a\r\n" +
                       (b"Connection: keep-alive\r\n" if ka else b"") + b"\r\n")
                r = self.read_response(c)
                self.assertEqual(r.status, 200, c.transcript())
                self.assertIsNone(r.header("transfer-encoding"), "chunked sent to an HTTP/1.0 client" + c.transcript())
                self.assertEqual(r.body, appmod.pattern(0, 5000), c.transcript())
                if r.close_delimited:
                    self.assertTrue(c.eof)

    def test_http10_post_body(self):
        c = self.conn(self.px.port)
        c.send(b"POST /echo HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello")
        r = self.read_response(c)
        self.assertEqual(r.json()["body_length"], 5, c.transcript())

    # -- HEAD ---------------------------------------------------------------------
    def test_head(self):
        c = self.conn(self.px.port)
        for path, cl in [("/", "15"), ("/big?bytes=10000000", "10000000"), ("/chunked?n=3&size=10", None)]:
            with self.subTest(path=path):
                c.send(build_request("HEAD", path))
                r = self.read_response(c, "HEAD", timeout=3)
                self.assertEqual(r.status, 200, c.transcript())
                if cl:
                    self.assertEqual(r.header("content-length"), cl, c.transcript())
                # next request on the same connection must parse cleanly (no body after HEAD)
                c.send(build_request("GET", "/"))
                r2 = self.read_response(c)
                self.assertEqual(r2.body, b"hello from app\n", c.transcript())

    def test_head_curl(self):
        rc, out, err = curl("-I", self.url("/big?bytes=12345"))
        self.assertEqual(rc, 0, err)
        self.assertIn(b"content-length: 12345", out.lower())

    # -- close-delimited upstream responses -----------------------------------------
    def test_close_delimited_to_http11_client(self):
        c = self.conn(self.px.port)
        c.send(build_request("GET", "/close-delimited?bytes=100000"))
        r = self.read_response(c)
        self.assertEqual(r.status, 200, c.transcript())
        self.assertEqual(len(r.body), 100000)
        self.assertEqual(r.body, appmod.pattern(0, 100000))

    def test_close_delimited_rechunked_keeps_client_connection(self):
        # demanding: an HTTP/1.1 client gets the close-delimited body re-framed as chunked,
        # and its connection stays usable
        c = self.conn(self.px.port)
        c.send(build_request("GET", "/close-delimited?bytes=20000"))
        r = self.read_response(c)
        self.assertEqual(r.body, appmod.pattern(0, 20000), c.transcript())
        self.assertTrue(r.chunked, "close-delimited upstream body not re-chunked for HTTP/1.1" + c.transcript())
        c.send(build_request("GET", "/"))
        self.assertEqual(self.read_response(c).body, b"hello from app\n", c.transcript())

    def test_close_delimited_to_http10_client(self):
        c = self.conn(self.px.port)
        c.send(b"GET /close-delimited?bytes=70000 HTTP/1.0\r\n\r\n")
        r = self.read_response(c)
        self.assertEqual(r.status, 200, c.transcript())
        self.assertIsNone(r.header("transfer-encoding"), c.transcript())
        self.assertEqual(r.body, appmod.pattern(0, 70000))
        self.assertTrue(c.eof or c.wait_closed(2))

    def test_close_delimited_curl(self):
        rc, out, err = curl(self.url("/close-delimited?bytes=300000"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, appmod.pattern(0, 300000))

    # -- WebSocket ------------------------------------------------------------------
    def test_websocket_echo(self):
        w = WsClient(self.px.port)
        self.addCleanup(w.close)
        hs = w.handshake
        self.assertEqual(hs.status, 101, w.conn.transcript())
        self.assertEqual(hs.header("sec-websocket-accept"), w.expected_accept(), w.conn.transcript())
        self.assertEqual((hs.header("upgrade") or "").lower(), "websocket")
        self.assertIn("upgrade", hs.conn_tokens())
        w.send(0x1, b"hello websocket")
        self.assertEqual(w.recv(), (True, 0x1, False, b"hello websocket"))
        big = os.urandom(70000)
        w.send(0x2, big)
        fin, op, masked, payload = w.recv()
        self.assertEqual((fin, op, masked), (True, 0x2, False))
        self.assertEqual(payload, big)
        mid = os.urandom(300)
        w.send(0x2, mid)
        self.assertEqual(w.recv()[3], mid)
        # fragmented message
        w.send(0x1, b"frag-1 ", fin=False)
        w.send(0x0, b"frag-2", fin=True)
        self.assertEqual(w.recv(), (False, 0x1, False, b"frag-1 "))
        self.assertEqual(w.recv(), (True, 0x0, False, b"frag-2"))
        w.send(0x9, b"ping!")
        self.assertEqual(w.recv(), (True, 0xA, False, b"ping!"))
        # many frames in one write
        w.conn.send(b"".join(encode_frame(0x1, b"m%d" % i) for i in range(20)))
        for i in range(20):
            self.assertEqual(w.recv()[3], b"m%d" % i)
        w.send(0x8, b"\x03\xe8bye")
        self.assertEqual(w.recv(), (True, 0x8, False, b"\x03\xe8bye"))
        self.assertTrue(w.conn.wait_closed(3), "tunnel not closed after the app closed" + w.conn.transcript())

    def test_websocket_request_id_and_xff_sent_to_app(self):
        # the upgrade request itself is an HTTP request: the app must see proper Upgrade headers
        w = WsClient(self.px.port, extra_headers=[("X-Request-Id", "ws-req-1")])
        self.addCleanup(w.close)
        self.assertEqual(w.handshake.status, 101, w.conn.transcript())
        self.assertEqual(w.handshake.header("x-request-id"), "ws-req-1", w.conn.transcript())

    # -- proxy-generated errors from app behaviour ----------------------------------
    def test_bad_upstream_response_502(self):
        m0 = self.px.metrics().get("bulwark_upstream_errors_total", {"kind": "bad_response"})
        c = self.conn(self.px.port)
        c.send(build_request("GET", "/bad-response"))
        r = self.read_response(c)
        self.assertProxyError(c, r, 502)
        m1 = self.px.wait_metric("bulwark_upstream_errors_total", {"kind": "bad_response"}, lambda v: v > m0)
        self.assertEqual(m1 - m0, 1)

    def test_upstream_reset_502(self):
        m0 = self.px.metrics().get("bulwark_upstream_errors_total", {"kind": "closed"})
        c = self.conn(self.px.port)
        c.send(build_request("GET", "/reset"))
        r = self.read_response(c)
        self.assertProxyError(c, r, 502)
        m1 = self.px.wait_metric("bulwark_upstream_errors_total", {"kind": "closed"}, lambda v: v > m0)
        self.assertEqual(m1 - m0, 1)


class SourceAddressTests(ProxyTestCase):
    def test_source_address_used_for_upstream(self):
        a = self.app()
        px = self.proxy(upstream_port=a.port, config={"source_address": "127.0.0.6"})
        c = self.conn(px.port)
        c.send(build_request("GET", "/echo"))
        r = self.read_response(c)
        self.assertEqual(r.json()["remote_addr"], "127.0.0.6")

    def test_empty_source_address(self):
        a = self.app()
        px = self.proxy(upstream_port=a.port, config={"source_address": ""})
        c = self.conn(px.port)
        c.send(build_request("GET", "/echo"))
        r = self.read_response(c)
        self.assertEqual(r.json()["remote_addr"], "127.0.0.1")


class BodyLimitTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.a.port, config={"limits": {"max_body_bytes": 1000}})

    def test_body_at_limit_ok(self):
        c = self.conn(self.px.port)
        c.send(build_request("POST", "/echo", body=b"a" * 1000))
        r = self.read_response(c)
        self.assertEqual((r.status, r.json()["body_length"]), (200, 1000), c.transcript())

    def test_content_length_over_limit_413(self):
        c = self.conn(self.px.port)
        c.send(build_request("POST", "/echo", body=b"a" * 1001))
        r = self.read_response(c)
        self.assertProxyError(c, r, 413)

    def test_chunked_over_limit_413(self):
        c = self.conn(self.px.port)
        c.send(build_request("POST", "/echo", [("Transfer-Encoding", "chunked")]) +
               chunk_encode([b"a" * 600, b"b" * 600]))
        r = self.read_response(c)
        self.assertProxyError(c, r, 413)

    def test_expect_100_over_limit_gets_413_not_100(self):
        c = self.conn(self.px.port)
        c.send(build_request("POST", "/echo", [("Expect", "100-continue"), ("Content-Length", "5000")]))
        r = self.read_response(c, allow_1xx=True, timeout=3)
        self.assertProxyError(c, r, 413)


if __name__ == "__main__":
    unittest.main()

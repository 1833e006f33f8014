"""SIGTERM / SIGINT: graceful drain without failed requests, bounded by timeouts.drain_ms."""

import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402
from testlib.httpc import RawConn, build_request, ProtocolError  # noqa: E402
from testlib.proxyctl import http_get  # noqa: E402


class DrainTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()

    def test_sigterm_under_load_no_failed_requests(self):
        drain_ms = 5000
        px = self.proxy(upstream_port=self.a.port, config={"timeouts": {"drain_ms": drain_ms}})
        n_clients = 16
        sigterm_at = [None]
        lock = threading.Lock()
        failures = []      # (client, description)
        ok = [0]
        slow_completed_after_term = []
        slow_without_close = []
        refused_after_term = [0]
        hard_deadline = time.monotonic() + 15

        def client(i):
            conn = None
            k = 0
            prev = None  # (time received, Connection header) of the previous response on conn
            while time.monotonic() < hard_deadline:
                if conn is None:
                    try:
                        conn = RawConn(px.port, timeout=5)
                    except (ConnectionRefusedError, socket.timeout, OSError) as e:
                        if sigterm_at[0] is not None:
                            with lock:
                                refused_after_term[0] += 1
                            return
                        with lock:
                            failures.append((i, "connect failed before SIGTERM: %r" % e))
                        return
                    fresh = True
                    prev = None
                else:
                    fresh = False
                slow = (i % 4 == 0) and (k % 2 == 0)
                path = "/slow?ms=300" if slow else "/echo?c=%d&k=%d" % (i, k)
                body = b"b" * (k % 3 * 1000) if not slow else None
                req = build_request("POST" if body else "GET", path, body=body)
                k += 1
                try:
                    conn.send(req)
                except OSError as e:
                    # not fully sent: not a failed request, but the connection is gone
                    if sigterm_at[0] is None:
                        with lock:
                            failures.append((i, "send failed before SIGTERM: %r" % e))
                    conn.close()
                    conn = None
                    continue
                t_sent = time.monotonic()
                try:
                    r = conn.read_response(timeout=8)
                except (EOFError, socket.timeout, ProtocolError, OSError) as e:
                    term = sigterm_at[0]
                    rel = lambda t: "%+.3fs" % (t - term) if term else "n/a"  # noqa: E731
                    with lock:
                        failures.append((i, "%s fully sent at %s (rel. to SIGTERM) on a %s connection; "
                                            "previous response on it received at %s with Connection: %r; "
                                            "got %r, partial bytes %r"
                                         % (path, rel(t_sent), "fresh" if fresh else "reused",
                                            rel(prev[0]) if prev else "-", prev[1] if prev else None,
                                            e, bytes(conn.buf[:200]))))
                    conn.close()
                    conn = None
                    continue
                prev = (time.monotonic(), r.header("connection"))
                if r.status != 200:
                    with lock:
                        failures.append((i, "%s -> %d%s" % (path, r.status, conn.transcript()[-600:])))
                with lock:
                    ok[0] += 1
                term = sigterm_at[0]
                if slow and term is not None and t_sent < term:
                    with lock:
                        slow_completed_after_term.append((r.status, time.monotonic() - term))
                    if time.monotonic() - term > 0.1 and "close" not in r.conn_tokens():
                        with lock:
                            slow_without_close.append(path)
                if "close" in r.conn_tokens():
                    conn.close()
                    conn = None
            if conn:
                conn.close()

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n_clients)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        with lock:
            ok_before = ok[0]
        sigterm_at[0] = time.monotonic()
        px.signal(signal.SIGTERM)
        # while draining: not ready
        saw_503 = False
        while time.monotonic() - sigterm_at[0] < 0.25:
            st, _ = http_get(px.status_port, "/readyz", timeout=0.5)
            if st == 503:
                saw_503 = True
                break
            if st is None:
                break
            time.sleep(0.02)
        rc = px.wait_exit(drain_ms / 1000.0 + 3)
        exit_after = time.monotonic() - sigterm_at[0]
        for t in threads:
            t.join(max(0.1, hard_deadline - time.monotonic()))
        alive = [t for t in threads if t.is_alive()]

        problems = []
        if ok_before <= 50:
            problems.append("too little load before SIGTERM (%d requests)" % ok_before)
        if failures:
            problems.append("%d failed requests during drain (%d ok):\n    %s" % (
                len(failures), ok[0], "\n    ".join("client %d: %s" % f for f in failures[:8])))
        if rc != 0:
            problems.append("exit status %r after SIGTERM drain" % rc)
        if exit_after >= 3.0:
            problems.append("proxy took %.2fs to exit though all clients finished" % exit_after)
        if alive:
            problems.append("%d client threads still running" % len(alive))
        if not slow_completed_after_term:
            problems.append("no in-flight slow request observed across SIGTERM")
        if not all(st == 200 for st, _ in slow_completed_after_term):
            problems.append("in-flight slow requests: %r" % slow_completed_after_term)
        if slow_without_close:
            problems.append("%d in-flight responses completed >100 ms after SIGTERM lack Connection: close"
                            % len(slow_without_close))
        if not saw_503:
            problems.append("/readyz did not turn 503 right after SIGTERM")
        if problems:
            self.fail("\n".join(problems) + "\n" + px.describe())

    def test_sigterm_inflight_request_completes(self):
        px = self.proxy(upstream_port=self.a.port, config={"timeouts": {"drain_ms": 10000}})
        c = self.conn(px.port)
        c.send(build_request("GET", "/slow?ms=1500"))
        time.sleep(0.2)
        t0 = time.monotonic()
        px.signal(signal.SIGTERM)
        time.sleep(0.2)
        # draining: readyz 503, gauge 1; during the drain window (timeouts.drain_delay_ms) a
        # new connection is still served, with Connection: close
        st, body = px.status_get("/readyz")
        self.assertEqual(st, 503, "readyz while draining: %r %r" % (st, body))
        self.assertEqual(px.metrics().get("bulwark_draining"), 1)
        with RawConn(px.port, timeout=2) as n:
            rn = n.request("GET", "/echo?during-drain-window=1")
            self.assertEqual(rn.status, 200, n.transcript())
            self.assertIn("close", rn.conn_tokens(), n.transcript())
        r = self.read_response(c, timeout=5)
        self.assertEqual(r.status, 200, c.transcript())
        self.assertIn("close", r.conn_tokens(), "in-flight response after SIGTERM lacks Connection: close" + c.transcript())
        self.assertTrue(c.wait_closed(2), c.transcript())
        rc = px.wait_exit(5)
        dt = time.monotonic() - t0
        self.assertEqual(rc, 0, px.describe())
        self.assertLess(dt, 3.0, "exit %.2fs after SIGTERM; the only request ended at ~1.3s, the drain window at 2 s" % dt)

    def test_sigterm_closes_idle_keepalive_then_exits(self):
        px = self.proxy(upstream_port=self.a.port, config={"timeouts": {"drain_ms": 10000, "idle_ms": 60000}})
        c = self.conn(px.port)
        c.send(build_request("GET", "/"))
        self.assertEqual(self.read_response(c).status, 200)
        t0 = time.monotonic()
        px.signal(signal.SIGTERM)
        data, closed = c.read_until_close(4)
        dt = time.monotonic() - t0
        self.assertTrue(closed, "idle keep-alive connection not closed during drain")
        self.assertEqual(data, b"")
        self.assertLess(dt, 2.5, "idle connection closed %.2fs after SIGTERM (doc: once idle for a second)" % dt)
        rc = px.wait_exit(3)
        self.assertEqual(rc, 0, px.describe())

    def test_request_on_keepalive_during_drain_served_with_close(self):
        px = self.proxy(upstream_port=self.a.port, config={"timeouts": {"drain_ms": 10000}})
        c = self.conn(px.port)
        c.send(build_request("GET", "/"))
        self.assertEqual(self.read_response(c).status, 200)
        keep = self.conn(px.port)  # keeps the proxy draining
        keep.send(build_request("GET", "/slow?ms=1500"))
        time.sleep(0.1)
        px.signal(signal.SIGTERM)
        time.sleep(0.3)  # idle < 1 s: the connection must still be served
        c.send(build_request("GET", "/echo?after=term"))
        r = self.read_response(c)
        self.assertEqual(r.status, 200, c.transcript())
        self.assertIn("close", r.conn_tokens(), c.transcript())
        self.assertEqual(self.read_response(keep, timeout=5).status, 200)
        self.assertEqual(px.wait_exit(5), 0, px.describe())

    def test_drain_deadline(self):
        px = self.proxy(upstream_port=self.a.port, config={"timeouts": {"drain_ms": 1000}})
        c = self.conn(px.port)
        c.send(build_request("GET", "/slow?ms=8000"))
        time.sleep(0.2)
        t0 = time.monotonic()
        px.signal(signal.SIGTERM)
        rc = px.wait_exit(5)
        dt = time.monotonic() - t0
        self.assertEqual(rc, 0, "exit status when drain_ms expires\n" + px.describe())
        self.assertGreater(dt, 0.8, "exited before drain_ms with a request in flight")
        self.assertLess(dt, 2.5, "drain_ms=1000 not enforced (%.2fs)" % dt)

    def test_drain_window_held_while_app_accepts(self):
        px = self.proxy(upstream_port=self.a.port, config={"timeouts": {"drain_delay_ms": 1500}})
        t0 = time.monotonic()
        px.signal(signal.SIGTERM)
        time.sleep(0.5)
        c = self.conn(px.port)  # still accepting in the window: served, with close
        c.send(build_request("GET", "/echo?in=window"))
        r = self.read_response(c)
        self.assertEqual(r.status, 200, c.transcript())
        self.assertIn("close", r.conn_tokens(), c.transcript())
        self.assertEqual(px.wait_exit(5), 0, px.describe())
        self.assertGreater(time.monotonic() - t0, 1.3, "drain window cut short while the app was up")

    def test_drain_window_ends_when_app_has_exited(self):
        # A native sidecar is stopped after the app: a client in the window could only get a 502,
        # so the proxy stops accepting and the client is refused (and retries elsewhere).
        app = self.app()
        px = self.proxy(upstream_port=app.port,
                        config={"log_level": "info", "timeouts": {"drain_delay_ms": 4000}})
        c = self.conn(px.port)
        c.send(build_request("GET", "/"))
        self.assertEqual(self.read_response(c).status, 200)
        c.close()
        app.stop()
        t0 = time.monotonic()
        px.signal(signal.SIGTERM)
        self.assertEqual(px.wait_exit(5), 0, px.describe())
        self.assertLess(time.monotonic() - t0, 2.0, "drain window held for an app that had exited")
        self.assertIn("drain window ends early", px.stderr_text())

    def test_sigint_idle_exits_0(self):
        px = self.proxy(upstream_port=self.a.port)
        t0 = time.monotonic()
        px.signal(signal.SIGINT)
        rc = px.wait_exit(5)
        self.assertEqual(rc, 0, px.describe())
        self.assertLess(time.monotonic() - t0, 1.5, "idle proxy slow to exit on SIGINT")


if __name__ == "__main__":
    unittest.main()

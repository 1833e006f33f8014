"""Hardening under load: silent connections, the connection cap, drain without refused
connections, reload of inspection limits, memory per idle connection and after a burst.

Every load loop stops itself (bounded by seconds); the proxy runs with small timeouts.
"""

import os
import json
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402
from testlib.httpc import RawConn, build_request  # noqa: E402
from testlib.proxyctl import ProxyStartError, http_get  # noqa: E402
from testlib.smuggle import proxy_serves  # noqa: E402


# Configuration of the global connection cap (limits.max_connections in docs/proxy.md).
def connection_cap_config(n):
    return {"limits": {"max_connections": n}}


# How long after SIGTERM the proxy must keep accepting new connections while /readyz fails
# (the endpoint is being removed from the Service). The test keeps opening connections for this
# long; the proxy's own drain window (its default) must be at least this long.
DRAIN_ACCEPT_WINDOW_S = 1.5

# Goal for the proxy's resident memory per idle keep-alive client connection.
IDLE_CONN_BYTES_GOAL = 1024
# Goal for a connection that has sent ~330 bytes of a head and waits for more (a slow-header
# trickle): the bytes received and the waiting connection, nothing per-request beyond them.
TRICKLE_CONN_BYTES_GOAL = 2048

SQLI_FORM = "q=1%27+UNION+SELECT+username%2C+password+FROM+users--"


class SilentConnections(ProxyTestCase):
    """A connection that never sends a byte is closed after the header timeout, not idle_ms."""

    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.a.port,
                                 config={"timeouts": {"header_ms": 1000, "idle_ms": 30000}})

    def test_silent_connections_closed_after_header_timeout(self):
        conns = [self.conn(self.px.port, timeout=5) for _ in range(5)]
        t0 = time.monotonic()
        for c in conns:
            closed = c.wait_closed(max(0.1, t0 + 3.5 - time.monotonic()))
            self.assertTrue(closed, "a connection that never sent a byte is still open %.1fs after "
                                    "accept (header_ms 1 s, idle_ms 30 s)" % (time.monotonic() - t0))
        self.assertGreater(time.monotonic() - t0, 0.8, "closed before header_ms")
        ok, detail = proxy_serves(self.px)
        self.assertTrue(ok, detail)

    def test_trickled_head_closed_after_header_timeout(self):
        c = self.conn(self.px.port, timeout=5)
        t0 = time.monotonic()
        head = b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"s" * 200
        closed = False
        for i in range(len(head)):
            try:
                c.send(head[i:i + 1])
            except OSError:
                closed = True
                break
            if time.monotonic() - t0 > 4.0:
                break
            time.sleep(0.05)
        if not closed:
            closed = c.wait_closed(0.5)
        self.assertTrue(closed, "a head trickled one byte per 50 ms is still open after %.1fs "
                                "(header_ms 1 s)" % (time.monotonic() - t0))
        self.assertLess(time.monotonic() - t0, 3.5)


class ConnectionCap(ProxyTestCase):
    """With a small connection cap, connections beyond it are refused or closed (never served)
    while the existing ones keep being served."""

    CAP = 8

    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()

    def test_excess_connections_refused_existing_served(self):
        cfg = connection_cap_config(self.CAP)
        cfg["timeouts"] = {"idle_ms": 30000, "header_ms": 10000}
        try:
            px = self.proxy(upstream_port=self.a.port, config=cfg)
        except ProxyStartError as e:
            self.fail("the proxy does not accept the connection cap setting %r: %s" % (cfg, str(e)[:600]))
        held = []
        for i in range(self.CAP):
            c = self.conn(px.port, timeout=3)
            r = c.request("GET", "/echo?held=%d" % i)
            self.assertEqual(r.status, 200, c.transcript())
            held.append(c)
        served_excess = []
        excess = []
        for i in range(self.CAP * 2):
            try:
                c = RawConn(px.port, timeout=2)
            except OSError:
                continue  # refused at connect: fine
            self.addCleanup(c.close)
            excess.append(c)
            try:
                c.send(build_request("GET", "/echo?excess=%d" % i))
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        for c in excess:
            try:
                got, _ = c.read_until_close(max(0.05, deadline - time.monotonic()))
            except OSError:
                got = bytes(c.buf)
            if got.startswith(b"HTTP/1.1 200"):
                served_excess.append(c)
        self.assertEqual(len(served_excess), 0, "%d of %d connections beyond max_connections=%d were served"
                         % (len(served_excess), len(excess), self.CAP))
        for i, c in enumerate(held):
            r = c.request("GET", "/echo?again=%d" % i)
            self.assertEqual(r.status, 200, "an existing connection was not served at the cap%s"
                             % c.transcript())
        for c in held + excess:
            c.close()
        # the cap frees up: new connections are served again
        deadline = time.monotonic() + 3.0
        ok, detail = False, ""
        while time.monotonic() < deadline and not ok:
            ok, detail = proxy_serves(px)
            time.sleep(0.1)
        self.assertTrue(ok, "no new connection served after the held ones closed: %s" % detail)


class DrainKeepsAccepting(ProxyTestCase):
    """SIGTERM under load while a client keeps opening NEW connections: /readyz fails first, and
    not one connection is refused during the drain window."""

    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()

    def test_sigterm_new_connections_never_refused(self):
        px = self.proxy(upstream_port=self.a.port, config={"timeouts": {"drain_ms": 5000}})
        stop = threading.Event()
        term_at = [None]
        lock = threading.Lock()
        refused = []
        failed = []
        ok_after_term = [0]
        ok_before = [0]

        def client(k):
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    c = RawConn(px.port, timeout=3)
                except OSError as e:
                    with lock:
                        refused.append((time.monotonic(), repr(e)))
                    time.sleep(0.01)
                    continue
                try:
                    c.send(build_request("GET", "/echo?c=%d&n=%d" % (k, n), headers=[("Connection", "close")]))
                    r = c.read_response(timeout=3)
                    with lock:
                        if r.status != 200:
                            failed.append((time.monotonic(), "status %d" % r.status))
                        elif term_at[0] is None:
                            ok_before[0] += 1
                        else:
                            ok_after_term[0] += 1
                except Exception as e:  # noqa: BLE001
                    with lock:
                        failed.append((time.monotonic(), "%s: %s" % (type(e).__name__, e)))
                finally:
                    c.close()

        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.7)
        px.signal(signal.SIGTERM)
        term_at[0] = time.monotonic()
        ready_503_at = None
        while time.monotonic() - term_at[0] < DRAIN_ACCEPT_WINDOW_S:
            if ready_503_at is None:
                st, _ = http_get(px.status_port, "/readyz", timeout=0.5)
                if st == 503:
                    ready_503_at = time.monotonic()
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(5)
        rel = lambda lst: ["%+.2fs %s" % (t - term_at[0], d) for t, d in lst[:5]]  # noqa: E731
        exited = px.proc.poll()
        self.assertGreater(ok_before[0], 0, "no request served before SIGTERM")
        self.assertEqual(len(refused), 0, "%d new connections refused during the %.1fs drain window "
                                      "(first: %s; proxy exit status now %r)"
                         % (len(refused), DRAIN_ACCEPT_WINDOW_S, rel(refused), exited))
        self.assertEqual(len(failed), 0, "%d requests failed during the drain window (first: %s)"
                         % (len(failed), rel(failed)))
        self.assertIsNotNone(ready_503_at, "/readyz never answered 503 during the drain window")
        self.assertLess(ready_503_at - term_at[0], 0.5, "/readyz failed only %.2fs after SIGTERM"
                        % (ready_503_at - term_at[0]))
        self.assertGreater(ok_after_term[0], 10, "too few requests served after SIGTERM")


class ReloadInspectionLimits(ProxyTestCase):
    """SIGHUP reloads the body inspection limits without a restart: an attack placed after the
    old limit but before the new one passes before the reload (on_limit: pass) and is blocked
    after it."""

    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()

    def post_attack(self, px):
        body = ("pad=" + "a" * 3000 + "&" + SQLI_FORM).encode()
        with RawConn(px.port, timeout=3) as c:
            r = c.request("POST", "/echo", body=body,
                          headers=[("Content-Type", "application/x-www-form-urlencoded"),
                                   ("Connection", "close")])
            return r.status

    def reload_inspect_body_bytes(self, px, limit, want):
        """Rewrites the config file with inspect_body_bytes = limit, sends SIGHUP and posts the
        attack until its status is want (or 5 s pass); returns the last status."""
        new = dict(px.config)
        new["policy"] = dict(new.get("policy", {}), inspect_body_bytes=limit,
                             inspect_body_max_bytes=limit)
        with open(px.config_path, "w") as f:
            json.dump(new, f)
        px.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        st = None
        while time.monotonic() < deadline:
            st = self.post_attack(px)
            if st == want:
                break
            time.sleep(0.2)
        return st

    def test_sighup_raises_inspect_body_bytes(self):
        cfg = {"mode": "block", "policy": {"inspect_body_bytes": 1024,
                                           "inspect_body_max_bytes": 1024, "on_limit": "pass"}}
        px = self.proxy(upstream_port=self.a.port, config=cfg)
        # the attack at the start of a body is seen (the engine works at all)
        with RawConn(px.port, timeout=3) as c:
            r = c.request("POST", "/echo", body=SQLI_FORM.encode(),
                          headers=[("Content-Type", "application/x-www-form-urlencoded")])
            self.assertEqual(r.status, 403, "the attack itself is not detected%s" % c.transcript())
        self.assertEqual(self.post_attack(px), 200, "the attack after 3000 bytes was blocked with "
                                                    "inspect_body_bytes=1024 (test premise)")
        pid = px.pid
        st = self.reload_inspect_body_bytes(px, 16384, want=403)
        self.assertEqual(st, 403, "inspect_body_bytes 1024 -> 16384 by SIGHUP not applied within 5 s\n%s"
                         % px.stderr_text()[-1500:])
        self.assertEqual(px.pid, pid)
        self.assertIsNone(px.proc.poll(), "the proxy restarted/exited on reload")

    def test_sighup_lowers_inspect_body_bytes(self):
        cfg = {"mode": "block", "policy": {"inspect_body_bytes": 16384,
                                           "inspect_body_max_bytes": 16384, "on_limit": "pass"}}
        px = self.proxy(upstream_port=self.a.port, config=cfg)
        self.assertEqual(self.post_attack(px), 403, "attack after 3000 bytes not blocked with "
                                                    "inspect_body_bytes=16384 (test premise)")
        st = self.reload_inspect_body_bytes(px, 1024, want=200)
        self.assertEqual(st, 200, "inspect_body_bytes 16384 -> 1024 by SIGHUP not applied within 5 s")


def _rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class MemoryPerConnection(ProxyTestCase):
    """Idle connections (fresh, or keep-alive after a request) cost <= 1 KB of resident memory
    each; memory comes back after a burst of trickling connections closes."""

    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()

    def warmed_proxy(self, warmups, **timeouts):
        """A one-thread proxy whose allocator and app connection pool are warm."""
        px = self.proxy(upstream_port=self.a.port, config={"threads": 1, "timeouts": timeouts})
        for _ in range(warmups):
            ok, detail = proxy_serves(px)
            self.assertTrue(ok, detail)
        time.sleep(0.3)
        return px

    @staticmethod
    def rss_while_open(px, n, open_one, settle):
        """Opens n connections with open_one() (each has close()), lets them settle, and returns the
        proxy's RSS in kB before and while they are all open; closes them either way."""
        before = _rss_kb(px.pid)
        conns = []
        try:
            for _ in range(n):
                conns.append(open_one())
            settle()
            return before, _rss_kb(px.pid)
        finally:
            for c in conns:
                c.close()

    def assert_per_connection(self, what, n, before, after, goal):
        per_conn = (after - before) * 1024.0 / n
        self.assertLessEqual(per_conn, goal,
                             "%.0f bytes of RSS per %s connection (%d connections, RSS %d -> %d kB); "
                             "goal <= %d" % (per_conn, what, n, before, after, goal))

    def test_idle_keepalive_connection_memory(self):
        n = 2000
        px = self.warmed_proxy(50, idle_ms=60000)

        def served_once():
            c = RawConn(px.port, timeout=3)
            c._keep_log = False
            c.send(build_request("GET", "/"))
            r = c.read_response(timeout=3)
            if r.status != 200:
                c.close()
                self.fail("connection not served before idling: %d" % r.status)
            return c

        before, after = self.rss_while_open(px, n, served_once, lambda: time.sleep(0.5))
        self.assert_per_connection("idle keep-alive", n, before, after, IDLE_CONN_BYTES_GOAL)

    def test_idle_fresh_connection_memory(self):
        # connections that have not sent a byte yet (the benchmark's idle-connection figure)
        n = 2000
        px = self.warmed_proxy(50, header_ms=60000, idle_ms=60000)

        def all_accepted():
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and px.metrics().get("bulwark_connections_active") < n:
                time.sleep(0.1)
            time.sleep(0.3)

        before, after = self.rss_while_open(
            px, n, lambda: socket.create_connection(("127.0.0.1", px.port), timeout=3), all_accepted)
        self.assert_per_connection("fresh idle", n, before, after, IDLE_CONN_BYTES_GOAL)

    def test_memory_returned_after_trickle_burst(self):
        n = 3000
        px = self.warmed_proxy(20, header_ms=20000, idle_ms=60000)

        def trickling():
            s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
            s.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Trickle: " + b"t" * 300)
            return s

        base, peak = self.rss_while_open(px, n, trickling, lambda: time.sleep(0.5))
        deadline = time.monotonic() + 4
        after = peak
        while time.monotonic() < deadline:
            time.sleep(0.3)
            after = _rss_kb(px.pid)
            if after - base <= max(1024, (peak - base) * 0.25):
                break
        ok, detail = proxy_serves(px)
        self.assertTrue(ok, detail)
        self.assertGreater(peak, base, "test premise: the burst did not raise RSS")
        self.assert_per_connection("trickling", n, base, peak, TRICKLE_CONN_BYTES_GOAL)
        self.assertLessEqual(after - base, max(1024, (peak - base) * 0.25),
                             "memory not returned after %d trickle connections closed: RSS %d -> %d -> "
                             "%d kB" % (n, base, peak, after))

if __name__ == "__main__":
    unittest.main()

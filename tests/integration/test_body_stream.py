"""Streaming inspection of request bodies past the buffered prefix, with a real app behind the
proxy: attacks after the first window are found (also across a window boundary) before their
bytes reach the app, large benign uploads pass with bounded memory, and the hard cap
(policy.inspect_body_max_bytes) applies on_limit (default block: 413 in block mode).
"""

import gzip
import hashlib
import json
import os
import random
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib import app as appmod  # noqa: E402
from testlib.base import ProxyTestCase  # noqa: E402
from testlib.httpc import build_request  # noqa: E402

from test_detection import events, wait_events  # noqa: E402

PREFIX = 128 * 1024  # policy.inspect_body_bytes default
OVERLAP = 4096
SQLI = b"1' UNION SELECT username, password FROM users--"
XSS = b"<script>alert(document.cookie)</script>"
RSS_LIMIT_KB = 60 * 1024


def benign_text(n, seed=1):
    """Realistic benign upload content: JSON-ish records, CSV lines and prose."""
    rnd = random.Random(seed)
    words = ("order customer invoice total shipping address city country product quantity price "
             "note delivered pending select from the list where you want it").split()
    out = bytearray()
    i = 0
    while len(out) < n:
        i += 1
        k = i % 3
        if k == 0:
            out += json.dumps({"id": i, "customer": "cust-%d" % rnd.randrange(10 ** 6),
                               "total": round(rnd.random() * 1000, 2),
                               "note": " ".join(rnd.choice(words) for _ in range(8))}).encode()
        elif k == 1:
            out += b"%d,%s,%d,%.2f" % (i, rnd.choice(words).encode(), rnd.randrange(100),
                                      rnd.random() * 100)
        else:
            out += " ".join(rnd.choice(words) for _ in range(12)).capitalize().encode() + b"."
        out += b"\n"
    return bytes(out[:n])


def with_payload(n, at, payload, seed=1, line=True):
    """n bytes of benign text with `payload` at offset `at` (on a line of its own: a value or
    a line of a text upload)."""
    body = bytearray(benign_text(n, seed))
    if line:
        payload = b"\n" + payload + b"\n"
    body[at:at + len(payload)] = payload
    return bytes(body)


class Recorder:
    """An app that records every byte it receives and answers 200 once a request head and its
    Content-Length body have arrived (so the proxy's forwarding is observable byte by byte)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.lock = threading.Lock()
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(s,), daemon=True).start()

    def serve(self, s):
        data = bytearray()
        with self.lock:
            self.received.append(data)
        try:
            s.settimeout(20)
            while True:
                b = s.recv(65536)
                if not b:
                    return
                data += b
                head, sep, rest = bytes(data).partition(b"\r\n\r\n")
                if sep:
                    cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                    if cl and len(rest) >= int(cl[0].split(b":")[1]):
                        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                        return
        except OSError:
            return
        finally:
            s.close()

    def all(self):
        with self.lock:
            return b"".join(bytes(d) for d in self.received)

    def close(self):
        self.sock.close()


def post(c, body, ctype="text/plain", headers=None, rid=None):
    hs = [("Content-Type", ctype)] + list(headers or [])
    if rid:
        hs.append(("X-Request-Id", rid))
    return c.request("POST", "/echo", headers=hs, body=body, timeout=30)


class BlockModeStreaming(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.app_ = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.app_.port, config={"mode": "block"})

    def windows(self):
        return self.px.metrics().get("bulwark_body_windows_inspected_total")

    def test_attacks_after_the_first_window_are_blocked(self):
        # window 1 holds fresh bytes [PREFIX, PREFIX + PREFIX - OVERLAP)
        w1_end = PREFIX + PREFIX - OVERLAP
        cases = [
            ("after-prefix", "text/plain", PREFIX + 1000, SQLI, 400000),
            # only "\n1' UN" before the boundary: the prefix alone does not show the attack
            ("across-prefix-end", "text/plain", PREFIX - 6, SQLI, 400000),
            ("across-window-end", "text/plain", w1_end - 20, SQLI, 400000),
            ("deep-form", "application/x-www-form-urlencoded", 3 * 1024 * 1024 + 17,
             b"&q=" + SQLI.replace(b" ", b"+") + b"&", 4 * 1024 * 1024),
            ("deep-json", "application/json", 900000, b'","bio":"' + XSS + b'","x":"', 1000000),
        ]
        for name, ctype, at, payload, size in cases:
            with self.subTest(name):
                w0 = self.windows()
                c = self.conn(self.px.port, timeout=30)
                body = with_payload(size, at, payload)
                r = post(c, body, ctype, rid="stream-" + name)
                self.assertEqual(r.status, 403, c.transcript()[:500])
                self.assertGreater(self.windows(), w0)
                ev = [e for e in wait_events(self.px, 1) if e["request_id"] == "stream-" + name]
                self.assertEqual(len(ev), 1, events(self.px)[-3:])
                self.assertEqual(ev[0]["action"], "blocked")
                part = ev[0]["findings"][0]["part"]
                self.assertTrue(part.startswith("body@"), part)
                self.assertGreaterEqual(int(part[5:].split(":")[0]), PREFIX, part)

    def test_chunked_attack_after_a_megabyte(self):
        c = self.conn(self.px.port, timeout=30)
        c.send(build_request("POST", "/echo", [("Transfer-Encoding", "chunked"),
                                               ("Content-Type", "text/plain")]))
        body = with_payload(3 * 1024 * 1024, 1024 * 1024 + 333, SQLI)
        for i in range(0, len(body), 50000):
            piece = body[i:i + 50000]
            c.sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        c.sock.sendall(b"0\r\n\r\n")
        r = c.read_response("POST", timeout=30)
        self.assertEqual(r.status, 403)
        self.assertTrue(c.wait_closed(3), "the connection must close after a mid-body block")

    def test_large_benign_upload_passes_whole(self):
        body = benign_text(24 * 1024 * 1024, seed=7) + os.urandom(2 * 1024 * 1024)
        w0 = self.windows()
        n_events = len(events(self.px))
        c = self.conn(self.px.port, timeout=60)
        r = post(c, body, "application/octet-stream")
        self.assertEqual(r.status, 200, c.transcript()[:500])
        j = r.json()
        self.assertEqual((j["body_length"], j["body_sha256"]),
                         (len(body), hashlib.sha256(body).hexdigest()))
        self.assertGreaterEqual(self.windows() - w0, (len(body) - PREFIX) // PREFIX)
        self.assertEqual(len(events(self.px)), n_events, events(self.px)[-2:])
        self.assertLess(self.px.vm()["VmHWM"], RSS_LIMIT_KB, "a streamed body was buffered")


class AttackBytesNeverReachTheApp(ProxyTestCase):
    def test_window_with_the_attack_is_not_forwarded(self):
        rec = Recorder()
        self.addCleanup(rec.close)
        px = self.proxy(upstream_port=rec.port, config={"mode": "block"})
        at = 5 * PREFIX + 77
        body = with_payload(8 * PREFIX, at, SQLI)
        c = self.conn(px.port, timeout=30)
        r = post(c, body)
        self.assertEqual(r.status, 403, c.transcript()[:300])
        time.sleep(0.3)
        got = rec.all()
        self.assertIn(b"POST /echo", got, "the head and the clean windows are streamed")
        self.assertNotIn(SQLI, got)
        self.assertLess(len(got), at, "bytes at or after the attack reached the app")


class MonitoringStreaming(ProxyTestCase):
    def test_late_attack_is_logged_once_and_forwarded(self):
        app = self.app()
        px = self.proxy(upstream_port=app.port, config={"mode": "monitoring"})
        body = bytearray(with_payload(2 * 1024 * 1024, 600000, SQLI))
        body[1500000:1500000 + len(XSS) + 2] = b"\n" + XSS + b"\n"  # a second one: one event
        body = bytes(body)
        c = self.conn(px.port, timeout=30)
        r = post(c, body, rid="mon-late")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["body_sha256"], hashlib.sha256(body).hexdigest())
        ev = [e for e in wait_events(px, 1) if e["request_id"] == "mon-late"]
        self.assertEqual(len(ev), 1, events(px))
        self.assertEqual(ev[0]["action"], "logged")


class InspectionCap(ProxyTestCase):
    CAP = 1024 * 1024

    @classmethod
    def setUpClass(cls):
        cls.app_ = cls.class_app()

    def start(self, mode="block", on_limit=None):
        pol = {"inspect_body_max_bytes": self.CAP}
        if on_limit:
            pol["on_limit"] = on_limit
        return self.proxy(upstream_port=self.app_.port, config={"mode": mode, "policy": pol})

    def test_content_length_over_the_cap_is_413_before_the_app(self):
        px = self.start()
        before = self.app_.stats()["requests"]
        c = self.conn(px.port, timeout=30)
        body = benign_text(self.CAP + 1)
        c.send(build_request("POST", "/echo", [("Content-Type", "text/plain"),
                                               ("Content-Length", str(len(body))),
                                               ("X-Request-Id", "cap-cl")], body[:PREFIX]))
        # the answer comes after the prefix, without the rest of the body
        r = c.read_response("POST", timeout=10)
        self.assertEqual(r.status, 413)
        self.assertEqual(r.json()["request_id"], "cap-cl")
        self.assertEqual(self.app_.stats()["requests"], before, "the app was contacted")
        m = px.metrics()
        self.assertEqual(m.get("bulwark_body_limit_total"), 1)
        self.assertEqual(m.get("bulwark_body_limit_blocked_total"), 1)
        ev = [e for e in wait_events(px, 1) if e["request_id"] == "cap-cl"]
        self.assertEqual(len(ev), 1)
        self.assertEqual((ev[0]["classes"], ev[0]["limit"], ev[0]["action"]),
                         (["inspection-limit"], "inspect_body_max_bytes", "blocked"))

    def test_body_at_the_cap_passes(self):
        px = self.start()
        body = benign_text(self.CAP)
        c = self.conn(px.port, timeout=30)
        r = post(c, body)
        self.assertEqual(r.status, 200, c.transcript()[:300])
        self.assertEqual(r.json()["body_length"], self.CAP)

    def test_chunked_body_crossing_the_cap_is_413(self):
        px = self.start()
        c = self.conn(px.port, timeout=30)
        c.send(build_request("POST", "/echo", [("Transfer-Encoding", "chunked"),
                                               ("Content-Type", "text/plain")]))
        body = benign_text(3 * self.CAP)
        try:
            for i in range(0, len(body), 65536):
                piece = body[i:i + 65536]
                c.sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            c.sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response("POST", timeout=10)
        self.assertEqual(r.status, 413)
        self.assertEqual(px.metrics().get("bulwark_body_limit_blocked_total"), 1)

    def test_on_limit_pass_forwards_and_counts(self):
        px = self.start(on_limit="pass")
        body = benign_text(2 * self.CAP)
        c = self.conn(px.port, timeout=30)
        r = post(c, body)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["body_sha256"], hashlib.sha256(body).hexdigest())
        self.assertEqual(px.metrics().get("bulwark_body_limit_total"), 1)
        self.assertEqual(events(px), [])

    def test_monitoring_logs_the_limit(self):
        px = self.start(mode="monitoring")
        body = benign_text(2 * self.CAP)
        c = self.conn(px.port, timeout=30)
        r = post(c, body, rid="cap-mon")
        self.assertEqual(r.status, 200)
        ev = [e for e in wait_events(px, 1) if e["request_id"] == "cap-mon"]
        self.assertEqual(len(ev), 1)
        self.assertEqual((ev[0]["action"], ev[0]["limit"]), ("logged", "inspect_body_max_bytes"))

    def test_compressed_body_longer_than_the_prefix(self):
        px = self.start()
        raw = with_payload(4 * 1024 * 1024, 3 * 1024 * 1024, SQLI)
        body = gzip.compress(raw, 1) + os.urandom(PREFIX)  # longer than the prefix
        c = self.conn(px.port, timeout=30)
        r = post(c, body, headers=[("Content-Encoding", "gzip")], rid="cap-gz")
        self.assertEqual(r.status, 413)
        ev = [e for e in wait_events(px, 1) if e["request_id"] == "cap-gz"]
        self.assertEqual(ev[0]["limit"], "content_encoding")


def markup_json(n):
    """A JSON array of n bytes whose strings carry quotes, tags and separators: every value
    reaches the grammars, so inspecting it takes CPU time in proportion to its size."""
    out = ["["]
    size, i = 1, 0
    while size < n:
        item = json.dumps("it's <b>item %d</b> (a; b | c) = 'd' or e -- f" % i) + ","
        out.append(item)
        size += len(item)
        i += 1
    out.append('"end"]')
    return "".join(out).encode()


class InspectionTimeBudget(ProxyTestCase):
    """policy.inspect_time_budget_ms: an inspection that runs out of CPU time applies on_limit
    (block: the request is refused, with an event naming the limit) instead of holding a worker
    for as long as the request makes it take."""

    @classmethod
    def setUpClass(cls):
        cls.app_ = cls.class_app()

    def start(self, budget, on_limit=None, mode="block"):
        pol = {"inspect_time_budget_ms": budget, "inspect_body_bytes": 8 * 1024 * 1024,
               "max_args": 1000000}
        if on_limit:
            pol["on_limit"] = on_limit
        return self.proxy(upstream_port=self.app_.port, config={"mode": mode, "policy": pol})

    def test_out_of_budget_is_refused_before_the_app(self):
        px = self.start(1)
        before = self.app_.stats()["requests"]
        body = markup_json(4 * 1024 * 1024)  # tens of milliseconds of inspection
        c = self.conn(px.port, timeout=60)
        r = post(c, body, ctype="application/json", rid="budget-1")
        self.assertEqual(r.status, 403, c.transcript()[:300])
        self.assertEqual(self.app_.stats()["requests"], before, "the app was contacted")
        self.assertGreaterEqual(px.metrics().get("bulwark_inspect_budget_total"), 1)
        ev = [e for e in wait_events(px, 1) if e["request_id"] == "budget-1"]
        self.assertEqual(len(ev), 1)
        self.assertEqual((ev[0]["limit"], ev[0]["action"]), ("inspect_time_budget_ms", "blocked"))

    def test_on_limit_pass_forwards_and_counts(self):
        px = self.start(1, on_limit="pass")
        body = markup_json(4 * 1024 * 1024)
        c = self.conn(px.port, timeout=60)
        r = post(c, body, ctype="application/json")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["body_sha256"], hashlib.sha256(body).hexdigest())
        self.assertGreaterEqual(px.metrics().get("bulwark_inspect_budget_total"), 1)
        self.assertEqual(events(px), [])

    def test_default_budget_inspects_ordinary_bodies_whole(self):
        px = self.start(100)
        body = markup_json(256 * 1024)
        c = self.conn(px.port, timeout=60)
        r = post(c, body, ctype="application/json")
        self.assertEqual(r.status, 200)
        self.assertEqual(px.metrics().get("bulwark_inspect_budget_total"), 0)
        # and an attack at the end of such a body is found
        attack = body[:-1] + b',"1\' union select password from users--"]'
        r = post(c, attack, ctype="application/json")
        self.assertEqual(r.status, 403)


class GigabyteUpload(ProxyTestCase):
    SIZE = 1024 * 1024 * 1024

    def test_one_gigabyte_streams_with_bounded_memory(self):
        # past the cap the rest streams uninspected (on_limit: pass); memory stays bounded
        app = self.app()
        px = self.proxy(upstream_port=app.port,
                        config={"mode": "block", "timeouts": {"body_ms": 30000},
                                "policy": {"inspect_body_max_bytes": 8 * 1024 * 1024,
                                           "on_limit": "pass"}})
        c = self.conn(px.port, timeout=120)
        c._keep_log = False
        c.send(build_request("POST", "/echo", [("Content-Length", str(self.SIZE)),
                                               ("Content-Type", "application/octet-stream")]))
        h = hashlib.sha256()
        for p in appmod.pattern_iter(0, self.SIZE, piece=1024 * 1024):
            c.sock.sendall(p)
            h.update(p)
        r = c.read_response("POST", timeout=120)
        j = r.json()
        self.assertEqual((r.status, j["body_length"], j["body_sha256"]),
                         (200, self.SIZE, h.hexdigest()))
        self.assertLess(px.vm()["VmHWM"], RSS_LIMIT_KB)
        self.assertGreaterEqual(px.metrics().get("bulwark_body_windows_inspected_total"), 60)


if __name__ == "__main__":
    unittest.main()

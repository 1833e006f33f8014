"""100 MB bodies streamed through the proxy in both directions, with the proxy's memory bounded.

RSS_LIMIT_KB: the proxy's peak resident set (VmHWM) must stay below this while moving 100 MB,
including when one side is slow (which would make a buffering proxy hold the whole body).
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib import app as appmod  # noqa: E402
from testlib.base import ProxyTestCase  # noqa: E402
from testlib.httpc import build_request  # noqa: E402

SIZE = 100 * 1024 * 1024
RSS_LIMIT_KB = 60 * 1024


class LargeBodyTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="bulwark-it-large-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.file = os.path.join(cls.tmp.name, "100mb.bin")
        h = hashlib.sha256()
        with open(cls.file, "wb") as f:
            for p in appmod.pattern_iter(0, SIZE):
                f.write(p)
                h.update(p)
        cls.sha = h.hexdigest()
        cls.a = cls.class_app()

    def setUp(self):
        # a fresh proxy per test so VmHWM reflects this test only
        self.px = self.proxy(upstream_port=self.a.port, config={"timeouts": {"body_ms": 20000}})
        self.hwm0 = self.px.vm()["VmHWM"]

    def assertMemoryBounded(self, when):
        st = self.px.vm()
        self.assertLess(st["VmHWM"], RSS_LIMIT_KB,
                        "proxy peak RSS %d kB (start %d kB) %s: bodies are buffered, not streamed"
                        % (st["VmHWM"], self.hwm0, when))

    def test_upload_100mb_curl_content_length(self):
        m0 = self.px.metrics().get("bulwark_request_bytes_total")
        p = subprocess.run(["curl", "-sS", "--max-time", "60", "-H", "Expect:", "--data-binary",
                            "@" + self.file, "http://127.0.0.1:%d/echo" % self.px.port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=70)
        self.assertEqual(p.returncode, 0, p.stderr)
        j = json.loads(p.stdout)
        self.assertEqual(j["body_length"], SIZE)
        self.assertEqual(j["body_sha256"], self.sha)
        self.assertMemoryBounded("after a 100 MB Content-Length upload")
        m1 = self.px.metrics().get("bulwark_request_bytes_total")
        self.assertGreaterEqual(m1 - m0, SIZE, "bulwark_request_bytes_total did not count the upload")

    def test_upload_100mb_chunked_raw_socket(self):
        c = self.conn(self.px.port, timeout=60)
        c._keep_log = False
        c.send(build_request("POST", "/echo", [("Transfer-Encoding", "chunked")]))
        for p in appmod.pattern_iter(0, SIZE, piece=64 * 1024 + 3):
            c.sock.sendall(b"%x\r\n" % len(p) + p + b"\r\n")
        c.sock.sendall(b"0\r\n\r\n")
        r = c.read_response(timeout=60)
        j = r.json()
        self.assertEqual((r.status, j["body_length"], j["body_sha256"]), (200, SIZE, self.sha))
        self.assertMemoryBounded("after a 100 MB chunked upload")

    def test_upload_100mb_to_slow_reading_app(self):
        # the app waits 1.5 s before reading: a buffering proxy would swallow the whole body
        c = self.conn(self.px.port, timeout=60)
        c._keep_log = False
        errors = []

        def send():
            try:
                c.sock.sendall(build_request("POST", "/echo?read_delay_ms=1500",
                                             [("Content-Length", str(SIZE))]))
                for p in appmod.pattern_iter(0, SIZE):
                    c.sock.sendall(p)
            except OSError as e:
                errors.append(e)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        time.sleep(1.2)
        self.assertMemoryBounded("while the app was not reading")
        r = c.read_response(timeout=60)
        t.join(30)
        self.assertEqual(errors, [])
        j = r.json()
        self.assertEqual((j["body_length"], j["body_sha256"]), (SIZE, self.sha))
        self.assertMemoryBounded("after the slow-app upload")

    def test_download_100mb_curl(self):
        m0 = self.px.metrics().get("bulwark_response_bytes_total")
        out = os.path.join(self.tmp.name, "down.bin")
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        p = subprocess.run(["curl", "-sS", "--max-time", "60", "-o", out,
                            "http://127.0.0.1:%d/big?bytes=%d" % (self.px.port, SIZE)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=70)
        self.assertEqual(p.returncode, 0, p.stderr)
        h = hashlib.sha256()
        with open(out, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
        self.assertEqual(os.path.getsize(out), SIZE)
        self.assertEqual(h.hexdigest(), self.sha)
        self.assertMemoryBounded("after a 100 MB download")
        m1 = self.px.metrics().get("bulwark_response_bytes_total")
        self.assertGreaterEqual(m1 - m0, SIZE, "bulwark_response_bytes_total did not count the download")

    def test_download_100mb_slow_client(self):
        # the client stalls after 1 MB: the proxy must apply backpressure, not buffer the app
        c = self.conn(self.px.port, timeout=60)
        c._keep_log = False
        c.send(build_request("GET", "/big?bytes=%d" % SIZE))
        h = hashlib.sha256()
        got = [0]

        def sink(b):
            h.update(b)
            got[0] += len(b)
            if got[0] >= 1024 * 1024 and not hasattr(sink, "paused"):
                sink.paused = True
                time.sleep(1.5)
                self.assertMemoryBounded("while the client was not reading")

        r = c.read_response(timeout=60, body_sink=sink)
        self.assertEqual((r.status, got[0], h.hexdigest()), (200, SIZE, self.sha))
        self.assertMemoryBounded("after the slow-client download")

    def test_download_chunked_100mb(self):
        c = self.conn(self.px.port, timeout=60)
        c._keep_log = False
        n, size = 1600, 65536
        c.send(build_request("GET", "/chunked?n=%d&size=%d" % (n, size)))
        h = hashlib.sha256()
        r = c.read_response(timeout=60, body_sink=h.update)
        self.assertEqual(r.status, 200)
        self.assertEqual(h.hexdigest(), appmod.pattern_sha256(n * size))
        self.assertMemoryBounded("after a 100 MB chunked download")


if __name__ == "__main__":
    unittest.main()

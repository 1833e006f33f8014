"""Per-source connection cap and the overload metrics (docs/proxy.md, "Overload and memory")."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402
from testlib.httpc import RawConn, build_request  # noqa: E402


class PerSourceCap(ProxyTestCase):
    CAP = 4

    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()

    def test_per_source_cap_refuses_and_counts(self):
        px = self.proxy(upstream_port=self.a.port,
                        config={"limits": {"max_connections_per_source": self.CAP},
                                "timeouts": {"idle_ms": 30000, "header_ms": 10000}})
        held = []
        for i in range(self.CAP):
            c = self.conn(px.port, timeout=3)
            self.assertEqual(c.request("GET", "/echo?held=%d" % i).status, 200, c.transcript())
            held.append(c)
        served = 0
        for i in range(3):
            try:
                c = RawConn(px.port, timeout=2)
            except OSError:
                continue
            self.addCleanup(c.close)
            try:
                c.send(build_request("GET", "/echo?excess=%d" % i))
                got, _ = c.read_until_close(2)
            except OSError:
                got = bytes(c.buf)
            if got.startswith(b"HTTP/1.1 200"):
                served += 1
        self.assertEqual(served, 0, "connections past max_connections_per_source were served")
        m = px.metrics()
        self.assertGreaterEqual(
            m.get("bulwark_connections_rejected_total", {"reason": "max_connections_per_source"}), 3)
        self.assertEqual(m.get("bulwark_connections_rejected_total", {"reason": "max_connections"}), 0)
        for c in held:
            self.assertEqual(c.request("GET", "/echo?again").status, 200, c.transcript())
            c.close()
        # places are given back when connections close
        deadline = time.monotonic() + 10  # a loaded machine may take a while to notice the closes
        status = None
        while time.monotonic() < deadline:
            try:
                with RawConn(px.port, timeout=2) as c:
                    status = c.request("GET", "/echo?after",
                                       headers=[("Connection", "close")]).status
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        self.assertEqual(status, 200, "no connection served after the held ones closed (active %r, rejected per source %r)"
                         % (px.metrics().get("bulwark_connections_active"),
                            px.metrics().get("bulwark_connections_rejected_total",
                                             {"reason": "max_connections_per_source"})))

    def test_default_cap_reported(self):
        px = self.proxy(upstream_port=self.a.port)
        self.assertGreaterEqual(px.metrics().get("bulwark_connections_max"), 64)


if __name__ == "__main__":
    unittest.main()

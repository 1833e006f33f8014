"""Status server: /healthz, /readyz, /metrics (Prometheus text format, counters move)."""

import math
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402
from testlib.httpc import RawConn, build_request  # noqa: E402
from testlib.proxyctl import App, free_port, http_get  # noqa: E402

# family -> Prometheus type, as documented in docs/proxy.md
FAMILIES = {
    "bulwark_requests_total": "counter",
    "bulwark_request_bytes_total": "counter",
    "bulwark_response_bytes_total": "counter",
    "bulwark_connections_active": "gauge",
    "bulwark_connections_total": "counter",
    "bulwark_upstream_errors_total": "counter",
    "bulwark_upstream_reused_total": "counter",
    "bulwark_request_duration_seconds": "histogram",
    "bulwark_uninspected_connections_total": "counter",
    "bulwark_bad_requests_total": "counter",
    "bulwark_timeouts_total": "counter",
    "bulwark_draining": "gauge",
}


class StatusServerTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.a.port)

    def test_healthz(self):
        st, body = self.px.status_get("/healthz")
        self.assertEqual(st, 200)
        self.assertEqual(body.strip(), b"ok")

    def test_readyz(self):
        st, body = self.px.status_get("/readyz")
        self.assertEqual(st, 200)
        self.assertEqual(body.strip(), b"ready")

    def test_unknown_status_path_404(self):
        st, _ = self.px.status_get("/nope")
        self.assertEqual(st, 404)

    def test_metrics_format_and_families(self):
        # some traffic first
        c = RawConn(self.px.port)
        self.addCleanup(c.close)
        c.send(build_request("GET", "/"))
        c.read_response()
        st, body = self.px.status_get("/metrics")
        self.assertEqual(st, 200)
        m = self.px.metrics()  # raises MetricsFormatError on any unparsable line
        for fam, typ in FAMILIES.items():
            with self.subTest(family=fam):
                self.assertEqual(m.types.get(fam), typ, "missing or wrong '# TYPE %s %s'" % (fam, typ))
                self.assertIn(fam, m.helps, "missing '# HELP %s'" % fam)
        # every sample belongs to a declared family
        for name, labels, v in m.samples:
            base = name
            for suf in ("_bucket", "_sum", "_count"):
                if name.endswith(suf) and name[:-len(suf)] in m.types:
                    base = name[:-len(suf)]
            self.assertIn(base, m.types, "sample %s without # TYPE" % name)
            self.assertFalse(math.isnan(v), name)
        self.assertEqual(m.get("bulwark_draining"), 0)

    def test_label_values_documented(self):
        m = self.px.metrics()
        allowed = {
            "bulwark_requests_total": ("class", {"1xx", "2xx", "3xx", "4xx", "5xx"}),
            "bulwark_upstream_errors_total": ("kind", {"connect", "timeout", "closed", "bad_response"}),
            "bulwark_uninspected_connections_total": ("reason", {"http2", "tls", "unknown"}),
            "bulwark_timeouts_total": ("kind", {"header", "idle", "body", "send", "upstream", "tunnel"}),
        }
        for fam, (label, values) in allowed.items():
            for labels, _ in m.series(fam):
                self.assertIn(labels.get(label), values, "%s has label set %r" % (fam, labels))

    def test_histogram_consistent(self):
        for _ in range(5):
            c = RawConn(self.px.port)
            c.send(build_request("GET", "/", [("Connection", "close")]))
            c.read_response()
            c.close()
        m = self.px.metrics()
        buckets = m.series("bulwark_request_duration_seconds_bucket")
        self.assertTrue(buckets, "no histogram buckets")
        les = [(float(ls["le"]) if ls["le"] != "+Inf" else math.inf, v) for ls, v in buckets]
        les.sort()
        self.assertEqual(les[-1][0], math.inf, "no +Inf bucket")
        for (l1, v1), (l2, v2) in zip(les, les[1:]):
            self.assertLessEqual(v1, v2, "histogram buckets not cumulative")
        count = m.get("bulwark_request_duration_seconds_count")
        self.assertEqual(les[-1][1], count, "+Inf bucket != _count")
        self.assertGreaterEqual(count, 5)
        self.assertGreater(m.get("bulwark_request_duration_seconds_sum"), 0)

    def test_counters_go_up(self):
        m0 = self.px.metrics()
        n = 7
        c = RawConn(self.px.port)
        self.addCleanup(c.close)
        sent = received_body = 0
        for i in range(n):
            req = build_request("POST", "/echo", body=b"x" * 100)
            sent += len(req)
            c.send(req)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            received_body += len(r.body)
        for code in (404, 503, 302):
            req = build_request("GET", "/status?code=%d" % code)
            sent += len(req)
            c.send(req)
            self.assertEqual(c.read_response().status, code)
        ok = self.px.wait_metric("bulwark_requests_total", {"class": "2xx"},
                                 lambda v: v >= m0.get("bulwark_requests_total", {"class": "2xx"}) + n)
        m1 = self.px.wait_metric("bulwark_requests_total", {"class": "3xx"},
                                 lambda v: v >= m0.get("bulwark_requests_total", {"class": "3xx"}) + 1)
        m1 = self.px.metrics()
        d = lambda name, labels=None: m1.get(name, labels) - m0.get(name, labels)  # noqa: E731
        self.assertEqual(ok - m0.get("bulwark_requests_total", {"class": "2xx"}), n)
        self.assertEqual(d("bulwark_requests_total", {"class": "2xx"}), n)
        self.assertEqual(d("bulwark_requests_total", {"class": "3xx"}), 1)
        self.assertEqual(d("bulwark_requests_total", {"class": "4xx"}), 1)
        self.assertEqual(d("bulwark_requests_total", {"class": "5xx"}), 1)
        self.assertEqual(d("bulwark_connections_total"), 1)
        self.assertGreaterEqual(d("bulwark_request_bytes_total"), n * 100, "request bytes")
        self.assertLessEqual(d("bulwark_request_bytes_total"), sent + 200, "request bytes over-counted")
        self.assertGreaterEqual(d("bulwark_response_bytes_total"), received_body, "response bytes")
        self.assertGreaterEqual(d("bulwark_request_duration_seconds_count"), n + 3)

    def test_connections_active_gauge(self):
        base = self.px.metrics().get("bulwark_connections_active")
        conns = []
        for _ in range(3):
            c = RawConn(self.px.port)
            self.addCleanup(c.close)
            c.send(build_request("GET", "/"))
            c.read_response()
            conns.append(c)
        v = self.px.wait_metric("bulwark_connections_active", None, lambda v: v == base + 3)
        self.assertEqual(v, base + 3)
        for c in conns:
            c.close()
        v = self.px.wait_metric("bulwark_connections_active", None, lambda v: v == base)
        self.assertEqual(v, base, "connections_active did not go back down after clients closed")


class ReadinessTests(ProxyTestCase):
    def test_readyz_follows_app(self):
        port = free_port()
        px = self.proxy(upstream_port=port, wait="healthz")
        st, body = px.status_get("/readyz")
        self.assertEqual(st, 503, "readyz with the app down: %r %r" % (st, body))
        self.assertTrue(body.strip(), "503 from /readyz should give a reason")
        st, _ = px.status_get("/healthz")
        self.assertEqual(st, 200, "healthz must stay 200 while the app is down")
        app = App(port=port).start()
        self.addCleanup(app.stop)
        ok = self.wait_until(lambda: px.status_get("/readyz")[0] == 200, timeout=3)
        self.assertTrue(ok, "readyz not 200 after the app came up")
        app.stop()
        down = self.wait_until(lambda: px.status_get("/readyz")[0] == 503, timeout=3)
        self.assertTrue(down, "readyz not 503 after the app went down")

    def test_status_listen_only_on_configured_address(self):
        a = self.app()
        px = self.proxy(upstream_port=a.port)
        # the status server is not served on the proxy port
        c = RawConn(px.port)
        self.addCleanup(c.close)
        c.send(build_request("GET", "/metrics"))
        r = c.read_response()
        self.assertEqual(r.status, 404, "proxy port answered /metrics itself (should go to the app)")
        st, _ = http_get(px.status_port, "/healthz")
        self.assertEqual(st, 200)


if __name__ == "__main__":
    unittest.main()

"""Detection through the running proxy: modes, lists, 403 answers, events and reloads.

The detection engine itself is tested in tests/unit/detect; here the point is what the proxy does
with its verdicts, with a real app behind it (the app's /stats proves what reached it).
"""

import json
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402
from testlib.proxyctl import run_proxy_once  # noqa: E402

ATTACK_PATH = "/etc/passwd"
SQLI = "/search?q=" + urllib.parse.quote("1' UNION SELECT username, password FROM users--")


def events(px):
    """The attack events the proxy wrote on stdout so far (one JSON object per line)."""
    out = []
    try:
        with open(px.stdout_path, "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines():
                if line.strip():
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def wait_events(px, n, timeout=3.0):
    deadline = time.monotonic() + timeout
    ev = events(px)
    while len(ev) < n and time.monotonic() < deadline:
        time.sleep(0.05)
        ev = events(px)
    return ev


class BlockModeTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.app_ = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.app_.port, config={"mode": "block"})

    def test_sensitive_file_blocked_before_the_app(self):
        before = self.app_.stats()["requests"]
        c = self.conn(self.px.port)
        r = c.request("GET", ATTACK_PATH, headers=[("X-Request-Id", "smoke-1")])
        self.assertEqual(r.status, 403, c.transcript())
        self.assertEqual(r.header("X-Request-Id"), "smoke-1")
        body = r.json()
        self.assertEqual(body["status"], 403)
        self.assertEqual(body["request_id"], "smoke-1")
        self.assertEqual(self.app_.stats()["requests"], before, "the app must not see the attack")
        ev = [e for e in wait_events(self.px, 1) if e["request_id"] == "smoke-1"]
        self.assertEqual(len(ev), 1, events(self.px))
        e = ev[0]
        self.assertEqual(e["type"], "attack")
        self.assertEqual(e["action"], "blocked")
        self.assertEqual(e["mode"], "block")
        self.assertEqual(e["method"], "GET")
        self.assertEqual(e["path"], ATTACK_PATH)
        self.assertEqual(e["client"], "127.0.0.1")
        self.assertIn("path-traversal", e["classes"])
        self.assertTrue(e["rule_ids"])
        self.assertTrue(e["findings"][0]["part"])
        # every finding of the engine names what its rule detects (the rule registry)
        for f in e["findings"]:
            self.assertTrue(f.get("description"), e)

    def test_keep_alive_survives_a_block(self):
        c = self.conn(self.px.port)
        r = c.request("GET", SQLI)
        self.assertEqual(r.status, 403, c.transcript())
        r = c.request("GET", "/echo?q=hello")
        self.assertEqual(r.status, 200, c.transcript())

    def test_browser_gets_html_page(self):
        c = self.conn(self.px.port)
        r = c.request("GET", "/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                      headers=[("Accept", "text/html,application/xhtml+xml")])
        self.assertEqual(r.status, 403, c.transcript())
        self.assertIn("text/html", r.header("Content-Type"))
        self.assertIn(r.header("X-Request-Id").encode(), r.body)

    def test_attack_in_body_never_reaches_the_app(self):
        before = self.app_.stats()["requests"]
        c = self.conn(self.px.port)
        body = json.dumps({"user": {"name": "x", "bio": "<img src=x onerror=alert(document.cookie)>"}})
        r = c.request("POST", "/echo", headers=[("Content-Type", "application/json")],
                      body=body.encode())
        self.assertEqual(r.status, 403, c.transcript())
        self.assertEqual(self.app_.stats()["requests"], before)

    def test_benign_traffic_passes_untouched(self):
        c = self.conn(self.px.port)
        for path in ("/echo?q=select+the+best+option+from+the+list",
                     "/echo?name=O%27Brien&city=D%27Angelo",
                     "/echo?redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback"):
            r = c.request("GET", path)
            self.assertEqual(r.status, 200, c.transcript())
        r = c.request("POST", "/echo", headers=[("Content-Type", "application/json")],
                      body=b'{"comment": "I love this product, 5 stars!", "rating": 5}')
        self.assertEqual(r.status, 200, c.transcript())
        self.assertEqual(r.json()["body_length"], len(b'{"comment": "I love this product, 5 stars!", "rating": 5}'))

    def test_smuggling_attempt_is_a_protocol_attack(self):
        c = self.conn(self.px.port)
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        r = self.read_response(c)
        self.assertEqual(r.status, 403, c.transcript())
        self.assertTrue(any("protocol" in e["classes"] for e in wait_events(self.px, 1)))

    def test_metrics_count_attacks_by_class_and_action(self):
        m0 = self.px.metrics().get("bulwark_attacks_total",
                                   {"class": "path-traversal", "action": "blocked"})
        c = self.conn(self.px.port)
        self.assertEqual(c.request("GET", "/static/../../../../etc/shadow").status, 403)
        m1 = self.px.metrics().get("bulwark_attacks_total",
                                   {"class": "path-traversal", "action": "blocked"})
        self.assertEqual(m1, m0 + 1)


class MonitoringModeTests(ProxyTestCase):
    def test_attack_logged_and_forwarded(self):
        app = self.app()
        px = self.proxy(upstream_port=app.port)  # default mode: monitoring
        before = app.stats()["requests"]
        c = self.conn(px.port)
        r = c.request("GET", SQLI, headers=[("X-Request-Id", "mon-1")])
        self.assertNotEqual(r.status, 403, c.transcript())
        self.assertEqual(app.stats()["requests"], before + 1)
        ev = [e for e in wait_events(px, 1) if e["request_id"] == "mon-1"]
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["action"], "logged")
        self.assertIn("sqli", ev[0]["classes"])

    def test_off_mode_inspects_nothing(self):
        app = self.app()
        px = self.proxy(upstream_port=app.port, config={"mode": "off"})
        c = self.conn(px.port)
        self.assertNotEqual(c.request("GET", SQLI).status, 403)
        time.sleep(0.2)
        self.assertEqual(events(px), [])
        self.assertEqual(px.metrics().get("bulwark_inspected_total"), 0)


class ParanoiaLevelTests(ProxyTestCase):
    """Probe findings (a half-written SQL expression) count from paranoia level 2: the pod's level
    comes from BULWARK_PARANOIA_LEVEL (the annotation) and a policy override raises it per path."""

    PROBE = "/search?id=count("

    def status(self, px, target):
        return self.conn(px.port).request("GET", target).status

    def test_level_from_environment(self):
        app = self.app()
        pl1 = self.proxy(upstream_port=app.port, config={"mode": "block"})
        self.assertNotEqual(self.status(pl1, self.PROBE), 403)
        self.assertEqual(self.status(pl1, SQLI), 403)
        pl2 = self.proxy(upstream_port=app.port, config={"mode": "block"},
                         env={"BULWARK_PARANOIA_LEVEL": "2"})
        self.assertEqual(self.status(pl2, self.PROBE), 403)
        ev = [e for e in wait_events(pl2, 1) if e.get("paranoia_level") == 2]
        self.assertTrue(ev, events(pl2))

    def test_override_per_path(self):
        app = self.app()
        px = self.proxy(upstream_port=app.port, config={
            "mode": "block",
            "policy": {"overrides": [{"path_prefix": "/admin", "paranoia_level": 2}]}})
        self.assertNotEqual(self.status(px, self.PROBE), 403)
        self.assertEqual(self.status(px, "/admin" + self.PROBE), 403)

    def test_invalid_level_is_a_usage_error(self):
        rc, _, err = run_proxy_once([], env={"BULWARK_PARANOIA_LEVEL": "7"})
        self.assertEqual(rc, 2, err)
        self.assertIn("BULWARK_PARANOIA_LEVEL", err)


class ListTests(ProxyTestCase):
    def test_deny_allow_and_gray(self):
        app = self.app()
        # The test client is 127.0.0.1: put it in each list in turn.
        px = self.proxy(upstream_port=app.port,
                        config={"mode": "block", "policy": {"deny": ["127.0.0.0/8"]}})
        c = self.conn(px.port)
        r = c.request("GET", "/echo?q=fine")
        self.assertEqual(r.status, 403, c.transcript())
        self.assertIn("denylist", wait_events(px, 1)[-1]["classes"])
        self.assertEqual(px.metrics().get("bulwark_denied_total"), 1)

        px2 = self.proxy(upstream_port=app.port,
                         config={"mode": "block", "policy": {"allow": ["127.0.0.1/32"]}})
        c2 = self.conn(px2.port)
        self.assertNotEqual(c2.request("GET", ATTACK_PATH).status, 403)

        gray = self.proxy(upstream_port=app.port,
                          config={"mode": "safe_blocking", "policy": {"gray": ["127.0.0.1"]}})
        self.assertEqual(self.conn(gray.port).request("GET", ATTACK_PATH).status, 403)
        notgray = self.proxy(upstream_port=app.port,
                             config={"mode": "safe_blocking", "policy": {"gray": ["198.18.0.0/15"]}})
        self.assertNotEqual(self.conn(notgray.port).request("GET", ATTACK_PATH).status, 403)
        self.assertEqual(wait_events(notgray, 1)[-1]["action"], "logged")

    def test_trusted_forwarded_for(self):
        app = self.app()
        px = self.proxy(upstream_port=app.port,
                        config={"mode": "block",
                                "policy": {"deny": ["203.0.113.7"], "trust_forwarded_for": True}})
        c = self.conn(px.port)
        r = c.request("GET", "/echo", headers=[("X-Forwarded-For", "198.18.0.9, 203.0.113.7")])
        self.assertEqual(r.status, 403, c.transcript())
        r = self.conn(px.port).request("GET", "/echo",
                                       headers=[("X-Forwarded-For", "203.0.113.7, 198.18.0.9")])
        self.assertEqual(r.status, 200)

    def test_override_per_path(self):
        app = self.app()
        px = self.proxy(upstream_port=app.port,
                        config={"mode": "block",
                                "policy": {"overrides": [{"path_prefix": "/public/", "mode": "monitoring"}]}})
        self.assertNotEqual(self.conn(px.port).request("GET", "/public/x?q=%27+or+1%3D1--").status, 403)
        self.assertEqual(self.conn(px.port).request("GET", "/private/x?q=%27+or+1%3D1--").status, 403)


class ReloadTests(ProxyTestCase):
    def _rewrite(self, px, mode):
        cfg = dict(px.config)
        cfg["mode"] = mode
        tmp = px.config_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f)
        os.replace(tmp, px.config_path)  # what a ConfigMap update looks like: a new inode

    def _status(self, px):
        return self.conn(px.port).request("GET", ATTACK_PATH).status

    def test_sighup_and_file_change_swap_the_mode(self):
        app = self.app()
        px = self.proxy(upstream_port=app.port, config={"mode": "monitoring", "log_level": "info"})
        self.assertNotEqual(self._status(px), 403)
        # File change alone is picked up by the watcher (every 2 s).
        self._rewrite(px, "block")
        deadline = time.monotonic() + 6
        while self._status(px) != 403 and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(self._status(px), 403, px.describe())
        # A broken file keeps the running policy.
        with open(px.config_path, "w") as f:
            f.write("{ broken")
        px.signal(signal.SIGHUP)
        time.sleep(0.3)
        self.assertEqual(self._status(px), 403)
        self.assertIn("reload failed", px.stderr_text())
        # SIGHUP applies a fixed file at once.
        self._rewrite(px, "monitoring")
        px.signal(signal.SIGHUP)
        deadline = time.monotonic() + 3
        while self._status(px) == 403 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertNotEqual(self._status(px), 403)
        self.assertIn("policy reloaded", px.stderr_text())

    def _write_policy(self, path, doc):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, path)

    def _wait_status(self, px, want, seconds):
        deadline = time.monotonic() + seconds
        while self._status(px) != want and time.monotonic() < deadline:
            time.sleep(0.2)
        return self._status(px)

    def test_policy_configmap_mode_replaces_the_pod_mode(self):
        # The webhook's layout: --mode from the pod annotation, the policy ConfigMap mounted as
        # BULWARK_POLICY_FILE (optional, watched), BULWARK_MODE_ALLOW_OVERRIDE from the chart.
        app = self.app()
        d = tempfile.mkdtemp(prefix="bulwark-policy-")
        self.addCleanup(shutil.rmtree, d, True)
        policy = os.path.join(d, "bulwark.json")
        px = self.proxy(upstream_port=app.port, args=["--mode", "monitoring"],
                        config={"log_level": "info"}, env={"BULWARK_POLICY_FILE": policy})
        self.assertNotEqual(self._status(px), 403)
        self._write_policy(policy, {"mode": "block"})  # the ConfigMap appears / changes
        self.assertEqual(self._wait_status(px, 403, 6), 403, px.describe())
        self.assertIn('"mode_from":"policy"', px.stderr_text())
        self._write_policy(policy, {"policy": {"gray": ["198.18.0.0/15"]}})  # mode removed again
        self.assertNotEqual(self._wait_status(px, 200, 6), 403, px.describe())

    def test_mode_allow_override_off_keeps_the_pod_mode(self):
        app = self.app()
        d = tempfile.mkdtemp(prefix="bulwark-policy-")
        self.addCleanup(shutil.rmtree, d, True)
        policy = os.path.join(d, "bulwark.json")
        self._write_policy(policy, {"mode": "off"})
        px = self.proxy(upstream_port=app.port, args=["--mode", "block"],
                        env={"BULWARK_POLICY_FILE": policy, "BULWARK_MODE_ALLOW_OVERRIDE": "off"})
        self.assertEqual(self._status(px), 403, px.describe())


if __name__ == "__main__":
    unittest.main()

"""Kubelet probe paths and event labels, as the webhook injects them (BULWARK_PROBE_PATHS,
BULWARK_APPLICATION, BULWARK_NODE_GROUP), through the running proxy with a real app behind it.

The environment values are taken from the webhook's golden AdmissionReview answers, so the proxy
is tested with exactly what the webhook renders.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402
from testlib.proxyctl import free_port, run_proxy_once  # noqa: E402

from test_detection import events, wait_events  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "webhook")
LFI_PROBE = "/probe?file=/etc/passwd"  # a probe target that is an attack when not a probe


def safe_config():
    return {"listen": ["127.0.0.1:%d" % free_port()],
            "status_listen": "127.0.0.1:%d" % free_port()}


def injected_env(golden, names):
    """The values of `names` in the bulwark-proxy container the webhook injected."""
    with open(os.path.join(GOLDEN, golden)) as f:
        spec = json.load(f)["patched"]["spec"]
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        if c["name"] == "bulwark-proxy":
            return {e["name"]: e["value"] for e in c.get("env", []) if e["name"] in names}
    raise AssertionError("no bulwark-proxy container in " + golden)


class ProbeTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.app_ = cls.class_app()
        env = injected_env("pod-probes-ports.golden.json", {"BULWARK_PROBE_PATHS"})
        cls.webhook_paths = env["BULWARK_PROBE_PATHS"].split(",")
        # the webhook's list, plus one entry that is an attack elsewhere, plus bad entries
        env["BULWARK_PROBE_PATHS"] += ",%s,no-slash,/a b" % LFI_PROBE
        cls.px = cls.class_proxy(upstream_port=cls.app_.port,
                                 config={"mode": "block", "log_level": "info"}, env=env)

    def get(self, method, target, headers=None, body=None):
        before = self.app_.stats()["requests"]
        c = self.conn(self.px.port)
        r = c.request(method, target, headers=headers, body=body)
        return r.status, self.app_.stats()["requests"] - before

    def probes(self):
        return self.px.metrics().get("bulwark_probe_requests_total")

    def test_webhook_probe_paths_are_forwarded_and_counted(self):
        self.assertEqual(self.webhook_paths, ["/healthz", "/server-status?auto"])
        for path in self.webhook_paths + [LFI_PROBE]:
            n0 = self.probes()
            n_events = len(events(self.px))
            for method in ("GET", "HEAD"):
                st, reached = self.get(method, path, headers=[("User-Agent", "kube-probe/1.30")])
                self.assertNotEqual(st, 403, "%s %s was blocked" % (method, path))
                self.assertEqual(reached, 1, "%s %s did not reach the app" % (method, path))
            self.assertEqual(self.probes() - n0, 2, path)
            self.assertEqual(len(events(self.px)), n_events, "a probe gave an attack event")

    def test_anything_else_on_a_probe_path_is_inspected(self):
        # the premise: the probe target is an attack when it is not exactly a probe
        n0 = self.probes()
        for method, target, body in (("GET", LFI_PROBE + "&x=1", None),
                                     ("GET", "/probe?file=/etc/passwd&", None),
                                     ("GET", "/probe?file=/etc/shadow", None),
                                     ("POST", LFI_PROBE, b"a=1"),
                                     ("GET", LFI_PROBE, b"hello"),
                                     ("PUT", LFI_PROBE, None)):
            st, reached = self.get(method, target, body=body)
            self.assertEqual((st, reached), (403, 0), "%s %s body=%r" % (method, target, body))
        c = self.conn(self.px.port)
        r = c.request("GET", LFI_PROBE, headers=[("Transfer-Encoding", "chunked")],
                      body=b"0\r\n\r\n")
        self.assertEqual(r.status, 403, "a chunked GET is not a probe" + c.transcript())
        self.assertEqual(self.probes(), n0)

    def test_bad_entries_are_named_in_a_warning(self):
        err = self.px.stderr_text()
        self.assertIn("BULWARK_PROBE_PATHS", err)
        self.assertIn("no-slash", err)
        self.assertIn("does not start with '/'", err)
        self.assertIn("a b", err)
        self.assertIn('"probe_paths":"3"', err, "the valid entries are used")


class LabelTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.app_ = cls.class_app()
        cls.env = injected_env("pod-unknown-annotations.golden.json",
                               {"BULWARK_APPLICATION", "BULWARK_NODE_GROUP"})
        cls.px = cls.class_proxy(upstream_port=cls.app_.port,
                                 config={"mode": "monitoring", "log_level": "info"}, env=cls.env)

    def test_every_event_carries_the_labels(self):
        self.assertEqual(self.env, {"BULWARK_APPLICATION": "42",
                                    "BULWARK_NODE_GROUP": "payments-eu"})
        c = self.conn(self.px.port)
        for rid, target in (("lbl-1", "/echo?file=../../../../etc/passwd"),
                            ("lbl-2", "/echo?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E")):
            r = c.request("GET", target, headers=[("X-Request-Id", rid)])
            self.assertEqual(r.status, 200, c.transcript())
        ev = [e for e in wait_events(self.px, 2) if e["request_id"].startswith("lbl-")]
        self.assertEqual(len(ev), 2, events(self.px))
        for e in ev:
            self.assertEqual((e["application"], e["node_group"]), ("42", "payments-eu"), e)
            self.assertEqual(e["action"], "logged")

    def test_start_line_carries_the_labels(self):
        err = self.px.stderr_text()
        line = [l for l in err.splitlines() if "bulwark-proxy started" in l]
        self.assertTrue(line, err)
        self.assertIn('"application":"42"', line[0])
        self.assertIn('"node_group":"payments-eu"', line[0])

    def test_invalid_label_refuses_the_start(self):
        for name, value in (("BULWARK_APPLICATION", "shop front"),
                            ("BULWARK_NODE_GROUP", "g" * 64),
                            ("BULWARK_APPLICATION", "app/1")):
            rc, _, err = run_proxy_once([], config=safe_config(), env={name: value})
            self.assertEqual(rc, 2, "%s=%r: %s" % (name, value, err))
            self.assertIn(name, err)
            self.assertIn("is not an event label", err)
        rc, _, err = run_proxy_once(["--application", "a b"], config=safe_config())
        self.assertEqual(rc, 2, err)
        self.assertIn("--application", err)


if __name__ == "__main__":
    unittest.main()

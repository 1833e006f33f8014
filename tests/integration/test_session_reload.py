"""Reload swaps one snapshot: the policy, the engine built from its inspection settings, and the
request limits. Changed in the configuration file and applied by SIGHUP, without a restart."""

import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402

ATTACK = "<img src=x onerror=alert(document.cookie)>"


def late_attack_body():
    # The attack starts after 3000 bytes of harmless text.
    return json.dumps({"pad": "a" * 3000, "bio": ATTACK}).encode()


class SnapshotReloadTests(ProxyTestCase):
    def rewrite(self, px, **changes):
        cfg = json.loads(json.dumps(px.config))
        for section, values in changes.items():
            cfg.setdefault(section, {}).update(values)
        tmp = px.config_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f)
        os.replace(tmp, px.config_path)
        px.signal(signal.SIGHUP)

    def post(self, px):
        c = self.conn(px.port)
        return c.request("POST", "/echo", headers=[("Content-Type", "application/json")],
                         body=late_attack_body())

    def until(self, fn, want, timeout=3.0):
        deadline = time.monotonic() + timeout
        got = fn()
        while got != want and time.monotonic() < deadline:
            time.sleep(0.1)
            got = fn()
        return got

    def test_inspect_body_bytes_reloads_with_the_engine(self):
        app = self.app()
        px = self.proxy(upstream_port=app.port,
                        config={"mode": "block", "log_level": "info",
                                "policy": {"inspect_body_bytes": 1024,
                                           "inspect_body_max_bytes": 1024, "on_limit": "pass"}})
        # Only the first 1 KiB is inspected and the rest passes: the late attack passes (as
        # configured).
        self.assertEqual(self.post(px).status, 200)
        self.rewrite(px, policy={"inspect_body_bytes": 65536, "inspect_body_max_bytes": 65536})
        self.assertEqual(self.until(lambda: self.post(px).status, 403), 403, px.describe())
        self.assertIn('"inspect_body_bytes":"65536"', px.stderr_text())
        # And back: the new snapshot, not a cached engine.
        self.rewrite(px, policy={"inspect_body_bytes": 1024, "inspect_body_max_bytes": 1024})
        self.assertEqual(self.until(lambda: self.post(px).status, 200), 200, px.describe())
        self.assertEqual(px.proc.poll(), None)

    def test_limits_reload(self):
        app = self.app()
        px = self.proxy(upstream_port=app.port, config={"limits": {"max_header_bytes": 4096}})

        def status():
            c = self.conn(px.port)
            return c.request("GET", "/", headers=[("X-Big", "b" * 6000)]).status

        self.assertEqual(status(), 400)
        self.rewrite(px, limits={"max_header_bytes": 16384})
        self.assertEqual(self.until(status, 200), 200, px.describe())


if __name__ == "__main__":
    unittest.main()

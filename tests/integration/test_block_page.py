"""The configured block page (block_page / --block-page / BULWARK_BLOCK_PAGE): served to browsers
for a blocked request with {{request_id}} replaced, JSON clients unchanged, a page that cannot be
read refuses the start, and a changed file swaps the page without a restart (a broken one keeps
the previous page). The environment value is the one the webhook injects."""

import json
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402
from testlib.proxyctl import free_port, run_proxy_once  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "webhook")
ATTACK = "/echo?file=../../../../etc/passwd"
PAGE = ("<!doctype html><html><body><h1>Shop: request refused</h1>"
        "<p>Quote {{request_id}} to support.</p><!-- id again: {{request_id}} -->"
        "<p>{{request_ID}} {request_id} &amp; <b>kept</b></p></body></html>\n")


def injected_block_page():
    with open(os.path.join(GOLDEN, "pod-block-page.golden.json")) as f:
        spec = json.load(f)["patched"]["spec"]
    for c in spec["containers"]:
        if c["name"] == "bulwark-proxy":
            env = {e["name"]: e.get("value") for e in c["env"]}
            mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
            return env["BULWARK_BLOCK_PAGE"], mounts
    raise AssertionError("no bulwark-proxy container")


class BlockPageTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.app_ = cls.class_app()
        cls.dir = tempfile.TemporaryDirectory(prefix="bulwark-page-")
        cls.addClassCleanup(cls.dir.cleanup)
        cls.page = os.path.join(cls.dir.name, "block.html")
        with open(cls.page, "w") as f:
            f.write(PAGE)
        cls.px = cls.class_proxy(upstream_port=cls.app_.port,
                                 config={"mode": "block", "log_level": "info"},
                                 env={"BULWARK_BLOCK_PAGE": cls.page})

    def blocked(self, accept, rid=None, method="GET"):
        before = self.app_.stats()["requests"]
        headers = [("Accept", accept)] + ([("X-Request-Id", rid)] if rid else [])
        c = self.conn(self.px.port)
        r = c.request(method, ATTACK, headers=headers)
        self.assertEqual(r.status, 403, c.transcript())
        self.assertEqual(self.app_.stats()["requests"], before, "the app was reached")
        return r

    def test_webhook_injects_the_mounted_key(self):
        path, mounts = injected_block_page()
        self.assertEqual(path, "/etc/bulwark/block-page/block.html")
        self.assertTrue(mounts["/etc/bulwark/block-page"]["readOnly"])

    def test_browser_gets_the_page_with_the_request_id(self):
        r = self.blocked("text/html,application/xhtml+xml", rid="bp-1")
        body = r.body.decode()
        self.assertEqual(body, PAGE.replace("{{request_id}}", "bp-1"))
        self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
        self.assertEqual(int(r.header("content-length")), len(r.body))
        # a generated id is the one in X-Request-Id
        r = self.blocked("text/html")
        rid = r.header("x-request-id")
        self.assertTrue(rid)
        self.assertIn("Quote %s to support." % rid, r.body.decode())
        self.assertEqual(self.blocked("text/html", method="HEAD").body, b"")

    def test_json_clients_are_unchanged(self):
        for accept in ("application/json", "*/*"):
            r = self.blocked(accept, rid="bp-json")
            self.assertEqual(r.header("content-type"), "application/json")
            doc = json.loads(r.body)
            self.assertEqual(doc["request_id"], "bp-json")
            self.assertEqual(doc["status"], 403)


class BlockPageStartTests(ProxyTestCase):
    def test_unreadable_or_large_page_refuses_the_start(self):
        cfg = {"listen": ["127.0.0.1:%d" % free_port()],
               "status_listen": "127.0.0.1:%d" % free_port()}
        with tempfile.TemporaryDirectory() as d:
            big = os.path.join(d, "big.html")
            with open(big, "w") as f:
                f.write("x" * (64 * 1024 + 1))
            ok = os.path.join(d, "ok.html")
            with open(ok, "w") as f:
                f.write("x" * (64 * 1024))
            missing = os.path.join(d, "missing.html")
            for args, env, config, name, why in (
                    ([], {"BULWARK_BLOCK_PAGE": missing}, cfg, "BULWARK_BLOCK_PAGE", "cannot read"),
                    (["--block-page", d], {}, cfg, "--block-page", "cannot read"),
                    ([], {}, dict(cfg, block_page=big), "block_page", "larger than 65536")):
                rc, _, err = run_proxy_once(args, config=config, env=env)
                self.assertNotIn(rc, (0, None), err)
                self.assertIn(name, err)
                self.assertIn(why, err)
            # exactly the cap starts
            px = self.proxy(env={"BULWARK_BLOCK_PAGE": ok}, wait="healthz")
            self.assertIsNone(px.proc.poll(), px.stderr_text())


class BlockPageReloadTests(ProxyTestCase):
    def test_changed_file_swaps_the_page_and_a_broken_one_keeps_it(self):
        app = self.app()
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        page = os.path.join(d.name, "block.html")
        with open(page, "w") as f:
            f.write("<p>first {{request_id}}</p>")
        px = self.proxy(upstream_port=app.port, config={"mode": "block"},
                        args=["--block-page", page])

        def body(rid):
            c = self.conn(px.port)
            r = c.request("GET", ATTACK, headers=[("Accept", "text/html"), ("X-Request-Id", rid)])
            self.assertEqual(r.status, 403, c.transcript())
            return r.body.decode()

        def wait_body(want, rid):
            deadline = time.time() + 8
            got = body(rid)
            while got != want and time.time() < deadline:
                time.sleep(0.2)
                got = body(rid)
            return got

        self.assertEqual(body("r1"), "<p>first r1</p>")
        # the file is watched (a mounted ConfigMap changes without a signal)
        with open(page + ".new", "w") as f:
            f.write("<p>second {{request_id}}</p>")
        os.replace(page + ".new", page)
        self.assertEqual(wait_body("<p>second r2</p>", "r2"), "<p>second r2</p>")
        # too large, then missing: the previous page stays, the error is logged
        with open(page + ".new", "w") as f:
            f.write("y" * (64 * 1024 + 1))
        os.replace(page + ".new", page)
        px.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while "block page reload failed" not in px.stderr_text() and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("block page reload failed", px.stderr_text())
        self.assertIn("larger than 65536", px.stderr_text())
        self.assertEqual(body("r3"), "<p>second r3</p>")
        os.remove(page)
        px.signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertEqual(body("r4"), "<p>second r4</p>")
        self.assertIsNone(px.proc.poll(), "the proxy exited")


if __name__ == "__main__":
    unittest.main()

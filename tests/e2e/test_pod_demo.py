#!/usr/bin/env python3
"""The whole product on this machine: the example Deployment's pod through bulwark-webhook (real
AdmissionReview over TLS), the returned patch applied, the patched pod run like a kubelet
(tests/e2e/podrunner.py: netns, init container with exactly its securityContext's UID and
capabilities, app, bulwark-proxy as UID 101), traffic from a client namespace.

Run: sudo BULWARK_BIN_DIR=build/bin python3 tests/e2e/run.py test_pod_demo   (ctest does this;
CI=true turns every privilege skip into a failure). A summary table is printed at the end.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import podrunner  # noqa: E402
import proc  # noqa: E402
from podrunner import CLIENT_V4, CLIENT_V6  # noqa: E402

REPO = podrunner.REPO
EXAMPLE = os.path.join(REPO, "examples", "app-deployment.yaml")
EXAMPLE_WALLARM = os.path.join(REPO, "examples", "app-deployment-wallarm.yaml")
SUMMARY = proc.Summary("pod e2e summary")
record = SUMMARY.record


def tearDownModule():  # noqa: N802 (unittest naming)
    SUMMARY.print()


def bindir():
    d = os.environ.get("BULWARK_BIN_DIR")
    if not d and os.environ.get("BULWARK_INIT_BIN_DEFAULT"):
        d = os.path.dirname(os.environ["BULWARK_INIT_BIN_DEFAULT"])
    d = d or os.path.join(REPO, "build", "bin")
    ok = all(os.access(os.path.join(d, b), os.X_OK) for b in podrunner.BULWARK_BINARIES)
    return d if ok else None


class PodCase(unittest.TestCase):
    maxDiff = 4000

    def setUp(self):
        netns.require_privilege(self, ["ip", "curl", "setpriv", "openssl", "nft", "mount"])
        try:
            import yaml  # noqa: F401
        except ImportError:
            msg = "python3-yaml missing (scripts/deps.sh installs it)"
            if os.environ.get("CI") == "true":
                self.fail(msg)
            self.skipTest(msg)
        self.bin = bindir()
        if not self.bin:
            msg = "bulwark-init / bulwark-proxy / bulwark-webhook not built (BULWARK_BIN_DIR)"
            if os.environ.get("CI") == "true":
                self.fail(msg)
            self.skipTest(msg)
        self.work = tempfile.mkdtemp(prefix="bulwark-podtest-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.work])
        self.addCleanup(self.assert_nothing_left)

    def assert_nothing_left(self):
        mine = [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                          text=True).stdout.split()
                if n.startswith("bw-k") and "-%d-" % os.getpid() in n]
        self.assertEqual(mine, [], "namespaces left behind")

    def webhook(self, config=None):
        wh = podrunner.Webhook(os.path.join(self.bin, "bulwark-webhook"), self.work, config)
        self.addCleanup(wh.stop)
        return wh

    def pod(self, path=EXAMPLE, annotations=None):
        objs = podrunner.load_objects(path)
        dep = [o for o in objs if o["kind"] == "Deployment"][0]
        pod = podrunner.pod_from_deployment(dep)
        if annotations:
            pod["metadata"].setdefault("annotations", {}).update(annotations)
        return pod

    def runner(self, patched):
        r = podrunner.PodRunner(patched, self.bin, podrunner.demo_standin, log=lambda s: None)
        self.addCleanup(r.stop)
        return r

    def get(self, r, port, path, extra=(), host=None):
        host = host or r.ip
        h = "[%s]" % host if ":" in host else host
        res = r.client(["curl", "-s", "--path-as-is", "-m", "5", "-o", "/dev/null", "-D", "-",
                        "-w", "\n%{http_code}", "http://%s:%d%s" % (h, port, path)] + list(extra),
                       check=False)
        code = res.stdout.strip().rsplit("\n", 1)[-1]
        rid = [line.split(":", 1)[1].strip() for line in res.stdout.splitlines()
               if line.lower().startswith("x-request-id:")]
        return (int(code) if code.isdigit() else 0), (rid[0] if rid else "")


class DemoTest(PodCase):
    """scripts/demo.sh as a user runs it (non-interactive, --no-build), judged from its JSON."""

    def run_demo(self, *args):
        out = os.path.join(self.work, "demo.json")
        env = dict(os.environ, BULWARK_BIN_DIR=self.bin)
        res = subprocess.run([os.path.join(REPO, "scripts", "demo.sh"), "--no-build",
                              "--json-out", out] + list(args), capture_output=True, text=True,
                             timeout=240, env=env)
        self.assertTrue(os.path.exists(out), "demo wrote no JSON (rc %d):\n%s\n%s"
                        % (res.returncode, res.stdout[-4000:], res.stderr[-2000:]))
        with open(out) as f:
            return res, json.load(f)

    def check_run(self, run, label):
        mode = run["mode"]
        reqs, events = run["requests"], run["events"]
        by_id = {e["request_id"]: e for e in events}
        clean = [r for r in reqs if r["kind"] == "clean"]
        attacks = [r for r in reqs if r["kind"] == "attack"]
        self.assertGreaterEqual(len(attacks), 5)
        ok_clean = [r["status"] for r in clean] == [200] * len(clean)
        record("%s %s: clean -> 200" % (label, mode), ok_clean,
               "%d/%d" % (sum(r["status"] == 200 for r in clean), len(clean)))
        self.assertTrue(ok_clean, clean)
        want = 403 if mode == "block" else 200
        ok_att = [r["status"] for r in attacks] == [want] * len(attacks)
        record("%s %s: attacks -> %d" % (label, mode, want), ok_att,
               "%d/%d" % (sum(r["status"] == want for r in attacks), len(attacks)))
        self.assertTrue(ok_att, attacks)
        logged = [r for r in attacks if r["request_id"] in by_id]
        record("%s %s: attack events" % (label, mode), len(logged) == len(attacks),
               "%d/%d, action %s" % (len(logged), len(attacks),
                                     ",".join(sorted({e["action"] for e in events}))))
        self.assertEqual(len(logged), len(attacks), "an attack without an event")
        for r in attacks:
            e = by_id[r["request_id"]]
            self.assertEqual(e["action"], "blocked" if mode == "block" else "logged", e)
            self.assertEqual(e["client"], CLIENT_V6 if r["family"] == "v6" else CLIENT_V4, e)
        for r in clean:
            self.assertNotIn(r["request_id"], by_id, "clean request logged as an attack")
        record("%s %s: proxy logs the real client" % (label, mode), True,
               ",".join(sorted({e["client"] for e in events})))
        seen = run["app_view"]
        self.assertEqual(seen.get("peer"), "127.0.0.6")
        self.assertEqual(seen.get("headers", {}).get("x-forwarded-for"), CLIENT_V4)
        proxy = run["identity"]["bulwark-proxy"]
        self.assertEqual(proxy["uid"], 101)
        self.assertLessEqual(set(proxy["caps"]), {"NET_BIND_SERVICE"})
        self.assertLessEqual(set(proxy["bounding"]), {"NET_BIND_SERVICE"})

    def test_demo_monitoring_then_block(self):
        res, doc = self.run_demo()
        self.assertEqual(res.returncode, 0, res.stdout[-4000:] + res.stderr[-2000:])
        self.assertTrue(doc["ok"])
        self.assertEqual([r["mode"] for r in doc["runs"]], ["monitoring", "block"])
        for run in doc["runs"]:
            self.assertIn(run.get("capture_mode"), ("nftables", "iptables"))
            self.assertTrue(run.get("capture_why"))
            init = run["identity"]["bulwark-init"]
            self.assertEqual(init["uid"], 0)
            self.assertEqual(set(init["caps"]), {"NET_ADMIN", "NET_RAW"})
            self.check_run(run, "demo auto")
        record("demo auto: capture mode chosen", True, doc["runs"][0]["capture_mode"])
        self.assertIn("summary", res.stdout)

    def test_demo_iptables_block(self):
        res, doc = self.run_demo("--capture", "iptables", "--mode", "block")
        self.assertEqual(res.returncode, 0, res.stdout[-4000:] + res.stderr[-2000:])
        self.assertEqual(doc["runs"][0]["capture_mode"], "iptables")
        self.check_run(doc["runs"][0], "demo iptables")

    def test_demo_capture_none_uses_proxy_port(self):
        res, doc = self.run_demo("--capture", "none", "--mode", "block")
        self.assertEqual(res.returncode, 0, res.stdout[-4000:] + res.stderr[-2000:])
        run = doc["runs"][0]
        self.assertNotIn("bulwark-init", run["identity"])
        self.assertEqual(run["status"]["initContainers"], [])
        self.check_run(run, "demo none (port proxy)")

    def test_demo_refusals(self):
        env = dict(os.environ, BULWARK_BIN_DIR=self.bin)
        demo = os.path.join(REPO, "scripts", "demo.sh")
        res = subprocess.run([demo, "--no-build", "--schema", "split"], capture_output=True,
                             text=True, env=env, timeout=30)
        self.assertEqual(res.returncode, 2)
        self.assertIn("bulwark-helper", res.stderr)
        res = subprocess.run([demo, "--no-build", "--capture", "bogus"], capture_output=True,
                             text=True, env=env, timeout=30)
        self.assertEqual(res.returncode, 2)
        plan = subprocess.run([os.path.join(self.bin, "bulwark-init"), "plan", "--mode", "ebpf",
                               "--app-port", "8080"], capture_output=True, text=True)
        if plan.returncode != 0:  # no eBPF capture in this build: the demo must say so
            res = subprocess.run([demo, "--no-build", "--capture", "ebpf"], capture_output=True,
                                 text=True, env=env, timeout=30)
            self.assertEqual(res.returncode, 2)
            self.assertIn("ebpf", res.stderr)
        res = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534",
                              "--clear-groups", demo, "--no-build"], capture_output=True,
                             text=True, env=env, timeout=30)
        self.assertEqual(res.returncode, 2)
        self.assertIn("needs root", res.stderr)
        record("demo refuses split / bad capture / ebpf-less build / non-root", True, "exit 2")


class PodTest(PodCase):
    """The runner directly: what the webhook generates is exactly what the pod gets."""

    def test_missing_capability_fails_the_pod(self):
        """The init container gets only what its spec grants: take NET_ADMIN away and the pod
        does not start (and says why), in both netfilter modes."""
        wh = self.webhook()
        for mode in ("nftables", "iptables"):
            _, patched, _ = wh.review(self.pod(annotations={
                "sidecar.bulwark.dev/capture-mode": mode}))
            init = patched["spec"]["initContainers"][0]
            self.assertIn("NET_ADMIN", init["securityContext"]["capabilities"]["add"])
            init["securityContext"]["capabilities"]["add"].remove("NET_ADMIN")
            r = self.runner(patched)
            with self.assertRaises(podrunner.PodFailed) as cm:
                r.start()
            self.assertIn("bulwark-init", str(cm.exception))
            self.assertIn("NET_ADMIN", str(cm.exception))
            record("init without NET_ADMIN (%s) -> pod fails" % mode, True,
                   "Init:Error, names NET_ADMIN")
        # iptables-legacy talks to the kernel over a raw socket: NET_RAW is needed too.
        _, patched, _ = wh.review(self.pod(annotations={
            "sidecar.bulwark.dev/capture-mode": "iptables"}))
        init = patched["spec"]["initContainers"][0]
        init["securityContext"]["capabilities"]["add"].remove("NET_RAW")
        init["env"].append({"name": "BULWARK_IPTABLES_BACKEND", "value": "legacy"})
        r = self.runner(patched)
        with self.assertRaises(podrunner.PodFailed) as cm:
            r.start()
        self.assertIn("bulwark-init", str(cm.exception))
        record("init without NET_RAW (iptables-legacy) -> pod fails", True, "Init:Error")

    def test_generated_spec_is_enough(self):
        """...while the spec as generated runs, in each capture mode the webhook offers."""
        wh = self.webhook()
        for mode in ("auto", "nftables", "iptables"):
            _, patched, _ = wh.review(self.pod(annotations={
                "sidecar.bulwark.dev/capture-mode": mode, "sidecar.bulwark.dev/mode": "block"}))
            caps = patched["spec"]["initContainers"][0]["securityContext"]["capabilities"]["add"]
            r = self.runner(patched)
            r.start()
            status, _ = self.get(r, 8080, "/etc/passwd")
            clean, _ = self.get(r, 8080, "/api/items?id=1")
            r.stop()
            record("capture %s, init caps %s: attack / clean" % (mode, ",".join(caps)),
                   (status, clean) == (403, 200), "%d / %d" % (status, clean))
            self.assertEqual((status, clean), (403, 200), mode)

    def test_wallarm_variant(self):
        """wallarm-sidecar label + sidecar.wallarm.io annotations: injected, monitoring."""
        wh = self.webhook()
        resp, patched, patch = wh.review(self.pod(EXAMPLE_WALLARM))
        self.assertTrue(resp["allowed"])
        self.assertTrue(patch, "not injected")
        names = [c["name"] for c in patched["spec"]["containers"]]
        self.assertIn("bulwark-proxy", names)
        r = self.runner(patched)
        r.start()
        status, rid = self.get(r, 8080, "/?q=%27%20OR%201%3D1--")
        events = podrunner.events_of(r)
        ev = [e for e in events if e.get("request_id") == rid]
        record("wallarm label + annotations: monitoring", status == 200 and len(ev) == 1,
               "%d, event %s" % (status, ev[0]["action"] if ev else "-"))
        self.assertEqual(status, 200)
        self.assertEqual(len(ev), 1, events)
        self.assertEqual(ev[0]["action"], "logged")
        self.assertEqual(ev[0]["client"], CLIENT_V4)

    def test_hostile_annotation_admitted_with_defaults(self):
        wh = self.webhook()
        resp, patched, _ = wh.review(self.pod(annotations={
            "sidecar.bulwark.dev/capture-mode": "ebpf; rm -rf /",
            "sidecar.bulwark.dev/mode": "block\nX-Injected: 1"}))
        self.assertTrue(resp["allowed"])
        self.assertGreaterEqual(len(resp.get("warnings") or []), 2, resp)
        r = self.runner(patched)
        r.start()
        status, rid = self.get(r, 8080, "/etc/passwd")
        ev = [e for e in podrunner.events_of(r) if e.get("request_id") == rid]
        record("hostile annotations -> defaults + warnings, pod runs",
               status == 200 and len(ev) == 1,
               "%d warnings, attack %d (monitoring)" % (len(resp["warnings"]), status))
        self.assertEqual(status, 200)  # default mode monitoring
        self.assertEqual(len(ev), 1)

    def test_unlabelled_and_disabled_not_injected(self):
        wh = self.webhook()
        for labels, name in (({"bulwark-sidecar": "disabled"}, "disabled"), ({}, "unlabelled")):
            pod = self.pod()
            pod["metadata"]["labels"].pop("bulwark-sidecar")
            pod["metadata"]["labels"].update(labels)
            resp, patched, patch = wh.review(pod)
            self.assertTrue(resp["allowed"])
            self.assertEqual(patch, [])
            record("%s pod -> allowed, not injected" % name, True, "0 patch operations")

    def test_runner_leaves_nothing_when_killed(self):
        """A runner killed with SIGKILL (a test timeout): its containers die with it (parent-
        death signal); its namespaces are then leftovers that scripts/leftovers.sh names and
        removes."""
        code = ("import sys, time; sys.path.insert(0, %r); import podrunner, json\n"
                "pod = json.load(open(%r))\n"
                "r = podrunner.PodRunner(pod, %r, podrunner.demo_standin, log=lambda s: None)\n"
                "r.start(); print('up', r.netns, flush=True); time.sleep(60)\n")
        wh = self.webhook()
        _, patched, _ = wh.review(self.pod())
        path = os.path.join(self.work, "pod.json")
        with open(path, "w") as f:
            json.dump(patched, f)
        p = subprocess.Popen([sys.executable, "-c", code % (os.path.dirname(__file__), path,
                                                            self.bin)],
                             stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline().split()
        self.assertEqual(line[:1], ["up"])
        ns = line[1]
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                              text=True).stdout.split()
        self.assertGreaterEqual(len(pids), 2)
        p.kill()
        p.wait()
        self.addCleanup(subprocess.run, ["ip", "netns", "del", ns.replace("kpod", "kcli")])
        self.addCleanup(subprocess.run, ["ip", "netns", "del", ns])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            left = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                  text=True).stdout.split()
            if not left:
                break
            time.sleep(0.05)
        self.assertEqual(left, [], "containers outlived their runner")
        res = subprocess.run([os.path.join(REPO, "scripts", "leftovers.sh")],
                             capture_output=True, text=True)
        self.assertEqual(res.returncode, 1, res.stdout)
        self.assertIn("network namespace %s (creator %d gone" % (ns, p.pid), res.stdout)
        record("runner SIGKILLed -> containers die, leftovers.sh names the netns", True,
               "%d processes gone" % len(pids))


class ScenarioTest(PodCase):
    """Behaviour of the injected pod beyond the demo's requests."""

    def block_pod(self, annotations=None, configmaps=None):
        wh = self.webhook()
        ann = {"sidecar.bulwark.dev/mode": "block"}
        ann.update(annotations or {})
        _, patched, _ = wh.review(self.pod(annotations=ann))
        r = podrunner.PodRunner(patched, self.bin, podrunner.demo_standin,
                                configmaps=configmaps, log=lambda s: None)
        self.addCleanup(r.stop)
        r.start()
        return r

    def test_safe_blocking_honours_the_gray_list(self):
        """The policy ConfigMap (mounted like the kubelet would) grays the IPv4 client only:
        its attacks are blocked, the IPv6 client's are logged."""
        policy = {"bulwark-policy": {"bulwark.json": json.dumps(
            {"policy": {"gray": ["%s/32" % CLIENT_V4]}})}}
        r = self.block_pod({"sidecar.bulwark.dev/mode": "safe_blocking"}, configmaps=policy)
        gray, _ = self.get(r, 8080, "/etc/passwd")
        other, rid = self.get(r, 8080, "/etc/passwd", host=r.ip6)
        clean, _ = self.get(r, 8080, "/api/items?id=3")
        ev = [e for e in podrunner.events_of(r) if e.get("request_id") == rid]
        ok = (gray, other, clean) == (403, 200, 200) and ev and ev[0]["action"] == "logged"
        record("safe_blocking: gray client blocked, other logged", ok,
               "gray %d, other %d, clean %d" % (gray, other, clean))
        self.assertEqual((gray, other, clean), (403, 200, 200))
        self.assertEqual(ev[0]["action"], "logged")

    def test_kubelet_probe_from_the_node_reaches_the_app(self):
        """The app's readinessProbe (httpGet :http /healthz), sent from the node side like a
        kubelet's, is captured, passes the proxy and is answered by the app."""
        r = self.block_pod()
        app = r.container("shop")
        self.assertIn("readinessProbe", app)
        m = podrunner._metric_sum(podrunner._metrics(r), "bulwark_requests_total")
        _, err = r.read_output("shop")
        seen = [line for line in err.splitlines() if "/healthz" in line]
        ok = m >= 1 and seen and "127.0.0.6" in seen[0]
        record("kubelet-style readiness probe via capture -> proxy -> app", ok,
               "%d probe(s) at the app, proxy requests %d" % (len(seen), m))
        self.assertTrue(seen, "the probe never reached the app")
        self.assertIn("127.0.0.6", seen[0])
        self.assertGreaterEqual(m, 1)

    def test_init_twice_one_rule_set(self):
        """The init container run again (a pod sandbox restart) leaves one rule set, and each
        request still passes the proxy exactly once."""
        r = self.block_pod({"sidecar.bulwark.dev/capture-mode": "nftables"})
        before = r.inpod(["nft", "list", "table", "inet", "bulwark"]).stdout
        r.rerun_init("bulwark-init")
        after = r.inpod(["nft", "list", "table", "inet", "bulwark"]).stdout
        m0 = podrunner._metric_sum(podrunner._metrics(r), "bulwark_requests_total")
        status, _ = self.get(r, 8080, "/api/items?id=5")
        m1 = podrunner._metric_sum(podrunner._metrics(r), "bulwark_requests_total")
        ok = before == after and status == 200 and m1 - m0 == 1
        record("init run twice -> one rule set, one proxy pass", ok,
               "%d redirect rule(s), +%d request" % (after.count("redirect"), m1 - m0))
        self.assertEqual(before, after)
        self.assertEqual(status, 200)
        self.assertEqual(m1 - m0, 1)

    def test_hostile_requests_through_the_captured_path(self):
        """Malformed and smuggling-shaped requests sent to the app port are answered by the
        proxy (never reach the app) and the pod keeps serving."""
        r = self.block_pod()
        shapes = {
            "CL+TE": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "two CL": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                      b"Content-Length: 2\r\n\r\nab",
            "bare LF + obs-fold": b"GET / HTTP/1.1\nHost: x\n X: y\n\n",
            "no Host": b"GET / HTTP/1.1\r\n\r\n",
            "TE: gzip, chunked": b"POST / HTTP/1.1\r\nHost: x\r\n"
                                 b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        }
        probe = ("import socket,sys\ns=socket.create_connection((sys.argv[1],8080),timeout=5)\n"
                 "s.sendall(bytes.fromhex(sys.argv[2]))\nd=b''\n"
                 "try:\n while not d.endswith(b'\\r\\n\\r\\n') and len(d)<65536:\n"
                 "  c=s.recv(4096)\n  d+=c\n  if not c: break\nexcept OSError: pass\n"
                 "print((d.split(b' ')+[b'',b''])[1].decode())")
        got = {}
        for name, raw in shapes.items():
            res = r.client([sys.executable, "-c", probe, r.ip, raw.hex()], check=False)
            got[name] = res.stdout.strip()
        clean, _ = self.get(r, 8080, "/api/items?id=9")
        _, err = r.read_output("shop")
        reached = [line for line in err.splitlines() if "POST / " in line or "GET / HTTP" in line]
        ok = all(v in ("400", "403") for v in got.values()) and clean == 200 and not reached
        record("hostile request shapes via capture -> 400/403, app untouched", ok,
               " ".join("%s=%s" % (k.split()[0], v) for k, v in got.items()))
        self.assertTrue(all(v in ("400", "403") for v in got.values()), got)
        self.assertEqual(clean, 200)
        self.assertEqual(reached, [], "a malformed request reached the app")


if __name__ == "__main__":
    unittest.main()

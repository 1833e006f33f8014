#!/usr/bin/env python3
"""The injected pod under stress: the example Deployment's pod through bulwark-webhook (a real
AdmissionReview), run like a kubelet by tests/e2e/podrunner.py (capture rules in the pod's
network namespace, bulwark-proxy as UID 101, a real app), loaded from the client namespace by
tests/e2e/load_client.py.

  KillRestartTest       bulwark-proxy SIGKILLed under load: the runner restarts it like the
                        kubelet; traffic is served again within 1 s; meanwhile clients are refused
                        or reset (fail-closed) and nothing reaches the app around the proxy
  TerminationTest       the pod deleted under load (preStop sleep, then SIGTERM and the proxy's
                        drain window, in the kubelet's order): zero failed requests while clients
                        keep opening new connections; afterwards refused, never bypassing
  IdleConnectionsTest   10,000 idle keep-alive connections held through the pod while wrk
                        measures rps: the drop is at most 10 %
  UploadTest            a 1 GiB upload through the pod arrives intact (SHA-256 at the app), in
                        bounded time, the body streamed: the proxy's peak RSS is printed and
                        bounded

Sizes (CI defaults first): BULWARK_E2E_IDLE_CONNS (10000), BULWARK_E2E_UPLOAD_MB (1024),
BULWARK_E2E_RPS_SECONDS (2 per wrk run, 5 pairs). Each figure is a row of the e2e summary table.
Run: sudo python3 tests/e2e/run.py test_pod_scenarios   (ctest does this; CI=true turns every
privilege skip into a failure).
"""

import collections
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podrunner  # noqa: E402
import test_pod_demo  # noqa: E402
from proc import pdeathsig  # noqa: E402
from test_pod_demo import PodCase, record  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LOAD = os.path.join(HERE, "load_client.py")
STREAM_APP = os.path.join(HERE, "stream_app.py")
PROXY_SOURCE = {"127.0.0.6", "::ffff:127.0.0.6"}


def tearDownModule():  # noqa: N802 (unittest naming)
    test_pod_demo.tearDownModule()


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class ScenarioCase(PodCase):
    def setUp(self):
        super().setUp()
        self.log = []

    def injected(self, capture, mode="block", webhook_config=None, edit=None, standin=None,
                 configmaps=None):
        """The example pod with the given annotations, through the webhook, started."""
        wh = self.webhook(webhook_config)
        pod = self.pod(annotations={"sidecar.bulwark.dev/capture-mode": capture,
                                    "sidecar.bulwark.dev/mode": mode})
        if edit:
            edit(pod)
        resp, patched, patch = wh.review(pod)
        self.assertTrue(resp.get("allowed") and patch, resp)
        r = podrunner.PodRunner(patched, self.bin, standin or podrunner.demo_standin,
                                configmaps=configmaps, log=self.log.append)
        self.addCleanup(r.stop)
        r.start()
        proxy = r.procs["bulwark-proxy"]
        with open("/proc/%d/comm" % proxy.pid) as f:
            self.assertEqual(f.read().strip(), "bulwark-proxy", "the container's process")
        return r

    def capture_modes(self):
        """The capture modes the webhook injects: nftables, iptables, and ebpf once it offers
        it (a pod asking for ebpf is then not given another mode)."""
        modes = ["nftables", "iptables"]
        wh = self.webhook()
        _, patched, _ = wh.review(self.pod(annotations={
            "sidecar.bulwark.dev/capture-mode": "ebpf"}))
        status = json.loads(patched["metadata"]["annotations"]["sidecar.bulwark.dev/status"])
        if status.get("capture") == "ebpf":
            modes.append("ebpf")
        return modes

    def client_proc(self, r, args, stdin=False):
        return subprocess.Popen(["ip", "netns", "exec", r.clientns, sys.executable, LOAD] + args,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                text=True, preexec_fn=pdeathsig)

    def finish(self, p, timeout):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.fail("client did not finish in %d s: %s" % (timeout, err[-2000:]))
        self.assertEqual(p.returncode, 0, err[-2000:])
        return json.loads(out)

    def targets(self, r, port=8080):
        return "%s:%d,[%s]:%d" % (r.ip, port, r.ip6, port)

    def app_peers(self, r, app="shop"):
        """Every peer address the app logged a request from."""
        _, err = r.read_output(app)
        peers = collections.Counter()
        for line in err.splitlines():
            m = re.match(r"^(?:shop|stream): ([0-9a-fA-F:.]+) ", line)
            if m:
                peers[m.group(1)] += 1
        return peers

    def rss_kb(self, pid, field="VmRSS"):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0


def judge_served(rows):
    """(served ok, wrong answers, bypasses, failures by outcome) of load_client rows. Served: a
    complete response from the proxy (X-Request-Id), 200 for clean requests, 403 for attacks
    (block mode). A bypass: an answer without the proxy's X-Request-Id, or an attack answered
    200."""
    ok, wrong, bypass, failed = 0, [], [], collections.Counter()
    for start, end, kind, target, outcome, status, proxied in rows:
        if outcome != "ok":
            failed[outcome] += 1
            continue
        if not proxied or (kind == "attack" and status == 200):
            bypass.append((kind, target, status, proxied))
        elif status == (403 if kind == "attack" else 200):
            ok += 1
        else:
            wrong.append((kind, target, status))
    return ok, wrong, bypass, failed


class KillRestartTest(ScenarioCase):
    """bulwark-proxy SIGKILLed while clients send clean requests and attacks (block mode)."""

    LOAD_SECONDS = 3.0
    KILL_AFTER = 1.0

    def test_proxy_sigkill_under_load(self):
        for capture in self.capture_modes():
            with self.subTest(capture=capture):
                self.kill_once(capture)

    def kill_once(self, capture):
        r = self.injected(capture)
        proxy_pid = r.procs["bulwark-proxy"].pid
        start = time.monotonic() + 0.5
        p = self.client_proc(r, ["requests", "--targets", self.targets(r), "--seconds",
                                 str(self.LOAD_SECONDS), "--threads", "4",
                                 "--keepalive-threads", "1", "--interval", "3",
                                 "--attack-every", "4", "--start-at", repr(start),
                                 "--timeout", "2"])
        time.sleep(max(0.0, start + self.KILL_AFTER - time.monotonic()))
        t_kill = time.monotonic()
        os.kill(proxy_pid, signal.SIGKILL)
        res = self.finish(p, self.LOAD_SECONDS + 30)
        rows = res["requests"]
        # the restart the runner (like the kubelet) made
        deadline = time.monotonic() + 5
        while r.restart_count("bulwark-proxy") < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        rec = [x for x in r.restarts if x["container"] == "bulwark-proxy"]
        self.assertEqual(len(rec), 1, rec)
        self.assertEqual(rec[0]["exit_code"], -signal.SIGKILL)
        self.assertIsNotNone(rec[0]["restarted_at"], "not restarted")
        restart_ms = (rec[0]["restarted_at"] - t_kill) * 1000
        new_pid = r.procs["bulwark-proxy"].pid
        self.assertNotEqual(new_pid, proxy_pid)

        before = [x for x in rows if x[1] < t_kill]
        after = [x for x in rows if x[0] >= t_kill]
        served_after = [x for x in after if x[4] == "ok" and x[6]]
        self.assertTrue(served_after, "nothing served after the kill")
        back = min(x[1] for x in served_after)
        gap_ms = (back - t_kill) * 1000
        ok, wrong, bypass, failed = judge_served(rows)
        late_fail = [x for x in rows if x[4] != "ok" and x[0] > back + 0.05]
        early_fail = [x for x in before if x[4] != "ok"]
        peers = self.app_peers(r)
        foreign = {a: n for a, n in peers.items() if a not in PROXY_SOURCE}
        kinds = ", ".join("%d %s" % (n, k) for k, n in sorted(failed.items())) or "none"
        record("%s: proxy SIGKILLed under load -> served again in" % capture, gap_ms <= 1000,
               "%.0f ms (restarted %.0f ms after the kill; %d requests, %d/s)" % (
                   gap_ms, restart_ms, len(rows), len(rows) / self.LOAD_SECONDS))
        record("%s: meanwhile fail-closed, nothing bypasses the proxy" % capture,
               not bypass and not foreign and not wrong and not late_fail and not early_fail,
               "failed: %s; bypassed %d; app saw only %s" % (
                   kinds, len(bypass), ",".join(sorted(peers)) or "-"))
        self.assertEqual(bypass, [], "answered without the proxy")
        self.assertEqual(foreign, {}, "the app saw clients directly")
        self.assertEqual(wrong, [], "wrong status")
        self.assertEqual(early_fail, [], "failures before the kill")
        self.assertEqual(late_fail, [], "failures after the proxy was back")
        self.assertTrue(set(failed) <= {"refused", "reset", "closed"},
                        "not a fail-closed refusal: %s" % failed)
        self.assertGreater(len(before), 20)
        self.assertGreater(len(after), 20)
        self.assertLessEqual(gap_ms, 1000, "traffic came back after %.0f ms" % gap_ms)
        # the restarted proxy still holds UID 101 and NET_BIND_SERVICE at most
        ident = r.identity["bulwark-proxy"]
        self.assertEqual(ident["uid"], 101)
        self.assertLessEqual(set(ident["caps"]), {"NET_BIND_SERVICE"})


class TerminationTest(ScenarioCase):
    """The pod deleted while clients keep connecting through a stale endpoint.

    The webhook is told the cluster is 1.33 (so the proxy gets `preStop: sleep`) with a 2 s
    preStop; the app has its own 6 s preStop (an app that exits at SIGTERM loses requests with
    or without a proxy). Clients go on opening new connections (and two keep-alive ones) for
    the proxy's preStop plus most of its drain window (timeouts.drain_delay_ms, 2 s), as clients
    still using the removed endpoint would: every request must be served. After the window new
    connections are refused (the capture rule stays; nothing reaches the app, which still runs)."""

    PRESTOP = 2
    DRAIN_DELAY = 2.0
    APP_PRESTOP = 6

    def test_sigterm_under_load_zero_failures(self):
        for capture in self.capture_modes():
            with self.subTest(capture=capture):
                self.delete_once(capture)

    def delete_once(self, capture):
        def edit(pod):
            app = pod["spec"]["containers"][0]
            app["lifecycle"] = {"preStop": {"sleep": {"seconds": self.APP_PRESTOP}}}
        r = self.injected(capture, webhook_config={"injection": {
            "kubernetes_version": "1.33", "prestop_seconds": self.PRESTOP}}, edit=edit)
        proxy_c = r.container("bulwark-proxy")
        self.assertEqual(proxy_c["lifecycle"]["preStop"], {"sleep": {"seconds": self.PRESTOP}})
        grace = r.pod["spec"].get("terminationGracePeriodSeconds", 30)
        self.assertGreaterEqual(grace, self.PRESTOP + 25)
        window = self.PRESTOP + self.DRAIN_DELAY - 0.3
        start = time.monotonic() + 0.5
        load = self.client_proc(r, ["requests", "--targets", self.targets(r), "--seconds",
                                    repr(window), "--threads", "4", "--keepalive-threads", "2",
                                    "--interval", "3", "--attack-every", "5", "--start-at",
                                    repr(start), "--timeout", "3"])
        late = self.client_proc(r, ["requests", "--targets", self.targets(r), "--seconds", "0.6",
                                    "--threads", "2", "--interval", "20", "--attack-every", "2",
                                    "--start-from-stdin", "--timeout", "2"], stdin=True)

        mark = len(self.log)

        def late_client():
            # once the proxy has its SIGTERM: clients that come after its drain window
            deadline = time.monotonic() + self.APP_PRESTOP + 5
            while time.monotonic() < deadline and not any(
                    "bulwark-proxy: SIGTERM" in line for line in self.log[mark:]):
                time.sleep(0.01)
            late.stdin.write("%r\n" % (time.monotonic() + self.DRAIN_DELAY + 0.4))
            late.stdin.flush()
        late_thread = threading.Thread(target=late_client)
        late_thread.start()
        probes = []

        def readyz():
            # the kubelet goes on probing a terminating pod; so does this, from the node side
            while time.monotonic() < start + self.APP_PRESTOP:
                res = r.client(["curl", "-s", "-o", "/dev/null", "-m", "1", "-w", "%{http_code}",
                                "http://%s:10246/readyz" % r.ip], check=False, timeout=5)
                probes.append((time.monotonic(), res.stdout.strip()))
                time.sleep(0.1)
        prober = threading.Thread(target=readyz)
        prober.start()
        time.sleep(max(0.0, start - time.monotonic()))
        t_del = time.monotonic()
        timeline = r.terminate()
        prober.join()
        late_thread.join()
        rows = self.finish(load, 30)["requests"]
        late_rows = self.finish(late, 30)["requests"]

        def when(name, what):
            t = [t for t, n, w in timeline if n == name and w.startswith(what)]
            return t[0] if t else None
        t_term = when("bulwark-proxy", "SIGTERM")
        t_exit = when("bulwark-proxy", "exited")
        t_app_exit = when("shop", "exited")
        self.assertIsNotNone(t_term, timeline)
        self.assertIsNotNone(t_exit, timeline)
        self.assertIn(("bulwark-proxy", "exited code 0"),
                      [(n, w) for _, n, w in timeline if n == "bulwark-proxy"])
        ok, wrong, bypass, failed = judge_served(rows)
        in_drain = [x for x in rows if x[0] - t_del >= t_term and x[4] == "ok"]
        not_ready = [t - t_del for t, code in probes if code == "503"]
        ready_before = [t - t_del for t, code in probes if code == "200" and t - t_del < t_term]
        late_ok, _, late_bypass, late_failed = judge_served(late_rows)
        peers = self.app_peers(r)
        foreign = {a: n for a, n in peers.items() if a not in PROXY_SOURCE}
        record("%s: pod deleted under load (preStop %d s + drain) -> failed requests"
               % (capture, self.PRESTOP), not failed and not wrong and not bypass,
               "%d of %d (%d served in the drain window while /readyz 503; SIGTERM at %.2f s, "
               "proxy exit 0 at %.2f s)" % (sum(failed.values()) + len(wrong), len(rows),
                                            len(in_drain), t_term, t_exit))
        record("%s: after the drain window -> refused, never the app directly" % capture,
               not late_ok and not late_bypass and set(late_failed) <= {"refused"}
               and not foreign,
               "%s of %d; app (exit at %.2f s) saw only %s" % (
                   ",".join("%d %s" % (n, k) for k, n in late_failed.items()) or "-",
                   len(late_rows), t_app_exit or -1, ",".join(sorted(peers))))
        self.assertEqual(dict(failed), {}, "failed requests during preStop + drain window")
        self.assertEqual(wrong, [])
        self.assertEqual(bypass, [])
        self.assertGreater(len(rows), 100)
        self.assertGreater(len(in_drain), 20, "too few requests in the drain window")
        self.assertTrue(ready_before, "no /readyz 200 before SIGTERM: %s" % probes)
        self.assertTrue(not_ready and min(not_ready) >= t_term - 0.05,
                        "/readyz did not turn 503 after SIGTERM: %s" % probes)
        self.assertGreaterEqual(t_term, self.PRESTOP - 0.05, "SIGTERM before the preStop ended")
        self.assertGreaterEqual(t_exit, t_term + self.DRAIN_DELAY - 0.2,
                                "the proxy left before its drain window")
        self.assertGreater(len(late_rows), 5)
        self.assertEqual(late_ok, 0)
        self.assertEqual(late_bypass, [])
        self.assertEqual(set(late_failed), {"refused"}, late_failed)
        self.assertEqual(foreign, {}, "the app saw clients directly")
        self.assertIsNotNone(t_app_exit)
        self.assertGreater(t_app_exit, t_exit, "the app must outlive the window here")


class NativeSidecarTerminationTest(ScenarioCase):
    """The same deletion with the proxy injected as a native sidecar (Kubernetes 1.29+): the
    kubelet runs both preStop hooks at once but sends the sidecar SIGTERM only after the app
    has exited, so the proxy outlives the app. Clients for the app's preStop (3 s) are all
    served; what clients see between the app's exit and the proxy's is printed."""

    PRESTOP = 2
    APP_PRESTOP = 3

    def test_native_sidecar_deletion_order(self):
        def edit(pod):
            app = pod["spec"]["containers"][0]
            app["lifecycle"] = {"preStop": {"sleep": {"seconds": self.APP_PRESTOP}}}
        r = self.injected("nftables", webhook_config={"injection": {
            "kubernetes_version": "1.33", "prestop_seconds": self.PRESTOP,
            "native_sidecar": True}}, edit=edit)
        sidecars = [c["name"] for c in r.pod["spec"].get("initContainers") or []
                    if c.get("restartPolicy") == "Always"]
        self.assertIn("bulwark-proxy", sidecars)
        start = time.monotonic() + 0.5
        load = self.client_proc(r, ["requests", "--targets", self.targets(r), "--seconds",
                                    repr(self.APP_PRESTOP - 0.3), "--threads", "4",
                                    "--keepalive-threads", "1", "--interval", "3",
                                    "--attack-every", "5", "--start-at", repr(start),
                                    "--timeout", "3"])
        after = self.client_proc(r, ["requests", "--targets", self.targets(r), "--seconds",
                                     "1.0", "--threads", "2", "--interval", "20",
                                     "--start-at", repr(start + self.APP_PRESTOP + 0.4),
                                     "--timeout", "2"])
        time.sleep(max(0.0, start - time.monotonic()))
        timeline = r.terminate()
        rows = self.finish(load, 30)["requests"]
        gap_rows = self.finish(after, 30)["requests"]

        def when(name, what):
            t = [t for t, n, w in timeline if n == name and w.startswith(what)]
            return t[0] if t else None
        app_exit = when("shop", "exited")
        proxy_hook = when("bulwark-proxy", "preStop done")
        proxy_term = when("bulwark-proxy", "SIGTERM")
        proxy_exit = when("bulwark-proxy", "exited")
        ok, wrong, bypass, failed = judge_served(rows)
        seen = collections.Counter(str(x[5]) if x[4] == "ok" else x[4] for x in gap_rows)
        order = None not in (app_exit, proxy_term, proxy_exit, proxy_hook) and \
            proxy_hook < app_exit <= proxy_term < proxy_exit
        record("native sidecar: deleted under load -> failed requests, order", not failed
               and not wrong and not bypass and order,
               "%d of %d; proxy preStop done %.2f s, app exit %.2f s, proxy SIGTERM %.2f s, "
               "exit %.2f s" % (sum(failed.values()) + len(wrong), len(rows), proxy_hook or -1,
                                app_exit or -1, proxy_term or -1, proxy_exit or -1))
        record("native sidecar: app gone, proxy draining -> clients see", True,
               ", ".join("%d %s" % (n, k) for k, n in sorted(seen.items())) or "-")
        self.assertTrue(order, timeline)
        self.assertEqual(dict(failed), {})
        self.assertEqual(wrong, [])
        self.assertEqual(bypass, [])
        self.assertGreater(len(rows), 50)
        self.assertIn(("bulwark-proxy", "exited code 0"),
                      [(n, w) for _, n, w in timeline if n == "bulwark-proxy"])


def nginx_app(conf_dir, run_dir):
    """The app as nginx (the proxy, not the app, is what is measured), configured from a
    ConfigMap volume, writing only to an emptyDir."""
    conf = """worker_processes 1;
daemon off;
master_process off;
pid %(run)s/nginx.pid;
error_log stderr warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; multi_accept on; }
http {
    access_log off;
    client_body_temp_path %(run)s/body;
    proxy_temp_path %(run)s/proxy;
    fastcgi_temp_path %(run)s/fastcgi;
    uwsgi_temp_path %(run)s/uwsgi;
    scgi_temp_path %(run)s/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    server {
        listen 8080 backlog=4096;
        listen [::]:8080 backlog=4096;
        default_type text/plain;
        location / { return 200 "hello\\n"; }
    }
}
""" % {"run": run_dir}

    def edit(pod):
        spec = pod["spec"]
        spec.setdefault("volumes", []).extend([
            {"name": "shop-nginx-conf", "configMap": {"name": "shop-nginx"}},
            {"name": "shop-nginx-run", "emptyDir": {}}])
        spec["containers"][0].setdefault("volumeMounts", []).extend([
            {"name": "shop-nginx-conf", "mountPath": conf_dir, "readOnly": True},
            {"name": "shop-nginx-run", "mountPath": run_dir}])

    def standin(c):
        if c["name"] != "shop":
            return podrunner.demo_standin(c)
        return ([shutil.which("nginx") or "/usr/sbin/nginx", "-e", "stderr", "-c",
                 conf_dir + "/nginx.conf", "-p", run_dir],
                "nginx (config from ConfigMap shop-nginx)")
    return edit, standin, {"shop-nginx": {"nginx.conf": conf}}


class IdleConnectionsTest(ScenarioCase):
    """10,000 idle keep-alive client connections held through the captured pod (one request
    each, then silence) while wrk measures rps on 16 other connections; the app is nginx so
    that the proxy weighs. Two identical pods run side by side, one holding the idle
    connections, and wrk runs alternate between them (while one is measured the other's proxy
    is stopped with SIGSTOP; its connections stay open in the kernel): the drop is the median
    of the paired ratios. The rps goal (<= 10 %) is judged with BULWARK_E2E_RPS_STRICT=1, on a
    machine of its own; on a shared one wall-clock rps moves more than that between two
    seconds, so there the test judges that every connection is held, wrk sees no error and
    the proxy's requests per CPU-second stay within a guard against gross regressions. The
    proxy's memory per idle connection and its CPU while they idle are printed."""

    PAIRS = 5

    def cpu_s(self, pid):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))

    def wrk(self, r, seconds):
        """(rps, requests per proxy CPU-second, requests per CPU-second of the whole path:
        wrk + proxy + app, the kernel's work in their contexts included)"""
        pid, app = r.procs["bulwark-proxy"].pid, r.procs["shop"].pid

        def children():
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            return ru.ru_utime + ru.ru_stime
        c0, a0, w0 = self.cpu_s(pid), self.cpu_s(app), children()
        res = r.client(["wrk", "-t1", "-c16", "-d%ds" % seconds, "http://%s:8080/" % r.ip],
                       check=False, timeout=seconds + 30)
        cpu = self.cpu_s(pid) - c0
        path = cpu + self.cpu_s(app) - a0 + children() - w0
        m = re.search(r"Requests/sec:\s+([\d.]+)", res.stdout)
        n = re.search(r"(\d+) requests in", res.stdout)
        self.assertTrue(m and n, res.stdout + res.stderr)
        self.assertNotIn("Non-2xx", res.stdout)
        self.assertNotIn("Socket errors", res.stdout)
        n = int(n.group(1))
        return float(m.group(1)), n / max(cpu, 0.01), n / max(path, 0.01)

    def alone(self, measured, stopped, seconds):
        pid = stopped.procs["bulwark-proxy"].pid
        os.kill(pid, signal.SIGSTOP)
        try:
            return self.wrk(measured, seconds)
        finally:
            os.kill(pid, signal.SIGCONT)

    # What the proxy's requests per CPU-second may lose while the connections are held, as a
    # guard against gross regressions (a cost per held connection on every request would
    # show as several times this); measured here 10-23 %, see docs/e2e.md.
    MAX_PROXY_COST_DROP = 35.0

    def test_idle_connections_held(self):
        if shutil.which("nginx") is None or shutil.which("wrk") is None:
            msg = "needs nginx and wrk (scripts/deps.sh installs them)"
            if os.environ.get("CI") == "true":
                self.fail(msg)
            self.skipTest(msg)
        count = env_int("BULWARK_E2E_IDLE_CONNS", 10000)
        secs = env_int("BULWARK_E2E_RPS_SECONDS", 2)
        # The proxy's default connection cap is half its open-file limit; a container runtime
        # gives 524288, but where this runner may not raise its own limit (no CAP_SYS_RESOURCE)
        # the cap is set in the policy ConfigMap, as an operator would, and the row says so.
        hard = podrunner.container_nofile()[1]
        capped, policy = "", None
        if hard // 2 - 128 < count + 100:
            self.assertGreater(hard, count + 1000, "open-file limit %d too low for %d "
                               "connections" % (hard, count))
            policy = {"bulwark.json": json.dumps({"limits": {"max_connections": count + 500}})}
            capped = "; max_connections %d from the policy (open-file limit here %d)" % (
                count + 500, hard)
        pods = []
        for _ in range(2):
            edit, standin, cms = nginx_app("/etc/shop-nginx", "/run/shop-nginx")
            if policy:
                cms["bulwark-policy"] = policy
            pods.append(self.injected("nftables", edit=edit, standin=standin, configmaps=cms))
        plain, held = pods
        pid = held.procs["bulwark-proxy"].pid
        self.alone(plain, held, 1)  # warm-up
        self.alone(held, plain, 1)
        rss0 = self.rss_kb(pid)
        idle = self.client_proc(held, ["idle", "--target", "%s:8080" % held.ip, "--count",
                                       str(count), "--lifetime", "120"], stdin=True)
        self.addCleanup(idle.kill)
        line = idle.stdout.readline()
        self.assertTrue(line.startswith("ready "), line or idle.stderr.read()[-2000:])
        opened = json.loads(line[6:])
        self.assertEqual(opened["open"], count, opened)
        active = podrunner._metric_sum(podrunner._metrics(held), "bulwark_connections_active")
        rss1 = self.rss_kb(pid)
        c0 = self.cpu_s(pid)
        time.sleep(1.0)
        idle_cpu_ms = (self.cpu_s(pid) - c0) * 1000
        base, loaded = [], []
        for _ in range(self.PAIRS):
            base.append(self.alone(plain, held, secs))
            loaded.append(self.alone(held, plain, secs))
        idle.stdin.write("check\n")
        idle.stdin.flush()
        still = json.loads(idle.stdout.readline()[5:])["open"]
        idle.stdin.write("close\n")
        idle.stdin.flush()
        idle.wait(30)

        def median(xs):
            xs = sorted(xs)
            return (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2.0
        ratio = median([l_[0] / b[0] for b, l_ in zip(base, loaded)])
        drop = (1 - ratio) * 100
        b_rps, l_rps = median([x[0] for x in base]), median([x[0] for x in loaded])
        b_cap, l_cap = median([x[1] for x in base]), median([x[1] for x in loaded])
        path_ratio = median([l_[2] / b[2] for b, l_ in zip(base, loaded)])
        cap_ratio = median([l_[1] / b[1] for b, l_ in zip(base, loaded)])
        per_conn = (rss1 - rss0) * 1024.0 / count
        strict = os.environ.get("BULWARK_E2E_RPS_STRICT") == "1"
        proxy_drop = (1 - cap_ratio) * 100
        ok = still == count and active >= count and (drop <= 10 or not strict) and \
            proxy_drop <= self.MAX_PROXY_COST_DROP
        record("%d idle connections held -> wrk rps drop%s" % (
                   count, "" if strict else " (wall clock, shared machine)"), ok,
               "%.1f %% (median %.0f -> %.0f rps; %d paired %d s runs; %d held at the end%s)" % (
                   drop, b_rps, l_rps, self.PAIRS, secs, still, capped))
        record("%d idle connections held -> proxy requests per CPU-second" % count,
               proxy_drop <= self.MAX_PROXY_COST_DROP,
               "%.0f -> %.0f (paired drop %.1f %%, guard %.0f %%); whole path per CPU-second "
               "%.1f %%" % (b_cap, l_cap, proxy_drop, self.MAX_PROXY_COST_DROP,
                            (1 - path_ratio) * 100))

        record("%d idle connections held -> proxy memory and idle CPU" % count, True,
               "RSS +%.1f MiB (%.0f B each), %.0f ms CPU in 1 s idle" % (
                   (rss1 - rss0) / 1024.0, per_conn, idle_cpu_ms))
        self.assertGreaterEqual(active, count, "the proxy does not hold them all")
        self.assertEqual(still, count, "idle connections were closed during the measurement")
        self.assertLessEqual(proxy_drop, self.MAX_PROXY_COST_DROP, "proxy requests per "
                             "CPU-second: %s without, %s with" % ([round(x[1]) for x in base],
                                                                 [round(x[1]) for x in loaded]))
        # The goal, rps drop <= 10 %, is judged on a machine of its own: on a shared one the
        # neighbours move wall-clock rps by more than that between two seconds.
        if strict:
            self.assertLessEqual(drop, 10.0, "rps %s without, %s with %d idle connections" % (
                [round(x[0]) for x in base], [round(x[0]) for x in loaded], count))


class UploadTest(ScenarioCase):
    """A 1 GiB request body (pseudo-random bytes, application/octet-stream) through the captured
    pod to an app that hashes it as it arrives; the proxy's RSS is sampled throughout. The pod
    runs in the default mode, monitoring: the body is inspected (its first
    policy.inspect_body_bytes) and streamed on."""

    def stream_standin(self, c):
        if c["name"] != "shop":
            return podrunner.demo_standin(c)
        return ([sys.executable, "-B", STREAM_APP, "--port", "8080"],
                "tests/e2e/stream_app.py (hashes request bodies as they arrive)")

    def upload(self, r, size, timeout):
        p = self.client_proc(r, ["upload", "--target", "%s:8080" % r.ip, "--bytes", str(size),
                                 "--timeout", "30"])
        return self.finish(p, timeout)

    def test_upload_intact_streamed(self):
        size = env_int("BULWARK_E2E_UPLOAD_MB", 1024) << 20
        r = self.injected("nftables", mode="monitoring", standin=self.stream_standin)
        pid = r.procs["bulwark-proxy"].pid
        rss0, hwm0 = self.rss_kb(pid), self.rss_kb(pid, "VmHWM")
        samples, done = [], threading.Event()

        def sample():
            while not done.is_set():
                samples.append(self.rss_kb(pid))
                done.wait(0.02)
        t = threading.Thread(target=sample)
        t.start()
        limit = max(120, size >> 23)  # at least 8 MiB/s
        try:
            res = self.upload(r, size, limit)
        finally:
            done.set()
            t.join()
        peak = max(samples + [self.rss_kb(pid)])
        hwm1 = self.rss_kb(pid, "VmHWM")
        app = res.get("response") or {}
        if not isinstance(app, dict):
            app = {"text": app}
        mib = size / float(1 << 20)
        events = [e for e in podrunner.events_of(r) if e.get("path") == "/upload"]
        intact = (res["outcome"] == "ok" and res["status"] == 200 and app.get("bytes") == size
                  and app.get("sha256") == res["sha256"])
        record("%d MiB upload via capture + proxy -> app checksum" % mib, intact,
               "%s, %.1f s (%.0f MiB/s), sha256 %s..., %d attack event(s)" % (
                   "intact" if intact else "DIFFERENT (%s %s %s)" % (
                       res["outcome"], res["status"], str(app)[:80]),
                   res["seconds"], mib / max(res["seconds"], 0.001), res["sha256"][:12],
                   len(events)))
        grew = (peak - rss0) / 1024.0
        record("%d MiB upload: proxy RSS peak" % mib, grew <= 64,
               "%.1f MiB (before %.1f MiB, +%.1f MiB; VmHWM %.1f -> %.1f MiB; %d samples)" % (
                   peak / 1024.0, rss0 / 1024.0, grew, hwm0 / 1024.0, hwm1 / 1024.0,
                   len(samples)))
        self.assertEqual(res["outcome"], "ok", res)
        self.assertEqual(res["status"], 200, res)
        self.assertEqual(res["sent"], size)
        self.assertEqual(app.get("bytes"), size, app)
        self.assertEqual(app.get("sha256"), res["sha256"], "the body changed on the way")
        self.assertIn(app.get("peer"), PROXY_SOURCE, "not through the proxy")
        self.assertTrue(app.get("request_id"), "no X-Request-Id: not through the proxy")
        self.assertLessEqual(grew, 64, "the proxy's RSS grew by %.1f MiB: buffered?" % grew)
        self.assertLessEqual(res["seconds"], limit)

    def test_binary_upload_not_blocked(self):
        """A pseudo-random octet-stream body in block mode is binary data, not an attack
        language: it passes intact (only the text runs inside it are inspected)."""
        r = self.injected("nftables", mode="block", standin=self.stream_standin)
        size = 8 << 20
        res = self.upload(r, size, 60)
        events = [e for e in podrunner.events_of(r) if e.get("path") == "/upload"]
        rules = sorted({i for e in events for i in e.get("rule_ids", [])})
        record("block: 8 MiB random octet-stream upload not blocked",
               res["status"] == 200, "status %s, rules %s" % (
                   res["status"] or res["outcome"], ",".join(map(str, rules)) or "-"))
        self.assertEqual(res["status"], 200, "blocked by rules %s" % rules)
        self.assertEqual((res.get("response") or {}).get("bytes"), size)


class RunnerModelTest(unittest.TestCase):
    """The runner's kubelet rules that need no pod: which containers are restarted, and the
    back-off between restarts."""

    def runner(self, policy=None, native=False):
        spec = {"containers": [{"name": "app"}, {"name": "bulwark-proxy"}]}
        if native:
            spec["initContainers"] = [{"name": "bulwark-init"},
                                      {"name": "bulwark-proxy", "restartPolicy": "Always"}]
            spec["containers"] = [{"name": "app"}]
        if policy:
            spec["restartPolicy"] = policy
        return podrunner.PodRunner({"metadata": {"name": "p"}, "spec": spec}, "/nonexistent",
                                   podrunner.demo_standin, log=lambda s: None)

    def test_restart_policies(self):
        self.assertEqual(self.runner()._restartable(), {"app": True, "bulwark-proxy": True})
        self.assertEqual(self.runner("OnFailure")._restartable(),
                         {"app": False, "bulwark-proxy": False})
        self.assertEqual(self.runner("Never")._restartable(), {})
        # a native sidecar is restarted whatever the pod's policy; a plain init container never
        self.assertEqual(self.runner("Never", native=True)._restartable(),
                         {"bulwark-proxy": True})

    def test_backoff(self):
        r = self.runner()
        now = 1000.0
        waits = []
        for _ in range(8):
            w = r._backoff("app", now)
            waits.append(w)
            now += w
            r.restarts.append({"container": "app", "exit_code": 1, "exited_at": now,
                               "restarted_at": now})
            now += 1
        self.assertEqual(waits, [0, 10, 20, 40, 80, 160, 300, 300])
        self.assertEqual(r._backoff("bulwark-proxy", now), 0)  # per container
        self.assertEqual(r._backoff("app", now + 601), 0)  # forgotten after 10 minutes
        self.assertEqual(r.restart_count("app"), 8)


if __name__ == "__main__":
    unittest.main()

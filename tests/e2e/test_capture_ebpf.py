#!/usr/bin/env python3
"""eBPF (sk_lookup) capture on the real kernel: every scenario of the netfilter modes (the
shared CaptureCase in test_capture.py), plus what only this mode has: the privileged holder
(`bulwark-init hold`) and the proxy's socket hand-off, the TIME_WAIT case under
`Connection: close` load, proxy and holder restarts, fail-open and fail-closed.

The classes are built on test_capture.CaptureCase (make_ebpf_cases); run them as
test_capture.EbpfTest / test_capture.EbpfFailOpenTest.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import shutil
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
from netns import CLIENT_V4, CLIENT_V6, POD_V4, POD_V6  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
APP_PORT = 8080
PROXY_PORT = 26001


def holder_call(path, request, timeout=5.0):
    """One JSON request to the holder's Unix socket (SOCK_SEQPACKET), its JSON answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.send(json.dumps(request).encode())
        return json.loads(s.recv(65536).decode())
    finally:
        s.close()


def make_ebpf_cases(base):
    class EbpfCase(base):
        MODE = "ebpf"
        FAIL_FLAG = "--fail-closed"

        # -- fixture ---------------------------------------------------------------------------
        def setUp(self):
            netns.require_privilege(self, ["ip", "curl", "nft", "bpftool"])
            self.run_dir = tempfile.mkdtemp(prefix="bw-run-")
            self.addCleanup(shutil.rmtree, self.run_dir, True)
            super().setUp()
            self.holder = self.start_holder()
            # The holder attaches at start; the shared lifecycle begins with nothing captured.
            self.init("cleanup")

        def start_holder(self, prefix=()):
            p = self.pod.spawn(list(prefix) + [self.init_bin, "hold", "--mode", "ebpf", "--app-port",
                                str(APP_PORT), "--pod-ip", POD_V4, "--pod-ip", POD_V6,
                                "--run-dir", self.run_dir, self.FAIL_FLAG, "--log-level", "warn"])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if os.path.exists(self.control_sock()) and self.status(check=False):
                    return p
                if p.poll() is not None:
                    self.fail("holder exited: %s" % p.stderr.read()[-2000:])
                time.sleep(0.02)
            self.fail("holder did not start")

        def proxy_extra_args(self):
            return ["--ebpf-handoff", os.path.join(self.run_dir, "steer.sock")]

        def init_extra_args(self):
            return ["--run-dir", self.run_dir, self.FAIL_FLAG]

        def init(self, command, *extra, check=True):
            res, doc = super().init(command, *extra, check=check)
            if command == "apply" and res.returncode == 0:
                # A (re-)attach asks the connected proxy for its sockets again ("resend").
                deadline = time.monotonic() + 2
                while self.status()["listeners"] != {"ipv4": True, "ipv6": True}:
                    self.assertLess(time.monotonic(), deadline,
                                    "the proxy's sockets did not arrive within 2 s of apply")
                    time.sleep(0.005)
            return res, doc

        def control_sock(self):
            return os.path.join(self.run_dir, "control.sock")

        def status(self, check=True):
            try:
                return holder_call(self.control_sock(), {"op": "status"})
            except OSError:
                if check:
                    raise
                return None

        # -- what the kernel shows -------------------------------------------------------------
        def netns_inode(self):
            return os.stat("/run/netns/%s" % self.pod.name).st_ino

        def sk_lookup_links(self):
            out = netns.run(["bpftool", "-j", "link", "show"]).stdout
            ino = self.netns_inode()
            return sorted(l["id"] for l in json.loads(out or "[]")
                          if l.get("attach_type") == "sk_lookup" and l.get("netns_ino") == ino)

        def add_others_rules(self):
            rules = ("table inet other {\n chain pre {\n  type nat hook prerouting priority -50;\n"
                     "  tcp dport 9999 redirect to :9 comment \"someone else\"\n }\n}\n")
            self.pod.run(["nft", "-f", "-"], input=rules)

        def snapshot(self):
            return self.pod.run(["nft", "list", "ruleset"]).stdout

        def ours(self):
            st = self.status()
            return {"links": self.sk_lookup_links(),
                    "config": st.get("config") if st.get("attached") else None,
                    "prog_tag": st.get("prog_tag") if st.get("attached") else None}

        def empty_ours(self):
            return {"links": [], "config": None, "prog_tag": None}

        def drift(self):
            # Someone deletes the app port from the program's port map.
            st = self.status()
            prog = json.loads(netns.run(["bpftool", "-j", "prog", "show", "id",
                                         str(st["prog_id"])]).stdout)
            maps = json.loads(netns.run(["bpftool", "-j", "map", "show"]).stdout)
            ids = [m["id"] for m in maps if m["id"] in prog["map_ids"] and m["name"] == "bw_ports"]
            self.assertEqual(len(ids), 1, maps)
            key = [hex(APP_PORT & 0xff), hex(APP_PORT >> 8)]  # __u16, little-endian host
            netns.run(["bpftool", "map", "delete", "id", str(ids[0]), "key"] + key)

        # -- helpers ---------------------------------------------------------------------------
        def counters(self):
            return self.status()["counters"]

        def wait_steered(self, host, client, timeout):
            """Seconds until a request to host:APP_PORT goes through the proxy."""
            start = time.monotonic()
            while time.monotonic() - start < timeout:
                res = self.net.client.run(["curl", "-sS", "-m", "1", "http://%s:%d/echo"
                                           % ("[%s]" % host if ":" in host else host, APP_PORT)],
                                          check=False)
                if res.returncode == 0:
                    try:
                        body = json.loads(res.stdout)
                    except ValueError:
                        body = {}
                    if body.get("peer") == "127.0.0.6" and \
                            body.get("headers", {}).get("x-forwarded-for") == client:
                        return time.monotonic() - start
                time.sleep(0.01)
            self.fail("not steered through the proxy within %.1f s" % timeout)

        def kill_proxy(self):
            self.proxy.kill()
            self.proxy.communicate(timeout=5)

        def restart_proxy(self):
            self.proxy = self.start_proxy()

        def assert_no_bpf_pins(self):
            if os.path.isdir("/sys/fs/bpf"):
                for root, dirs, files in os.walk("/sys/fs/bpf"):
                    for n in dirs + files:
                        self.assertNotIn("bulwark", n)
                        self.assertFalse(n.startswith("bw_"), os.path.join(root, n))

        # -- behaviour of this mode ------------------------------------------------------------
        def test_metrics_and_status(self):
            self.init("apply")
            self.assert_through_proxy(POD_V4, CLIENT_V4)
            st = self.status()
            self.assertTrue(st["attached"])
            self.assertEqual(st["listeners"], {"ipv4": True, "ipv6": True}, st)
            self.assertRegex(st["prog_tag"], r"^[0-9a-f]{16}$")
            self.assertGreaterEqual(st["counters"]["steered"], 1)
            res = self.pod.run(["curl", "-sS", "-m", "5", "http://127.0.0.1:10246/metrics"])
            self.assertRegex(res.stdout, r'bulwark_ebpf_lookups_total\{reason="steered"\} [1-9]')
            self.assertIn('bulwark_ebpf_listener{family="ipv6"} 1', res.stdout)
            self.assert_no_bpf_pins()
            # cleanup leaves nothing: no link, and the program and its maps are released (the
            # proxy is told to drop its link reference too).
            prog = json.loads(netns.run(["bpftool", "-j", "prog", "show", "id",
                                         str(st["prog_id"])]).stdout)
            self.init("cleanup")
            self.assertEqual(self.sk_lookup_links(), [])
            objects = [("prog", st["prog_id"])] + [("map", m) for m in prog["map_ids"]]
            deadline = time.monotonic() + 2
            while True:
                left = [(kind, i) for kind, i in objects
                        if netns.run(["bpftool", kind, "show", "id", str(i)],
                                     check=False).returncode == 0]
                if not left:
                    break
                self.assertLess(time.monotonic(), deadline, "left after cleanup: %s" % left)
                time.sleep(0.02)
            self.assert_no_bpf_pins()

        def test_fail_policy_while_the_proxy_is_down(self):
            self.init("apply")
            self.assert_through_proxy(POD_V4, CLIENT_V4)
            self.kill_proxy()
            deadline = time.monotonic() + 5
            while self.status()["listeners"]["ipv4"] and time.monotonic() < deadline:
                time.sleep(0.01)
            self.assertFalse(self.status()["listeners"]["ipv4"],
                             "a dead proxy's socket must leave the map by itself")
            for host, client in ((POD_V4, CLIENT_V4), (POD_V6, CLIENT_V6)):
                url = "http://%s:%d/echo" % ("[%s]" % host if ":" in host else host, APP_PORT)
                res = self.net.client.run(["curl", "-sS", "-m", "3", url], check=False)
                if self.FAIL_FLAG == "--fail-closed":
                    self.assertEqual(res.returncode, 7,
                                     "fail-closed: the client must be refused: %s %s"
                                     % (res.stdout, res.stderr))
                else:
                    self.assertEqual(res.returncode, 0, res.stderr)
                    body = json.loads(res.stdout)
                    self.assertEqual(body["peer"], client,
                                     "fail-open: straight to the app: %s" % body)
            key = "no_listener_drop" if self.FAIL_FLAG == "--fail-closed" else "no_listener_pass"
            self.assertGreaterEqual(self.counters()[key], 2)
            self.restart_proxy()
            took = self.wait_steered(POD_V4, CLIENT_V4, 5.0)
            sys.stderr.write("\n[%s] steered again %.3f s after the proxy restart\n"
                             % (self.id(), took))
            self.assertLess(took, 1.0, "proxy restart -> steered again within 1 s")
            self.wait_steered(POD_V6, CLIENT_V6, 1.0)

    class EbpfTest(EbpfCase):
        FAIL_FLAG = "--fail-closed"

        def test_time_wait_connection_close_load(self):
            """20,000 Connection: close requests over 1,000 client ports: the client reuses
            4-tuples the pod still holds in TIME_WAIT; every request must reach the proxy."""
            self.init("apply")
            self.net.client.sh("sysctl -qw net.ipv4.ip_local_port_range='50000 50999'")
            before = self.requests_total()
            steered_before = self.counters()["steered"]
            total = 20000
            res = self.net.client.run([sys.executable, os.path.join(HERE, "close_client.py"),
                                       POD_V4, str(APP_PORT), str(total), "32"], timeout=300)
            out = json.loads(res.stdout)
            sys.stderr.write("\n[%s] %d Connection: close requests in %.1f s\n"
                             % (self.id(), total, out["seconds"]))
            tw = self.pod.run(["sh", "-c", "ss -Htan state time-wait | wc -l"]).stdout.strip()
            sys.stderr.write("[%s] TIME_WAIT entries in the pod after the run: %s\n"
                             % (self.id(), tw))
            self.assertEqual(out["failed"], 0, out)
            self.assertEqual(out["ok"], total, out)
            seen = self.requests_total() - before
            self.assertEqual(seen, total, "the proxy must see every request (saw %d)" % seen)
            self.assertEqual(self.counters()["steered"] - steered_before, total)
            # 20,000 connections over 1,000 client ports: each 4-tuple was reused ~20 times
            # while the pod (the closing side) held it in TIME_WAIT.
            self.assertGreater(int(tw), 100, "the pod must hold TIME_WAIT entries")

        def test_holder_killed_steering_continues_and_restart_restores(self):
            self.init("apply")
            self.assert_through_proxy(POD_V4, CLIENT_V4)
            old_links = self.sk_lookup_links()
            self.assertEqual(len(old_links), 1)
            self.holder.send_signal(signal.SIGKILL)
            self.holder.communicate(timeout=5)
            # Documented: the proxy holds a reference to the link, so steering goes on.
            self.assert_through_proxy(POD_V4, CLIENT_V4)
            self.assert_through_proxy(POD_V6, CLIENT_V6)
            self.assertEqual(self.sk_lookup_links(), old_links)
            self.holder = self.start_holder()
            # The proxy reconnects (backoff <= 2 s), hands its sockets over and drops the old
            # link: exactly one program, the new holder's, stays attached.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                st = self.status()
                links = self.sk_lookup_links()
                if st["listeners"] == {"ipv4": True, "ipv6": True} and len(links) == 1 \
                        and links != old_links:
                    break
                time.sleep(0.05)
            self.assertEqual(self.status()["listeners"], {"ipv4": True, "ipv6": True})
            self.assertEqual(len(self.sk_lookup_links()), 1, self.sk_lookup_links())
            self.assertNotEqual(self.sk_lookup_links(), old_links)
            self.assert_through_proxy(POD_V4, CLIENT_V4)
            self.assert_through_proxy(POD_V6, CLIENT_V6)
            self.init("verify")

        def test_never_steered_the_proxys_own_and_the_pods_own_connections(self):
            self.init("apply")
            c0 = self.counters()
            self.assert_through_proxy(POD_V4, CLIENT_V4)
            c1 = self.counters()
            self.assertEqual(c1["steered"] - c0["steered"], 1, c1)
            # The proxy's connections to the app (from 127.0.0.6) are lookups for the app port
            # too; they must be left alone, to 127.0.0.1 and to the pod address alike.
            for host in ("127.0.0.1", POD_V4):
                res = self.pod.run(["curl", "-sS", "-m", "5", "--interface", "127.0.0.6",
                                    "http://%s:%d/echo" % (host, APP_PORT)])
                body = json.loads(res.stdout)
                self.assertEqual(body["peer"], "127.0.0.6", body)
                self.assertNotIn("x-forwarded-for", body["headers"])
            c15 = self.counters()
            self.assertEqual(c15["loopback"] - c1["loopback"], 2, c15)
            self.assertEqual(c15["steered"], c1["steered"])
            c1 = c15
            # The pod connecting to its own address: direct.
            for host in (POD_V4, POD_V6):
                code, body = self.get(host, ns=self.pod)
                self.assertEqual(code, 200, body)
                self.assertEqual(body["peer"], host, body)
                self.assertNotIn("x-forwarded-for", body["headers"])
            c2 = self.counters()
            self.assertEqual(c2["pod_itself"] - c1["pod_itself"], 2, c2)
            self.assertEqual(c2["steered"], c1["steered"])

        def test_client_address_is_what_the_proxy_logs(self):
            code, _ = self.get("127.0.0.1", path="/etc/passwd", port=PROXY_PORT, ns=self.pod)
            if code != 403:
                self.skipTest("this bulwark-proxy does not block GET /etc/passwd (got %d)" % code)
            self.init("apply")
            for host in (POD_V4, POD_V6):
                code, _ = self.get(host, path="/etc/passwd")
                self.assertEqual(code, 403)
            self.proxy.terminate()
            out, _ = self.proxy.communicate(timeout=10)
            clients = [json.loads(l).get("client") for l in out.splitlines()
                       if l.startswith("{") and '"attack"' in l]
            self.assertIn(CLIENT_V4, clients, out[-2000:])
            self.assertIn(CLIENT_V6, clients, out[-2000:])

        def test_auto_picks_ebpf_with_a_holder_else_nftables(self):
            def auto(command):
                res = self.pod.run([self.init_bin, command, "--mode", "auto", "--app-port",
                                    str(APP_PORT), "--pod-ip", POD_V4, "--pod-ip", POD_V6,
                                    "--run-dir", self.run_dir, "--json", "--log-level", "warn"],
                                   check=False)
                self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
                return json.loads(res.stdout)

            doc = auto("apply")
            self.assertEqual(doc["mode"], "ebpf", doc)
            self.assertIn("holder answers", doc["why"])
            deadline = time.monotonic() + 2
            while self.status()["listeners"] != {"ipv4": True, "ipv6": True}:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.01)
            self.assert_through_proxy(POD_V4, CLIENT_V4)
            doc = auto("cleanup")
            self.assertTrue(doc["changed"], doc)
            self.assertEqual(self.sk_lookup_links(), [])
            self.holder.terminate()
            self.holder.communicate(timeout=5)
            doc = auto("apply")
            self.assertEqual(doc["mode"], "nftables", doc)
            self.assertIn("no eBPF holder", doc["why"])
            self.assert_through_proxy(POD_V6, CLIENT_V6)
            auto("cleanup")
            self.assertNotIn("table inet bulwark", self.pod.run(["nft", "list", "tables"]).stdout)

        def test_minimum_capabilities(self):
            """CAP_BPF + CAP_NET_ADMIN, found by asking the kernel: without CAP_NET_ADMIN the
            SOCKMAP is refused, without CAP_BPF nothing loads; with both the holder steers."""
            if shutil.which("setpriv") is None:
                self.fail("setpriv (util-linux) is needed to drop capabilities")

            def drop(caps):
                return ["setpriv", "--bounding-set=-all," + caps, "--inh-caps=-all", "--"]

            probe = os.path.join(HERE, "bpf_caps.py")
            want = {"+bpf,+net_admin": {"map": "ok", "load": "ok", "attach": "ok"},
                    "+net_admin": {"map": "EPERM", "load": "EPERM", "attach": "not tried"},
                    "+bpf": {"map": "EPERM"}}
            for caps, expect in want.items():
                with self.subTest(caps=caps):
                    got = json.loads(self.pod.run(drop(caps) + [sys.executable, probe]).stdout)
                    for k, v in expect.items():
                        self.assertEqual(got[k], v, "%s: %s" % (caps, got))
            for caps, missing in (("+net_admin", "CAP_BPF"), ("+bpf", "CAP_NET_ADMIN")):
                res = self.pod.run(drop(caps) + [self.init_bin, "hold", "--mode", "ebpf",
                                                 "--run-dir", self.run_dir + "/x"], check=False)
                self.assertEqual(res.returncode, 1, res.stderr)
                self.assertEqual(len(res.stderr.strip().splitlines()), 1, res.stderr)
                self.assertIn(missing + " missing", res.stderr)
            # --mode auto: an idle holder (no socket), so the init step's auto picks netfilter.
            idle = self.pod.spawn(drop("+net_admin") + [self.init_bin, "hold", "--mode", "auto",
                                                        "--run-dir", self.run_dir + "/idle"])
            time.sleep(0.5)
            self.assertIsNone(idle.poll(), "an auto-mode holder must not exit (restart loop)")
            self.assertFalse(os.path.exists(self.run_dir + "/idle/control.sock"))
            idle.terminate()
            _, err = idle.communicate(timeout=5)
            self.assertEqual(idle.returncode, 0, err)
            self.assertIn("holder idle", err)
            self.holder.terminate()
            self.holder.communicate(timeout=5)
            self.init("cleanup")  # nothing answers: nothing to remove
            self.holder = self.start_holder(prefix=drop("+bpf,+net_admin"))
            deadline = time.monotonic() + 5
            while self.status()["listeners"] != {"ipv4": True, "ipv6": True}:
                self.assertLess(time.monotonic(), deadline, "proxy sockets not handed over")
                time.sleep(0.02)
            self.assert_through_proxy(POD_V4, CLIENT_V4)
            self.assert_through_proxy(POD_V6, CLIENT_V6)
            # The init step only talks to the holder: apply and cleanup need no capability.
            for command in ("apply", "cleanup", "apply"):
                res = self.pod.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--",
                                    self.init_bin, command, "--mode", "ebpf", "--app-port",
                                    str(APP_PORT), "--pod-ip", POD_V4, "--pod-ip", POD_V6,
                                    "--run-dir", self.run_dir, "--log-level", "warn"],
                                   check=False)
                self.assertEqual(res.returncode, 0, "%s without capabilities: %s"
                                 % (command, res.stderr))

    class EbpfFailOpenTest(EbpfCase):
        FAIL_FLAG = "--fail-open"

    EbpfTest.__name__ = EbpfTest.__qualname__ = "EbpfTest"
    EbpfFailOpenTest.__name__ = EbpfFailOpenTest.__qualname__ = "EbpfFailOpenTest"
    return EbpfTest, EbpfFailOpenTest


# -- the pod the webhook injects --------------------------------------------------------------
import unittest  # noqa: E402

import podrunner  # noqa: E402

EXAMPLE = os.path.join(podrunner.REPO, "examples", "app-deployment.yaml")


def _bindir():
    d = os.environ.get("BULWARK_BIN_DIR")
    if not d and os.environ.get("BULWARK_INIT_BIN_DEFAULT"):
        d = os.path.dirname(os.environ["BULWARK_INIT_BIN_DEFAULT"])
    d = d or os.path.join(podrunner.REPO, "build", "bin")
    ok = all(os.access(os.path.join(d, b), os.X_OK) for b in podrunner.BULWARK_BINARIES)
    return d if ok else None


class EbpfPodTest(unittest.TestCase):
    """The example Deployment's pod with capture-mode ebpf through bulwark-webhook (a real
    AdmissionReview over TLS), the patch applied, and the patched pod run like a kubelet
    (podrunner: bulwark-hold as a native sidecar whose exec startup probe must pass before
    bulwark-init runs, every container with exactly its securityContext's UID and
    capabilities), then traffic from the client namespace through the real sk_lookup program."""

    maxDiff = 4000

    def setUp(self):
        netns.require_privilege(self, ["ip", "curl", "setpriv", "openssl", "nft", "mount",
                                       "nsenter", "bpftool"])
        self.bin = _bindir()
        msg = None
        if not self.bin:
            msg = "bulwark-init / bulwark-proxy / bulwark-webhook not built (BULWARK_BIN_DIR)"
        else:
            helped = subprocess.run([os.path.join(self.bin, "bulwark-init"), "--help"],
                                    capture_output=True, text=True, timeout=10).stdout
            if "ebpf" not in helped:
                msg = "this bulwark-init was built without the BPF program"
        try:
            import yaml  # noqa: F401
        except ImportError:
            msg = msg or "python3-yaml missing (scripts/deps.sh installs it)"
        if msg:
            if os.environ.get("CI") == "true":
                self.fail("CI=true and the test cannot run: " + msg)
            self.skipTest(msg)
        self.work = tempfile.mkdtemp(prefix="bulwark-ebpfpod-")
        self.addCleanup(shutil.rmtree, self.work, True)

    def inject(self, config, annotations):
        wh = podrunner.Webhook(os.path.join(self.bin, "bulwark-webhook"), self.work,
                               {"injection": config})
        self.addCleanup(wh.stop)
        dep = [o for o in podrunner.load_objects(EXAMPLE) if o["kind"] == "Deployment"][0]
        pod = podrunner.pod_from_deployment(dep)
        pod["metadata"].setdefault("annotations", {}).update(annotations)
        resp, patched, _ = wh.review(pod)
        self.assertTrue(resp.get("allowed"), resp)
        self.assertIsNotNone(patched)
        return resp, patched

    def start(self, patched):
        r = podrunner.PodRunner(patched, self.bin, podrunner.demo_standin, log=lambda s: None)
        self.addCleanup(r.stop)
        r.start()
        return r

    @staticmethod
    def names(spec, key):
        return [c["name"] for c in spec.get(key) or []]

    def holder_status(self, r):
        return holder_call(os.path.join(r.volumes["bulwark-run"], "control.sock"),
                           {"op": "status"})

    def wait_listeners(self, r):
        deadline = time.monotonic() + 5
        while self.holder_status(r)["listeners"] != {"ipv4": True, "ipv6": True}:
            self.assertLess(time.monotonic(), deadline, "the proxy's sockets never arrived")
            time.sleep(0.02)

    def steered(self, r):
        return dict(self.holder_status(r)["counters"]).get("steered", 0)

    def get(self, r, host, path):
        h = "[%s]" % host if ":" in host else host
        res = r.client(["curl", "-s", "--path-as-is", "-m", "5", "-o", "/dev/null", "-w",
                        "%{http_code}", "http://%s:8080%s" % (h, path)], check=False)
        return int(res.stdout) if res.stdout.isdigit() else 0

    def assert_no_netfilter_capture(self, r):
        self.assertNotIn("table inet bulwark", r.inpod(["nft", "list", "tables"]).stdout)
        for tool in ("iptables-legacy-save", "iptables-nft-save"):
            if shutil.which(tool):
                self.assertNotIn("BULWARK", r.inpod([tool, "-t", "nat"], check=False).stdout)

    def sk_lookup_links(self, r):
        ino = os.stat("/run/netns/%s" % r.netns).st_ino
        out = netns.run(["bpftool", "-j", "link", "show"]).stdout
        return [l["id"] for l in json.loads(out or "[]")
                if l.get("attach_type") == "sk_lookup" and l.get("netns_ino") == ino]

    def assert_steered_v4_v6(self, r):
        """One link, no netfilter rules, and v4/v6 traffic (clean and attacks) through it."""
        self.assertEqual(len(self.sk_lookup_links(r)), 1)
        self.assert_no_netfilter_capture(r)
        before = self.steered(r)
        self.assertEqual(self.get(r, r.ip, "/"), 200)
        self.assertEqual(self.get(r, r.ip6, "/"), 200)
        self.assertEqual(self.get(r, r.ip, "/etc/passwd"), 403)
        self.assertEqual(self.get(r, r.ip6, "/?q=%3Cscript%3Ealert(1)%3C/script%3E"), 403)
        self.assertGreaterEqual(self.steered(r) - before, 4)

    def assert_proxy_restart_fails_closed(self, r):
        """Proxy killed: fail-closed refuses meanwhile (never the app unfiltered); the
        restarted proxy hands its sockets over again and is steered."""
        proxy = r.procs["bulwark-proxy"]
        proxy.kill()
        proxy.wait(5)
        self.assertEqual(self.get(r, r.ip, "/"), 0)
        r._start(r.container("bulwark-proxy"))
        self.wait_listeners(r)
        self.assertEqual(self.get(r, r.ip, "/etc/passwd"), 403)

    def test_injected_ebpf_pod_runs_and_traffic_goes_through_the_proxy(self):
        resp, patched = self.inject({"kubernetes_version": "1.33"},
                                    {"sidecar.bulwark.dev/capture-mode": "ebpf",
                                     "sidecar.bulwark.dev/mode": "block"})
        self.assertFalse(any("ebpf" in w for w in resp.get("warnings") or []), resp)
        spec = patched["spec"]
        self.assertEqual(self.names(spec, "initContainers"), ["bulwark-hold", "bulwark-init"])
        self.assertIn("bulwark-proxy", self.names(spec, "containers"))
        status = json.loads(patched["metadata"]["annotations"]["sidecar.bulwark.dev/status"])
        self.assertEqual(status["capture"], "ebpf")

        r = self.start(patched)
        # The holder's startup probe (bulwark-init verify --mode ebpf) ran inside the holder
        # and passed before bulwark-init was started.
        probes = r.exec_probes.get("bulwark-hold") or []
        self.assertTrue(probes and probes[-1][0] == 0, probes)
        self.assertIn("kernel state matches the plan", probes[-1][1])
        self.assertFalse([n for n in r.notes if "probe" in n], r.notes)
        rc, out, err = r.init_output["bulwark-init"]
        self.assertEqual(rc, 0, out + err)
        self.assertIn("mode ebpf", out)
        self.assertIn("nothing written", out)  # the holder already runs this plan
        # Identities: exactly what the spec grants, and what the code needs.
        ident = r.identity
        self.assertEqual((ident["bulwark-hold"]["uid"], sorted(ident["bulwark-hold"]["caps"])),
                         (0, ["BPF", "NET_ADMIN"]))
        self.assertEqual((ident["bulwark-init"]["uid"], ident["bulwark-init"]["caps"]), (0, []))
        self.assertEqual(ident["bulwark-proxy"]["uid"], 101)
        self.assertLessEqual(set(ident["bulwark-proxy"]["caps"]), {"NET_BIND_SERVICE"})
        for name in ("bulwark-hold", "bulwark-init", "bulwark-proxy"):
            self.assertTrue(ident[name]["nnp"], name)

        self.wait_listeners(r)
        self.assert_steered_v4_v6(r)
        # The proxy saw the clients' real addresses (no NAT) and the app sees the proxy.
        time.sleep(0.3)
        events = podrunner.events_of(r)
        self.assertEqual({e.get("client") for e in events}, {CLIENT_V4, CLIENT_V6}, events)
        self.assertTrue(all(e.get("action") == "blocked" for e in events), events)
        seen = json.loads(r.client(["curl", "-s", "-m", "5", "http://%s:8080/whoami" % r.ip])
                          .stdout)
        self.assertEqual(seen.get("peer"), "127.0.0.6")
        self.assertEqual(seen.get("headers", {}).get("x-forwarded-for"), CLIENT_V4)
        # The holder's counters reach the proxy's /metrics.
        metrics = r.client(["curl", "-s", "-m", "5", "http://%s:10246/metrics" % r.ip]).stdout
        self.assertRegex(metrics, r'bulwark_ebpf_lookups_total\{reason="steered"\} [1-9]')
        self.assert_proxy_restart_fails_closed(r)

    def test_auto_with_ebpf_allowed_picks_ebpf_through_the_holder(self):
        resp, patched = self.inject({"kubernetes_version": "1.30", "ebpf_in_auto": True},
                                    {"sidecar.bulwark.dev/mode": "block"})
        spec = patched["spec"]
        self.assertEqual(self.names(spec, "initContainers"), ["bulwark-hold", "bulwark-init"])
        hold = spec["initContainers"][0]
        self.assertNotIn("startupProbe", hold)
        self.assertIn({"name": "BULWARK_MODE", "value": "auto"}, hold["env"])
        r = self.start(patched)
        rc, out, err = r.init_output["bulwark-init"]
        self.assertEqual(rc, 0, out + err)
        why = [json.loads(l) for l in err.splitlines() if '"capture mode"' in l]
        self.assertEqual(why[0]["mode"], "ebpf", why)
        self.assertIn("holder answers", why[0]["why"])
        self.wait_listeners(r)
        self.assert_no_netfilter_capture(r)
        before = self.steered(r)
        self.assertEqual(self.get(r, r.ip, "/"), 200)
        self.assertEqual(self.get(r, r.ip6, "/etc/passwd"), 403)
        self.assertGreaterEqual(self.steered(r) - before, 2)

    def test_cluster_without_native_sidecars_runs_a_plain_holder_first(self):
        resp, patched = self.inject({"kubernetes_version": "1.28"},
                                    {"sidecar.bulwark.dev/capture-mode": "ebpf",
                                     "sidecar.bulwark.dev/mode": "block"})
        self.assertFalse([w for w in resp.get("warnings") or []
                          if "ebpf" in w or "holder" in w or "native" in w], resp["warnings"])
        spec = patched["spec"]
        # No init step (it would wait for a holder that starts after it); the holder first.
        self.assertEqual(self.names(spec, "initContainers"), [])
        names = self.names(spec, "containers")
        self.assertEqual(names[0], "bulwark-hold")
        self.assertEqual(names[-1], "bulwark-proxy")
        hold = spec["containers"][0]
        self.assertNotIn("restartPolicy", hold)
        self.assertIn("postStart", hold["lifecycle"])
        status = json.loads(patched["metadata"]["annotations"]["sidecar.bulwark.dev/status"])
        self.assertEqual((status["capture"], status["initContainers"], status["containers"]),
                         ("ebpf", [], ["bulwark-hold", "bulwark-proxy"]))

        started = time.monotonic()
        r = self.start(patched)
        # The holder's postStart hook (verify, waiting for the holder) passed inside the holder
        # before the next container was started.
        hooks = r.post_start.get("bulwark-hold") or []
        self.assertTrue(hooks and hooks[-1][0] == 0, hooks)
        self.assertIn("kernel state matches the plan", hooks[-1][1])
        ident = r.identity
        self.assertEqual((ident["bulwark-hold"]["uid"], sorted(ident["bulwark-hold"]["caps"])),
                         (0, ["BPF", "NET_ADMIN"]))
        self.assertEqual(ident["bulwark-proxy"]["uid"], 101)
        self.wait_listeners(r)
        handed = time.monotonic() - started
        self.assert_steered_v4_v6(r)
        events = podrunner.events_of(r)
        self.assertEqual({e.get("client") for e in events}, {CLIENT_V4, CLIENT_V6}, events)
        self.assert_proxy_restart_fails_closed(r)
        print("plain holder: pod started and sockets handed over in %.2f s" % handed)

    def test_proxy_started_before_the_holder_hands_over_once_it_is_up(self):
        """The handshake does not depend on the start order: a proxy that finds no holder
        retries with backoff and hands its sockets over once the holder is up."""
        _, patched = self.inject({"kubernetes_version": "1.28"},
                                 {"sidecar.bulwark.dev/capture-mode": "ebpf",
                                  "sidecar.bulwark.dev/mode": "block"})
        containers = patched["spec"]["containers"]
        hold = containers.pop(0)
        self.assertEqual(hold["name"], "bulwark-hold")
        r = self.start(patched)  # app and proxy only
        deadline = time.monotonic() + 10
        while "eBPF holder not reachable yet" not in r.read_output("bulwark-proxy")[1]:
            self.assertLess(time.monotonic(), deadline, r.read_output("bulwark-proxy"))
            time.sleep(0.05)
        time.sleep(1.0)  # the proxy keeps retrying meanwhile
        containers.append(hold)
        t0 = time.monotonic()
        r._start(hold)  # its postStart hook returns once the program is attached
        self.wait_listeners(r)
        took = time.monotonic() - t0
        self.assertLess(took, 5.0)
        self.assertEqual(len(self.sk_lookup_links(r)), 1)
        self.assertEqual(self.get(r, r.ip, "/etc/passwd"), 403)
        self.assertEqual(self.get(r, r.ip6, "/"), 200)
        print("proxy first: sockets handed over %.2f s after the holder started" % took)

    def test_demo_runs_an_ebpf_pod(self):
        out = os.path.join(self.work, "demo.json")
        res = subprocess.run([os.path.join(podrunner.REPO, "scripts", "demo.sh"), "--no-build",
                              "--capture", "ebpf", "--mode", "block", "--json-out", out],
                             capture_output=True, text=True, timeout=240,
                             env=dict(os.environ, BULWARK_BIN_DIR=self.bin))
        self.assertEqual(res.returncode, 0, res.stdout[-4000:] + res.stderr[-2000:])
        with open(out) as f:
            doc = json.load(f)
        run = doc["runs"][0]
        self.assertEqual(run["status"]["capture"], "ebpf")
        self.assertEqual(run["status"]["initContainers"][:2], ["bulwark-hold", "bulwark-init"])
        self.assertEqual(run["capture_mode"], "ebpf")
        self.assertEqual(sorted(run["identity"]["bulwark-hold"]["caps"]), ["BPF", "NET_ADMIN"])
        self.assertTrue(doc["ok"], doc.get("summary"))

    def test_seccomp_refusing_bpf_is_named(self):
        """A runtime profile that refuses bpf() even with CAP_BPF (older RuntimeDefault
        profiles): the holder says seccomp, in one line, instead of "no sk_lookup support"."""
        import ctypes
        import platform
        import struct
        arch = {"x86_64": (0xC000003E, 321), "aarch64": (0xC00000B7, 280)}.get(platform.machine())
        if arch is None:
            self.skipTest("no seccomp filter table for %s" % platform.machine())
        audit_arch, nr_bpf = arch
        ld, jeq, ret = 0x20, 0x15, 0x06
        insns = [(ld, 0, 0, 4), (jeq, 0, 3, audit_arch), (ld, 0, 0, 0), (jeq, 0, 1, nr_bpf),
                 (ret, 0, 0, 0x00050000 | 1),  # SECCOMP_RET_ERRNO | EPERM
                 (ret, 0, 0, 0x7FFF0000)]      # SECCOMP_RET_ALLOW
        code = b"".join(struct.pack("HBBI", *i) for i in insns)

        def refuse_bpf():
            libc = ctypes.CDLL(None, use_errno=True)
            buf = ctypes.create_string_buffer(code, len(code))

            class Prog(ctypes.Structure):
                _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
            prog = Prog(len(insns), ctypes.cast(buf, ctypes.c_void_p))
            if libc.prctl(38, 1, 0, 0, 0) != 0 or \
                    libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # NO_NEW_PRIVS, SECCOMP
                os._exit(99)

        pod = netns.Netns("pod")  # never the host's namespace, even if the filter failed
        self.addCleanup(pod.close)
        run_dir = os.path.join(self.work, "run")
        res = subprocess.run(pod.cmd([os.path.join(self.bin, "bulwark-init"), "hold", "--mode",
                                      "ebpf", "--run-dir", run_dir, "--log-level", "warn"]),
                             capture_output=True, text=True, timeout=20, preexec_fn=refuse_bpf)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        lines = res.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, res.stderr)
        self.assertIn("seccomp filter is active", lines[0])
        self.assertIn("bpf()", lines[0])
        self.assertIn("CAP_BPF", lines[0])
        self.assertFalse(os.path.exists(os.path.join(run_dir, "control.sock")))

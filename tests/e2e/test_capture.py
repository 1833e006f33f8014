#!/usr/bin/env python3
"""End-to-end capture tests on the real kernel: bulwark-init + bulwark-proxy + a real app in a
"pod" network namespace, curl from a "client" namespace, for iptables-legacy, iptables-nft and
native nftables, IPv4 and IPv6.

Run: sudo BULWARK_INIT_BIN=build/bin/bulwark-init BULWARK_PROXY_BIN=build/bin/bulwark-proxy \
       python3 -m unittest -v tests/e2e/test_capture.py
(ctest does this; CI=true turns every privilege skip into a failure).
"""

import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
from netns import CLIENT_V4, CLIENT_V6, POD_V4, POD_V6  # noqa: E402

APP_PORT = 8080
# The proxy's fallback app port (--app-port): a second app, so a captured request that reaches
# APP_PORT proves the proxy took the port from the original destination (SO_ORIGINAL_DST).
FALLBACK_PORT = 8081
PROXY_PORT = 26001
STATUS_PORT = 10246
HERE = os.path.dirname(os.path.abspath(__file__))


def binary(env_name, default_env):
    path = os.environ.get(env_name) or os.environ.get(default_env, "")
    return path if path and os.access(path, os.X_OK) else None


class CaptureCase(unittest.TestCase):
    """One capture mode; subclasses set MODE/BACKEND and the tools that see the kernel."""

    MODE = None          # "nftables" | "iptables"
    BACKEND = None       # "legacy" | "nft" for iptables
    maxDiff = 6000

    # -- fixture -------------------------------------------------------------------------------
    def setUp(self):
        tools = ["ip", "curl", "nft", "iptables-legacy-save", "iptables-nft-save"]
        netns.require_privilege(self, tools)
        self.init_bin = binary("BULWARK_INIT_BIN", "BULWARK_INIT_BIN_DEFAULT")
        self.proxy_bin = binary("BULWARK_PROXY_BIN", "BULWARK_PROXY_BIN_DEFAULT")
        if not self.init_bin or not self.proxy_bin:
            msg = "bulwark-init / bulwark-proxy not built (BULWARK_INIT_BIN, BULWARK_PROXY_BIN)"
            if os.environ.get("CI") == "true":
                self.fail(msg)
            self.skipTest(msg)
        self.net = netns.PodAndClient(self)
        self.pod = self.net.pod
        self.add_others_rules()
        self.app = self.pod.spawn([sys.executable, os.path.join(HERE, "echo_app.py"),
                                   "--port", str(APP_PORT)])
        self.fallback_app = self.pod.spawn([sys.executable, os.path.join(HERE, "echo_app.py"),
                                            "--port", str(FALLBACK_PORT)])
        self.proxy = self.start_proxy()
        self.assertTrue(netns.wait_port(self.pod, APP_PORT), "app did not start")
        self.assertTrue(netns.wait_port(self.pod, FALLBACK_PORT), "fallback app did not start")
        self.assertTrue(netns.wait_port(self.pod, PROXY_PORT),
                        "proxy did not start: %s" % self.proc_err(self.proxy))
        self.assertTrue(netns.wait_port(self.pod, STATUS_PORT), "proxy status did not start")
        self.addCleanup(self.init, "cleanup", check=False)

    def start_proxy(self):
        return self.pod.spawn([self.proxy_bin, "--listen", "0.0.0.0:%d" % PROXY_PORT,
                               "--listen", "[::]:%d" % PROXY_PORT,
                               "--app-port", str(FALLBACK_PORT), "--mode", "block",
                               "--threads", "1", "--log-level", "warn"]
                              + self.proxy_extra_args())

    def proxy_extra_args(self):
        return []

    def init_extra_args(self):
        return []

    def proc_err(self, p):
        if p.poll() is None:
            return "(still running)"
        return p.stderr.read()[-2000:]

    # -- helpers ---------------------------------------------------------------------------------
    def init(self, command, *extra, check=True):
        argv = [self.init_bin, command, "--mode", self.MODE, "--app-port", str(APP_PORT),
                "--pod-ip", POD_V4, "--pod-ip", POD_V6, "--json", "--log-level", "warn"]
        argv += self.init_extra_args() + list(extra)
        res = self.pod.run(argv, check=False)
        if check:
            self.assertEqual(res.returncode, 0, "bulwark-init %s failed:\n%s\n%s"
                             % (command, res.stdout, res.stderr))
        try:
            doc = json.loads(res.stdout) if res.stdout.strip() else {}
        except ValueError:
            self.fail("bulwark-init %s printed no JSON: %r" % (command, res.stdout))
        return res, doc

    def get(self, host, path="/echo", port=APP_PORT, ns=None):
        """(status, parsed JSON body or text) of one GET from the client namespace."""
        ns = ns or self.net.client
        url = "http://%s:%d%s" % ("[%s]" % host if ":" in host else host, port, path)
        res = ns.run(["curl", "-sS", "-m", "5", "--path-as-is", "-o", "-", "-w",
                      "\n%{http_code}", url], check=False)
        self.assertEqual(res.returncode, 0, "curl %s failed: %s" % (url, res.stderr))
        body, _, code = res.stdout.rpartition("\n")
        try:
            return int(code), json.loads(body)
        except ValueError:
            return int(code), body

    def requests_total(self):
        res = self.pod.run(["curl", "-sS", "-m", "5",
                            "http://127.0.0.1:%d/metrics" % STATUS_PORT])
        total = 0.0
        for line in res.stdout.splitlines():
            m = re.match(r"^bulwark_requests_total(\{[^}]*\})?\s+([0-9.eE+]+)$", line)
            if m:
                total += float(m.group(2))
        return total

    # Others' rules and what the kernel shows of everything (our objects excluded).
    def add_others_rules(self):
        raise NotImplementedError

    def snapshot(self):
        raise NotImplementedError

    def ours(self):
        raise NotImplementedError

    # -- assertions ------------------------------------------------------------------------------
    def assert_through_proxy(self, host, client):
        before = self.requests_total()
        code, body = self.get(host)
        self.assertEqual(code, 200, body)
        self.assertIsInstance(body, dict, body)
        h = body["headers"]
        self.assertEqual(body["peer"], "127.0.0.6",
                         "the app's peer must be the proxy's source address: %s" % body)
        self.assertEqual(h.get("x-forwarded-for"), client,
                         "exactly one X-Forwarded-For hop (a looped proxy adds two): %s" % h)
        self.assertRegex(h.get("x-request-id", ""), r"^[A-Za-z0-9._:-]{1,128}$")
        self.assertEqual(body["port"], APP_PORT,
                         "the proxy must forward to the original destination port: %s" % body)
        after = self.requests_total()
        self.assertEqual(after - before, 1,
                         "the proxy counted %s requests for one (its own connection looped?)"
                         % (after - before))

    def assert_direct(self, host, client):
        code, body = self.get(host)
        self.assertEqual(code, 200, body)
        self.assertEqual(body["peer"], client, "not direct: %s" % body)
        self.assertNotIn("x-forwarded-for", body["headers"])
        self.assertNotIn("x-request-id", body["headers"])

    # -- the tests -------------------------------------------------------------------------------
    def test_capture_lifecycle(self):
        others_before = self.snapshot()
        with self.subTest("direct path before capture"):
            self.assert_direct(POD_V4, CLIENT_V4)
            self.assert_direct(POD_V6, CLIENT_V6)

        res, doc = self.init("apply")
        self.assertTrue(doc.get("changed"), doc)
        self.assertEqual(doc.get("mode"), self.MODE)
        if self.BACKEND:
            self.assertEqual(doc.get("iptables_backend"), self.BACKEND,
                             "backend detection must follow the rules already there: %s" % doc)
        self.assertLessEqual(doc.get("apply_ms", 1e9), 500, doc)  # generous; goal 50 ms
        sys.stderr.write("\n[%s] first apply %.1f ms\n" % (self.id(), doc["apply_ms"]))

        with self.subTest("captured: v4 through the proxy"):
            self.assert_through_proxy(POD_V4, CLIENT_V4)
        with self.subTest("captured: v6 through the proxy"):
            self.assert_through_proxy(POD_V6, CLIENT_V6)
        with self.subTest("proxy port addressed directly still works"):
            code, body = self.get(POD_V4, port=PROXY_PORT)
            self.assertEqual(code, 200, body)
            self.assertEqual(body["peer"], "127.0.0.6")
            self.assertEqual(body["port"], FALLBACK_PORT, "no original destination: --app-port")
        with self.subTest("loopback inside the pod is never captured"):
            code, body = self.get("127.0.0.1", ns=self.pod)
            self.assertEqual(body["peer"], "127.0.0.1", body)
            self.assertNotIn("x-forwarded-for", body["headers"])

        rules_once = self.ours()
        _, doc2 = self.init("apply")
        self.assertFalse(doc2.get("changed"), "second apply must be a no-op: %s" % doc2)
        self.assertEqual(self.ours(), rules_once, "rules changed on re-apply")
        sys.stderr.write("[%s] re-apply %.1f ms\n" % (self.id(), doc2["apply_ms"]))

        res, doc = self.init("verify")
        self.assertTrue(doc.get("ok"), doc)
        self.assertEqual(self.snapshot(), others_before, "others' rules changed by apply")

        with self.subTest("drift is detected and repaired"):
            self.drift()
            res, doc = self.init("verify", check=False)
            self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
            self.assertTrue(doc.get("diff"), doc)
            _, doc = self.init("apply")
            self.assertTrue(doc.get("changed"), doc)
            self.init("verify")
            self.assertEqual(self.ours(), rules_once)

        _, doc = self.init("cleanup")
        self.assertTrue(doc.get("changed"), doc)
        self.assertEqual(self.ours(), self.empty_ours(), "cleanup left Bulwark objects")
        self.assertEqual(self.snapshot(), others_before, "cleanup touched others' rules")
        _, doc = self.init("cleanup")
        self.assertFalse(doc.get("changed"), "second cleanup must be a no-op: %s" % doc)
        with self.subTest("direct path restored"):
            self.assert_direct(POD_V4, CLIENT_V4)
            self.assert_direct(POD_V6, CLIENT_V6)
        res, _ = self.init("verify", check=False)
        self.assertEqual(res.returncode, 1, "verify after cleanup must fail")

    def test_attack_blocked(self):
        # The detection engine is a separate piece of work: first check that this proxy blocks
        # at all, addressed directly inside the pod; only then is the capture path's 403 ours.
        code, _ = self.get("127.0.0.1", path="/etc/passwd", port=PROXY_PORT, ns=self.pod)
        if code != 403:
            self.skipTest("this bulwark-proxy does not block GET /etc/passwd in block mode even "
                          "when addressed directly (got %d): detection engine not built in yet"
                          % code)
        self.init("apply")
        for host in (POD_V4, POD_V6):
            with self.subTest(host=host):
                code, body = self.get(host, path="/etc/passwd")
                self.assertEqual(code, 403, "attack through capture not blocked: %s" % body)
                code, body = self.get(host, path="/echo")
                self.assertEqual(code, 200, body)


class NftablesTest(CaptureCase):
    MODE = "nftables"

    def add_others_rules(self):
        rules = ("table inet other {\n chain pre {\n  type nat hook prerouting priority -50;\n"
                 "  tcp dport 9999 redirect to :9 comment \"someone else\"\n }\n}\n"
                 "table ip filter {\n chain input {\n  type filter hook input priority 0;\n"
                 "  tcp dport 7 accept\n }\n}\n")
        self.pod.run(["nft", "-f", "-"], input=rules)

    def snapshot(self):
        out = self.pod.run(["nft", "list", "ruleset"]).stdout
        # Everything but our table.
        return re.sub(r"table inet bulwark \{.*?\n\}\n", "", out, flags=re.S)

    def ours(self):
        return self.pod.run(["nft", "list", "table", "inet", "bulwark"], check=False).stdout

    def empty_ours(self):
        return ""

    def drift(self):
        self.pod.run(["nft", "flush", "chain", "inet", "bulwark", "output"])


class IptablesMixin:
    def save(self, family):
        tool = ("iptables-%s-save" if family == 4 else "ip6tables-%s-save") % self.BACKEND
        out = self.pod.run([tool]).stdout
        # Packet counters move with traffic; what matters is chains, policies and rules.
        return [re.sub(r" \[\d+:\d+\]$", "", l) for l in out.splitlines()
                if l and not l.startswith("#")]

    def add_others_rules(self):
        for fam, tool in ((4, "iptables"), (6, "ip6tables")):
            t = "%s-%s" % (tool, self.BACKEND)
            self.pod.run([t, "-w", "5", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "9999",
                          "-j", "REDIRECT", "--to-ports", "9"])
            self.pod.run([t, "-w", "5", "-t", "nat", "-N", "OTHER_CHAIN"])
            self.pod.run([t, "-w", "5", "-t", "nat", "-A", "OUTPUT", "-j", "OTHER_CHAIN"])
            self.pod.run([t, "-w", "5", "-A", "INPUT", "-p", "tcp", "--dport", "7", "-j",
                          "ACCEPT"])

    def snapshot(self):
        return {fam: [l for l in self.save(fam) if "BULWARK_" not in l] for fam in (4, 6)}

    def ours(self):
        return {fam: [l for l in self.save(fam) if "BULWARK_" in l] for fam in (4, 6)}

    def empty_ours(self):
        return {4: [], 6: []}

    def drift(self):
        tool = "iptables-%s" % self.BACKEND
        self.pod.run([tool, "-w", "5", "-t", "nat", "-F", "BULWARK_OUTPUT"])


class IptablesLegacyTest(IptablesMixin, CaptureCase):
    MODE = "iptables"
    BACKEND = "legacy"


class IptablesNftTest(IptablesMixin, CaptureCase):
    MODE = "iptables"
    BACKEND = "nft"


from test_capture_ebpf import make_ebpf_cases  # noqa: E402

EbpfTest, EbpfFailOpenTest = make_ebpf_cases(CaptureCase)

del CaptureCase  # only the concrete modes run

if __name__ == "__main__":
    unittest.main()

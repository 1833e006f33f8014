#!/usr/bin/env python3
"""bulwark-init's command line: exit codes, --help/--version, environment, the dry run, and the
one-line error when CAP_NET_ADMIN is missing (run as nobody with no capabilities)."""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402


def init_bin():
    path = os.environ.get("BULWARK_INIT_BIN") or os.environ.get("BULWARK_INIT_BIN_DEFAULT", "")
    return path if path and os.access(path, os.X_OK) else None


class InitCliTest(unittest.TestCase):
    def setUp(self):
        self.bin = init_bin()
        if not self.bin:
            if os.environ.get("CI") == "true":
                self.fail("bulwark-init not built (BULWARK_INIT_BIN)")
            self.skipTest("bulwark-init not built (BULWARK_INIT_BIN)")

    def run_init(self, *args, env=None, prefix=()):
        e = {k: v for k, v in os.environ.items() if not k.startswith("BULWARK_")}
        e.update(env or {})
        return subprocess.run(list(prefix) + [self.bin] + list(args), capture_output=True,
                              text=True, timeout=20, env=e)

    def test_help_and_version(self):
        r = self.run_init("--help")
        self.assertEqual(r.returncode, 0)
        for word in ("plan|apply|verify|cleanup", "--mode", "--app-port", "--fail-open",
                     "Exit status"):
            self.assertIn(word, r.stdout)
        self.assertNotIn("nfqueue", r.stdout)  # offered only by builds that have it (none yet)
        r = self.run_init("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^bulwark-init \d+\.\d+\.\d+")

    def test_usage_errors_exit_2(self):
        for args in (["frobnicate"], [], ["plan", "--mode", "ipchains"],
                     ["plan", "--app-port", "70000"], ["plan", "--app-port", "26001"],
                     ["plan", "--bogus"], ["plan", "--fail-open", "--fail-closed"],
                     ["plan", "--pod-ip", "198.18.0.0/15"]):
            with self.subTest(args=args):
                r = self.run_init(*args)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertTrue(r.stderr.startswith("bulwark-init: "), r.stderr)
        r = self.run_init("plan", env={"BULWARK_APP_PORT": "x"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("BULWARK_APP_PORT", r.stderr)

    def test_plan_is_a_dry_run_from_the_environment(self):
        r = self.run_init("plan", "--mode", "nftables", "--json",
                          env={"BULWARK_APP_PORT": "8080,8443", "BULWARK_POD_IP": "198.18.0.2",
                               "BULWARK_LOG_LEVEL": "warn"})
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["mode"], "nftables")
        self.assertIn("ip daddr 198.18.0.2 tcp dport 8080 redirect to :26001", doc["rules"])
        self.assertIn("tcp dport 8443 redirect", doc["rules"])
        # Flags win over the environment.
        r = self.run_init("plan", "--mode", "iptables", "--app-port", "9000",
                          env={"BULWARK_APP_PORT": "8080", "BULWARK_LOG_LEVEL": "warn"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--dport 9000", r.stdout)
        self.assertNotIn("--dport 8080", r.stdout)

    def test_mode_none_and_unbuilt_modes(self):
        r = self.run_init("apply", "--mode", "none", "--json", "--log-level", "warn")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["mode"], "none")
        r = self.run_init("apply", "--mode", "nfqueue", "--log-level", "warn")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not available in this build", r.stderr)
        # ebpf: the holder sidecar does the privileged part; without one apply says so.
        r = self.run_init("apply", "--mode", "ebpf", "--holder-wait", "0", "--run-dir",
                          "/nonexistent-bulwark-run", "--log-level", "warn")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("no eBPF holder", r.stderr)
        self.assertIn("bulwark-init hold", r.stderr)

    def test_missing_capability_is_one_line_naming_it_and_the_alternative(self):
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            if os.environ.get("CI") == "true":
                self.fail("needs root and setpriv to drop privileges")
            self.skipTest("needs root and setpriv to drop privileges")
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all"]
        for mode in ("auto", "nftables", "iptables"):
            with self.subTest(mode=mode):
                r = self.run_init("apply", "--mode", mode, "--log-level", "warn", prefix=drop)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                lines = r.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                for word in ("CAP_NET_ADMIN", "--mode none", "26001", "'proxy'"):
                    self.assertIn(word, lines[0])
        r = self.run_init("apply", "--fail-open", "--log-level", "error", prefix=drop)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("capture NOT applied (fail-open)", r.stdout)

    def test_iptables_legacy_without_net_raw_names_it(self):
        if os.geteuid() != 0 or shutil.which("setpriv") is None or \
                shutil.which("iptables-legacy-restore") is None:
            if os.environ.get("CI") == "true":
                self.fail("needs root, setpriv and iptables-legacy")
            self.skipTest("needs root, setpriv and iptables-legacy")
        ns = netns.Netns("pod")  # a fresh namespace: nothing of the host's is touched
        self.addCleanup(ns.close)
        keep = "-all,+net_admin"
        r = self.run_init("apply", "--mode", "iptables", "--iptables-backend", "legacy",
                          "--app-port", "8080", "--log-level", "warn",
                          prefix=ns.cmd(["setpriv", "--inh-caps=" + keep,
                                         "--ambient-caps=" + keep, "--bounding-set=" + keep]))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("CAP_NET_RAW", lines[0])
        self.assertIn("--mode nftables", lines[0])


if __name__ == "__main__":
    unittest.main()

"""Command line and configuration: errors exit 2 with one stderr line naming the key/flag,
--help / --version exit 0, precedence flags > environment > file."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402
from testlib.httpc import RawConn, build_request  # noqa: E402
from testlib.proxyctl import clean_env, free_port, http_get, proxy_bin, run_proxy_once  # noqa: E402


def safe_config(**over):
    """A valid loopback-only config, so a wrongly accepted one never binds 0.0.0.0."""
    cfg = {"listen": ["127.0.0.1:%d" % free_port()], "status_listen": "127.0.0.1:%d" % free_port(),
           "upstream": "127.0.0.1:%d" % free_port(), "threads": 1}
    cfg.update(over)
    return cfg


class ConfigErrorTests(ProxyTestCase):
    def expect_usage_error(self, names, config=None, args=(), env=None, rc_expected=2):
        rc, out, err = run_proxy_once(list(args), config=config, env=env, timeout=4)
        ctx = "config=%r args=%r env=%r -> rc=%r stdout=%r stderr=%r" % (config, args, env, rc, out, err)
        self.assertIsNotNone(rc, "proxy did not exit (accepted a bad configuration): " + ctx)
        self.assertEqual(rc, rc_expected, ctx)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, "expected exactly one stderr line: " + ctx)
        if names:
            self.assertTrue(any(n in lines[0] for n in names), "stderr does not name %r: %s" % (names, ctx))

    def test_unknown_top_level_key(self):
        self.expect_usage_error(["listn"], config=safe_config(listn=["127.0.0.1:1"]))

    def test_unknown_nested_key(self):
        self.expect_usage_error(["max_foo"], config=safe_config(limits={"max_foo": 1}))

    def test_unknown_timeout_key(self):
        self.expect_usage_error(["idle_msec"], config=safe_config(timeouts={"idle_msec": 5}))

    def test_wrong_type_threads(self):
        self.expect_usage_error(["threads"], config=safe_config(threads="two"))

    def test_wrong_type_nested(self):
        self.expect_usage_error(["idle_ms"], config=safe_config(timeouts={"idle_ms": "fast"}))

    def test_wrong_type_listen(self):
        self.expect_usage_error(["listen"], config=safe_config(listen=26001))

    def test_negative_limit(self):
        self.expect_usage_error(["max_headers"], config=safe_config(limits={"max_headers": -1}))

    def test_bad_mode(self):
        self.expect_usage_error(["mode"], config=safe_config(mode="blocky"))

    def test_bad_non_http(self):
        self.expect_usage_error(["non_http"], config=safe_config(non_http="maybe"))

    def test_bad_listen_address(self):
        self.expect_usage_error(["listen"], config=safe_config(listen=["nonsense"]))

    def test_bad_listen_port(self):
        self.expect_usage_error(["listen"], config=safe_config(listen=["127.0.0.1:99999"]))

    def test_bad_upstream(self):
        self.expect_usage_error(["upstream"], config=safe_config(upstream="127.0.0.1:notaport"))

    def test_bad_status_listen(self):
        self.expect_usage_error(["status_listen"], config=safe_config(status_listen="::::"))

    def test_invalid_json(self):
        self.expect_usage_error(None, config='{"listen": ["127.0.0.1:1"],')

    def test_top_level_not_object(self):
        self.expect_usage_error(None, config="[1, 2]")

    def test_missing_config_file(self):
        self.expect_usage_error(["/nonexistent/bulwark.json"], args=["--config", "/nonexistent/bulwark.json"])

    def test_unknown_flag(self):
        self.expect_usage_error(["--bogus"], config=safe_config(), args=["--bogus"])

    def test_bad_mode_flag(self):
        self.expect_usage_error(["mode"], config=safe_config(), args=["--mode", "blocky"])

    def test_bad_threads_flag(self):
        self.expect_usage_error(["threads"], config=safe_config(), args=["--threads", "abc"])

    def test_flag_missing_value(self):
        self.expect_usage_error(["--upstream"], config=safe_config(), args=["--upstream"])

    def test_bad_mode_env(self):
        self.expect_usage_error(["BULWARK_MODE", "mode"], config=safe_config(), env={"BULWARK_MODE": "blocky"})

    def test_port_in_use_exits_1(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        self.addCleanup(s.close)
        port = s.getsockname()[1]
        rc, out, err = run_proxy_once([], config=safe_config(listen=["127.0.0.1:%d" % port]), timeout=4)
        self.assertEqual(rc, 1, "port in use: rc=%r stderr=%r" % (rc, err))
        self.assertTrue(err.strip(), "no error message for an unbindable port")

    def test_help(self):
        rc, out, err = run_proxy_once(["--help"], timeout=4)
        self.assertEqual(rc, 0, err)
        for flag in ("--config", "--listen", "--upstream", "--mode", "--status-listen", "--version"):
            self.assertIn(flag, out + err, "--help does not mention %s" % flag)

    def test_version(self):
        rc, out, err = run_proxy_once(["--version"], timeout=4)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out.strip(), r"\d+\.\d+", "--version prints no version number: %r" % out)


class PrecedenceTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()

    def serves_on(self, port):
        try:
            c = RawConn(port, timeout=3)
        except OSError:
            return False
        with c:
            c.send(build_request("GET", "/"))
            try:
                return c.read_response().body == b"hello from app\n"
            except Exception:
                return False

    def test_listen_flag_overrides_file(self):
        p_file, p_flag = free_port(), free_port()
        px = self.proxy(upstream_port=self.a.port, listen_port=p_file,
                        args=["--listen", "127.0.0.1:%d" % p_flag])
        self.assertTrue(self.serves_on(p_flag), px.describe())
        self.assertFalse(self.serves_on(p_file), "file listen address still used despite --listen")

    def test_env_overrides_file_and_flag_overrides_env(self):
        p_file, p_env = free_port(), free_port()
        px = self.proxy(upstream_port=self.a.port, listen_port=p_file,
                        env={"BULWARK_LISTEN": "127.0.0.1:%d" % p_env})
        self.assertTrue(self.serves_on(p_env), px.describe())
        self.assertFalse(self.serves_on(p_file))
        px.stop()
        p_flag = free_port()
        px2 = self.proxy(upstream_port=self.a.port, listen_port=p_file,
                         env={"BULWARK_LISTEN": "127.0.0.1:%d" % p_env},
                         args=["--listen", "127.0.0.1:%d" % p_flag])
        self.assertTrue(self.serves_on(p_flag), px2.describe())
        self.assertFalse(self.serves_on(p_env))

    def test_upstream_flag_overrides_file(self):
        dead = free_port()
        px = self.proxy(upstream_port=dead, args=["--upstream", "127.0.0.1:%d" % self.a.port])
        self.assertTrue(self.serves_on(px.port), px.describe())

    def test_env_config_file(self):
        # BULWARK_CONFIG names the file when --config is absent.  Listen addresses come from
        # the environment (loopback only, whatever happens); the upstream only from the file.
        port, sport = free_port(), free_port()
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"upstream": "127.0.0.1:%d" % self.a.port, "threads": 1}, f)
        self.addCleanup(os.unlink, f.name)
        p = subprocess.Popen([proxy_bin()], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL,
                             env=clean_env({"BULWARK_CONFIG": f.name,
                                            "BULWARK_LISTEN": "127.0.0.1:%d" % port,
                                            "BULWARK_STATUS_LISTEN": "127.0.0.1:%d" % sport}))

        def cleanup():
            if p.poll() is None:
                p.kill()
            p.wait(5)
            p.stderr.close()
        self.addCleanup(cleanup)
        ok = self.wait_until(lambda: http_get(sport, "/readyz", 1)[0] == 200, timeout=5)
        self.assertTrue(ok, "proxy not ready with BULWARK_CONFIG (rc=%r)" % p.poll())
        self.assertTrue(self.serves_on(port), "upstream from the BULWARK_CONFIG file not used")
        p.terminate()
        self.assertEqual(p.wait(10), 0)

    def test_multiple_listen_addresses(self):
        p1, p2 = free_port(), free_port()
        px = self.proxy(upstream_port=self.a.port,
                        config={"listen": ["127.0.0.1:%d" % p1, "127.0.0.1:%d" % p2]})
        self.assertTrue(self.serves_on(p1), px.describe())
        self.assertTrue(self.serves_on(p2), px.describe())


class UpstreamResolutionTests(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()

    def get_echo(self, px):
        c = self.conn(px.port)
        c.send(build_request("GET", "/echo"))
        return self.read_response(c)

    def test_app_port_used_without_upstream(self):
        # rule 4: no upstream, no original destination -> 127.0.0.1:app_port
        px = self.proxy(config={"app_port": self.a.port})
        r = self.get_echo(px)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["path"], "/echo")

    def test_app_port_flag(self):
        px = self.proxy(config={"app_port": free_port()}, args=["--app-port", str(self.a.port)])
        self.assertEqual(self.get_echo(px).status, 200)

    def test_upstream_port_wins_over_app_port(self):
        px = self.proxy(upstream_port=self.a.port, config={"app_port": free_port()})
        self.assertEqual(self.get_echo(px).status, 200)


class ModeTests(ProxyTestCase):
    def test_every_mode_starts_and_passes_benign_traffic(self):
        a = self.app()
        for mode in ("off", "monitoring", "safe_blocking", "block"):
            with self.subTest(mode=mode):
                px = self.proxy(upstream_port=a.port, config={"mode": mode, "threads": 0})
                c = self.conn(px.port)
                c.send(build_request("POST", "/echo?q=hello", [("Content-Type", "application/json")],
                                     body=b'{"name": "alice"}'))
                r = self.read_response(c)
                self.assertEqual(r.status, 200, "mode %s: %s" % (mode, c.transcript()))
                self.assertEqual(px.stop(), 0, px.describe())


if __name__ == "__main__":
    unittest.main()

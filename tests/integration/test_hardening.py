"""Hardening: no request can crash, stall, bypass or desync the proxy.

Black-box, written from the described attacks, against a lenient recording app
(testlib/smuggle.RecordingUpstream: records every byte the proxy sends it) or the real test app.
Each case asserts safety rather than one implementation: where the proxy may either normalise a
request or reject it, both are accepted, but what reaches the app must be unambiguous, and a
rejection must be a 4xx counted in bulwark_bad_requests_total. After every hostile request the
proxy must still be running and serving.
"""

import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from testlib.base import ProxyTestCase  # noqa: E402
from testlib.smuggle import (Malformed, RecordingUpstream, bad_requests_total,  # noqa: E402
                             default_response, first_status, huge_trailer_response,
                             lookalike_framing_names, parse_requests, proxy_serves)
from testlib.ws import WsClient  # noqa: E402

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_SETTINGS = b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64"
SQLI = b"1' UNION SELECT username, password FROM users--"


def tls_client_hello():
    body = b"\x01\x00\x00\x2c\x03\x03" + bytes(range(32)) + b"\x00\x00\x02\x13\x01\x01\x00"
    return b"\x16\x03\x01" + len(body).to_bytes(2, "big") + body


def chunked_post(trailer_lines=b"", path=b"/echo", host=b"shop.local", extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + extra +
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"5\r\nhello\r\n0\r\n" + trailer_lines + b"\r\n")


class HardeningCase(ProxyTestCase):
    """One proxy per class in front of a recording upstream (restarted if a case killed it)."""

    MODE = "monitoring"
    EXTRA_CONFIG = {}
    REAL_APP = False

    @classmethod
    def setUpClass(cls):
        if cls.REAL_APP:
            cls.up = cls.class_app()
            cls.rec = None
        else:
            cls.rec = RecordingUpstream()
            cls.addClassCleanup(cls.rec.stop)
            cls.up = cls.rec
        cls._start_class_proxy()

    @classmethod
    def _start_class_proxy(cls):
        cfg = {"mode": cls.MODE}
        cfg.update(cls.EXTRA_CONFIG)
        cls.px = cls.class_proxy(upstream_port=cls.up.port, config=cfg)

    def setUp(self):
        if self.px.proc.poll() is not None:
            type(self)._start_class_proxy()
        if self.rec is not None:
            self.rec.reset()
        self.m0 = self.px.metrics()

    # -- helpers ---------------------------------------------------------------
    def send(self, raw, timeout=3.0, px=None):
        """Sends raw on a fresh connection; (conn, bytes received until close/timeout, closed)."""
        px = px or self.px
        c = self.conn(px.port, timeout=timeout)
        try:
            c.send(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            got, closed = c.read_until_close(timeout)
        except OSError:
            got, closed = bytes(c.buf), True
        return c, got, closed

    def send_in_two(self, sent, split, pause):
        """A fresh connection that got sent, in two writes split at byte split (when given) with
        pause seconds between them; the proxy may close before the second write."""
        c = self.conn(self.px.port, timeout=3)
        if split:
            c.send(sent[:split])
            time.sleep(pause)
            try:
                c.send(sent[split:])
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            c.send(sent)
        return c

    def assertAlive(self, px=None, context=""):
        px = px or self.px
        ok, detail = proxy_serves(px)
        self.assertTrue(ok, "proxy no longer serves after the request (%s) %s\n%s"
                        % (detail, context, px.describe()))

    def bad_delta(self, px=None):
        px = px or self.px
        return bad_requests_total(px.metrics()) - bad_requests_total(self.m0)

    def assertBadCounted(self, px=None, context=""):
        px = px or self.px
        base = bad_requests_total(self.m0)
        v = px.wait_metric("bulwark_bad_requests_total", None, lambda x: x > base)
        self.assertGreater(v, base, "no bulwark_bad_requests_total{reason} counted the rejection %s"
                           % context)

    def wait_recorded(self, n_bytes=1, timeout=1.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.rec.all_bytes()) >= n_bytes:
                break
            time.sleep(0.05)
        return self.rec.all_bytes()

    def assertRejected(self, raw, statuses=(400,), context="", px=None):
        """A 4xx from the proxy, counted, nothing reached the app, proxy alive."""
        if px is not None:
            self.m0 = px.metrics()
        c, got, _ = self.send(raw, px=px)
        st = first_status(got)
        self.assertIn(st, statuses, "expected %s from the proxy %s%s" % (statuses, context, c.transcript()))
        time.sleep(0.2)
        self.assertEqual(self.rec.all_bytes(), b"", "the rejected request reached the app %s%s"
                         % (context, c.transcript()))
        self.assertBadCounted(px=px, context=context)
        self.assertAlive(px=px, context=context)
        return got

    def recorded_requests(self, context=""):
        """Every request the app received, strictly parsed; fails on a malformed stream."""
        out = []
        for reqs, left, err in self.rec.requests():
            self.assertIsNone(err, "the app received bytes that are not well-framed HTTP/1.1: %s %s\n%r"
                              % (err, context, left[:600]))
            out.extend(reqs)
        return out


# ---------------------------------------------------------------------------------------------
# 1. the 70 KB trailer / header crash
# ---------------------------------------------------------------------------------------------

class TrailerAndFieldSizeCrash(ProxyTestCase):
    """A 70 KB trailer field (request or response) or header line must never abort the proxy."""

    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()

    def _big_trailer(self, mode):
        px = self.proxy(upstream_port=self.a.port, config={"mode": mode})
        m0 = px.metrics()
        raw = chunked_post(b"X-Big: " + b"a" * 70000 + b"\r\n")
        c = self.conn(px.port, timeout=5)
        try:
            c.send(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got, closed = c.read_until_close(5)
        st = first_status(got)
        time.sleep(0.3)
        self.assertIsNone(px.proc.poll(), "bulwark-proxy died on a 70 KB request trailer (mode %s)\n%s"
                          % (mode, px.describe()))
        self.assertIn(st, (400, 403, 413, 431),
                      "expected a 4xx for a 70 KB trailer field in mode %s%s" % (mode, c.transcript()))
        moved = px.wait_metric("bulwark_bad_requests_total", None,
                               lambda v: v > bad_requests_total(m0))
        attacks = px.metrics().get("bulwark_attacks_total") - m0.get("bulwark_attacks_total")
        self.assertTrue(moved > bad_requests_total(m0) or (mode == "block" and attacks > 0),
                        "the rejected 70 KB trailer was not counted")
        ok, detail = proxy_serves(px)
        self.assertTrue(ok, "proxy not serving after a 70 KB trailer (%s)\n%s" % (detail, px.describe()))

    def test_request_trailer_70k_mode_off(self):
        self._big_trailer("off")

    def test_request_trailer_70k_mode_monitoring(self):
        self._big_trailer("monitoring")

    def test_request_trailer_70k_mode_block(self):
        self._big_trailer("block")

    def test_request_many_trailer_fields_100k_total(self):
        px = self.proxy(upstream_port=self.a.port)
        lines = b"".join(b"X-T%d: %s\r\n" % (i, b"v" * 1000) for i in range(100))
        c = self.conn(px.port, timeout=5)
        try:
            c.send(chunked_post(lines))
        except (BrokenPipeError, ConnectionResetError):
            pass
        got, _ = c.read_until_close(5)
        st = first_status(got)
        self.assertIsNotNone(st, "no answer at all to a 100 KB trailer section%s" % c.transcript())
        self.assertTrue(st == 200 or 400 <= st < 500, "status %r%s" % (st, c.transcript()))
        ok, detail = proxy_serves(px)
        self.assertTrue(ok, "proxy not serving after a 100 KB trailer section (%s)\n%s" % (detail, px.describe()))

    def test_header_70k_with_raised_limits(self):
        px = self.proxy(upstream_port=self.a.port,
                        config={"limits": {"max_header_bytes": 1 << 20, "max_request_line": 1 << 17}})
        m0 = px.metrics()
        raw = (b"GET /echo HTTP/1.1\r\nHost: shop.local\r\nX-Big: " + b"b" * 70000 +
               b"\r\nConnection: close\r\n\r\n")
        c = self.conn(px.port, timeout=5)
        c.send(raw)
        got, _ = c.read_until_close(5)
        st = first_status(got)
        self.assertIsNotNone(st, "0 bytes answered to a 70 KB header with max_header_bytes 1 MiB "
                                 "(proxy %s)%s" % ("alive" if px.proc.poll() is None else "DEAD", c.transcript()))
        if st == 200:
            self.assertIn(b'"X-Big", "' + b"b" * 100, got, "the app did not get the 70 KB header intact")
        else:
            self.assertIn(st, (400, 431), c.transcript())
            v = px.wait_metric("bulwark_bad_requests_total", None, lambda x: x > bad_requests_total(m0))
            self.assertGreater(v, bad_requests_total(m0), "the 431/400 was not counted")
        ok, detail = proxy_serves(px)
        self.assertTrue(ok, "proxy not serving after a 70 KB header (%s)\n%s" % (detail, px.describe()))

    def test_request_line_70k_with_raised_limits(self):
        px = self.proxy(upstream_port=self.a.port,
                        config={"limits": {"max_header_bytes": 1 << 20, "max_request_line": 1 << 20}})
        raw = b"GET /echo?q=" + b"c" * 70000 + b" HTTP/1.1\r\nHost: shop.local\r\nConnection: close\r\n\r\n"
        c = self.conn(px.port, timeout=5)
        c.send(raw)
        got, _ = c.read_until_close(5)
        st = first_status(got)
        self.assertIsNotNone(st, "0 bytes answered to a 70 KB request line%s" % c.transcript())
        self.assertTrue(st == 200 or st in (400, 414, 431), c.transcript())
        ok, detail = proxy_serves(px)
        self.assertTrue(ok, "proxy not serving after a 70 KB request line (%s)\n%s" % (detail, px.describe()))


class ResponseTrailerCrash(ProxyTestCase):
    """The app's side: a response trailer field over 64 KB must not abort the proxy."""

    def _check(self, respond, what):
        rec = RecordingUpstream(respond=respond)
        self.addCleanup(rec.stop)
        px = self.proxy(upstream_port=rec.port)
        m0 = px.metrics()
        c = self.conn(px.port, timeout=5)
        c.send(b"GET /big-trailer HTTP/1.1\r\nHost: shop.local\r\nConnection: close\r\n\r\n")
        got, _ = c.read_until_close(5)
        self.assertIsNone(px.proc.poll(), "bulwark-proxy died on %s\n%s" % (what, px.describe()))
        st = first_status(got)
        self.assertIn(st, (200, 502), "expected the response (trailer dropped/limited) or a 502 for %s%s"
                      % (what, c.transcript()))
        if st == 502:
            v = px.wait_metric("bulwark_upstream_errors_total", None,
                               lambda x: x > m0.get("bulwark_upstream_errors_total"))
            self.assertGreater(v, m0.get("bulwark_upstream_errors_total"), "the 502 was not counted")
        # switch the app back to normal answers and check the proxy still serves
        rec.respond = default_response
        ok, detail = proxy_serves(px)
        self.assertTrue(ok, "proxy not serving after %s (%s)\n%s" % (what, detail, px.describe()))

    def test_response_trailer_70k(self):
        self._check(huge_trailer_response(70000), "a 70 KB response trailer field")

    def test_response_trailer_200k(self):
        self._check(huge_trailer_response(200000), "a 200 KB response trailer field")

    def test_response_header_70k(self):
        def fn(req, rc):
            return (b"HTTP/1.1 200 OK\r\nX-Big: " + b"h" * 70000 + b"\r\nContent-Length: 2\r\n\r\nok")
        self._check(fn, "a 70 KB response header field")


# ---------------------------------------------------------------------------------------------
# 2. smuggling-safe normalisation
# ---------------------------------------------------------------------------------------------

ABSOLUTE_FORMS = {
    # name: (target, expected authority (host[:port]) the app must see, or None = any rejection)
    "http_other_host": (b"http://other.example/echo", "other.example"),
    "https_other_host": (b"https://other.example/echo", "other.example"),
    "upper_case_scheme": (b"HTTP://OTHER.example/echo", "other.example"),
    "mixed_case_scheme_https": (b"hTTpS://other.example/echo", "other.example"),
    "odd_scheme": (b"ftp://other.example/echo", "other.example"),
    "odd_scheme_plus": (b"foo+bar.baz://other.example/echo", "other.example"),
    "userinfo": (b"http://user:pass@other.example/echo", "other.example"),
    "userinfo_looks_like_host": (b"http://shop.local@other.example/echo", "other.example"),
    "explicit_port": (b"http://other.example:8080/echo", "other.example:8080"),
    "explicit_port_https": (b"https://other.example:8443/echo", "other.example:8443"),
    "no_path": (b"http://other.example", "other.example"),
    "query_only": (b"http://other.example?x=1", "other.example"),
    "same_host": (b"http://shop.local/echo", "shop.local"),
}


def _split_authority(a):
    a = a.lower()
    if a.startswith("["):
        host, _, rest = a.partition("]")
        return host + "]", rest[1:] if rest.startswith(":") else ""
    host, _, port = a.partition(":")
    return host, port


class AbsoluteFormTargets(HardeningCase):
    """RFC 9112 §3.2.2: the authority of an absolute-form target replaces Host. The app must
    never see a Host that differs from the authority the proxy acted on."""

    def check(self, target, authority):
        raw = b"GET " + target + b" HTTP/1.1\r\nHost: shop.local\r\nConnection: close\r\n\r\n"
        c, got, _ = self.send(raw)
        st = first_status(got)
        self.assertIsNotNone(st, "no answer%s" % c.transcript())
        reqs = self.recorded_requests(c.transcript())
        if not reqs:
            self.assertTrue(400 <= st < 500, "not forwarded, yet not a 4xx%s" % c.transcript())
            self.assertBadCounted(context=c.transcript())
        for r in reqs:
            hosts = r.header_all("host")
            self.assertEqual(len(hosts), 1, "the app got %d Host headers: %r" % (len(hosts), r))
            host = hosts[0].decode("latin-1")
            self.assertNotIn("@", host, "userinfo reached the app's Host: %r" % r)
            want_host, want_port = _split_authority(authority)
            got_host, got_port = _split_authority(host)
            self.assertEqual(got_host, want_host,
                             "the app sees Host %r but the target's authority is %r (the proxy and "
                             "the app disagree about the host): %r" % (host, authority, r))
            if want_port:
                self.assertEqual(got_port, want_port, "port of the authority lost: %r" % r)
            if not r.target.startswith(b"/"):
                m = re.match(rb"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/@?#]*@)?([^/?#]*)", r.target)
                self.assertIsNotNone(m, "the app got an unusual target %r" % r.target)
                self.assertEqual(m.group(1).decode().lower(), host.lower(),
                                 "absolute-form forwarded with an authority other than Host: %r" % r)
                self.assertNotIn(b"@", r.target, "userinfo forwarded in the target: %r" % r)
        self.assertAlive(context=c.transcript())


def _make_abs(target, authority):
    def t(self):
        self.check(target, authority)
    return t


for _n, (_t, _a) in ABSOLUTE_FORMS.items():
    setattr(AbsoluteFormTargets, "test_" + _n, _make_abs(_t, _a))


INVALID_HOSTS = {
    "comma": b"shop.local,other.example",
    "comma_space": b"shop.local, other.example",
    "inner_space": b"shop.local other.example",
    "userinfo_at": b"user@shop.local",
    "at_other": b"shop.local@other.example",
    "slash": b"shop.local/other",
    "slash_path": b"other.example/../shop.local",
    "backslash": b"shop.local\\other",
    "port_not_numeric": b"shop.local:80x",
    "unclosed_ipv6": b"[::1",
}

VALID_HOSTS = {
    "plain": b"shop.local",
    "port": b"shop.local:8080",
    "ipv4_port": b"10.1.2.3:80",
    "ipv6": b"[::1]:8080",
    "upper_case": b"SHOP.Local",
    "idn": b"xn--bcher-kva.example",
}


class InvalidHostValues(HardeningCase):
    """A Host that is not a valid authority is answered 400 and never reaches the app."""

    def check_bad(self, value):
        raw = b"GET /echo HTTP/1.1\r\nHost: " + value + b"\r\nConnection: close\r\n\r\n"
        self.assertRejected(raw, context="Host: %r" % value)

    def check_good(self, value):
        raw = b"GET /echo HTTP/1.1\r\nHost: " + value + b"\r\nConnection: close\r\n\r\n"
        c, got, _ = self.send(raw)
        self.assertEqual(first_status(got), 200, "valid Host %r rejected%s" % (value, c.transcript()))
        reqs = self.recorded_requests()
        self.assertEqual(len(reqs), 1)
        self.assertEqual([h.lower() for h in reqs[0].header_all("host")], [value.lower()])


for _n, _v in INVALID_HOSTS.items():
    setattr(InvalidHostValues, "test_reject_" + _n, (lambda v: lambda self: self.check_bad(v))(_v))
for _n, _v in VALID_HOSTS.items():
    setattr(InvalidHostValues, "test_accept_" + _n, (lambda v: lambda self: self.check_good(v))(_v))


LOOKALIKES = {
    "transfer_encoding_with_cl": b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                                 b"Transfer_Encoding: chunked\r\nConnection: close\r\n\r\nhello",
    "transfer_encoding_alone": b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n"
                               b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "transfer_encoding_lower": b"POST /echo HTTP/1.1\r\nHost: a\r\ntransfer_encoding: chunked\r\n"
                               b"Content-Length: 5\r\nConnection: close\r\n\r\nhello",
    "content_length_alone": b"POST /echo HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n"
                            b"Connection: close\r\n\r\nhello",
    "content_length_with_te": b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                              b"Content_Length: 40\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "content_length_upper": b"POST /echo HTTP/1.1\r\nHost: a\r\nCONTENT_LENGTH: 5\r\n"
                            b"Content-Length: 5\r\nConnection: close\r\n\r\nhello",
    "both_lookalikes": b"POST /echo HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\nTransfer_Encoding: chunked\r\n"
                       b"Connection: close\r\n\r\n",
}


class FramingLookalikeNames(HardeningCase):
    """Transfer_Encoding / Content_Length never reach the app as such (rejected or dropped)."""

    # the recording app frames leniently (folds '_' into '-'), so a forwarded lookalike can leave
    # it waiting for a body: do not wait a minute for its answer
    EXTRA_CONFIG = {"timeouts": {"upstream_read_ms": 1500}}

    def check(self, raw):
        c, got, _ = self.send(raw)
        st = first_status(got)
        reqs = self.recorded_requests(c.transcript())
        for r in reqs:
            self.assertEqual(lookalike_framing_names(r), [],
                             "a framing lookalike header reached the app: %r%s" % (r, c.transcript()))
        self.assertIsNotNone(st, "no answer%s" % c.transcript())
        if not reqs:
            self.assertTrue(400 <= st < 500, c.transcript())
            self.assertBadCounted(context=c.transcript())
        self.assertAlive(context=c.transcript())


for _n, _raw in LOOKALIKES.items():
    setattr(FramingLookalikeNames, "test_" + _n, (lambda raw: lambda self: self.check(raw))(_raw))


CTL_REQUEST_LINES = {
    "nul_in_target": b"GET /a\x00b HTTP/1.1",
    "nul_after_version": b"GET / HTTP/1.1\x00",
    "nul_in_method": b"G\x00ET / HTTP/1.1",
    "nul_first_byte": b"\x00GET / HTTP/1.1",
    "nul_before_version": b"GET /\x00 HTTP/1.1",
    "soh_in_target": b"GET /\x01x HTTP/1.1",
    "del_in_target": b"GET /\x7fx HTTP/1.1",
    "vtab_separator": b"GET\x0b/ HTTP/1.1",
    "formfeed_in_target": b"GET /a\x0cb HTTP/1.1",
    "esc_in_target": b"GET /\x1b[31m HTTP/1.1",
    "nul_in_query": b"GET /echo?q=a\x00b HTTP/1.1",
}


class ControlCharsInRequestLine(HardeningCase):
    """NUL / CTL bytes in the request line: 400, never forwarded."""

    def check(self, line):
        self.assertRejected(line + b"\r\nHost: shop.local\r\nConnection: close\r\n\r\n",
                            context="request line %r" % line)


for _n, _l in CTL_REQUEST_LINES.items():
    setattr(ControlCharsInRequestLine, "test_" + _n, (lambda ln: lambda self: self.check(ln))(_l))


class Http2PrefaceOnHttp1Port(HardeningCase):
    """`PRI * HTTP/2.0` is never forwarded as an HTTP/1 request: either tunnelled unchanged as
    non-HTTP (counted) or refused."""

    EXTRA_CONFIG = {"non_http": "pass"}

    def check(self, sent, split=None):
        c = self.send_in_two(sent, split, 0.3)
        try:
            got = c.read_some(timeout=1.5)
        except (socket.timeout, OSError):
            got = b""
        rec = self.wait_recorded(len(sent), timeout=1.5)
        if rec:
            # only a real HTTP/2 connection preface may be tunnelled as non-HTTP; anything else
            # starting with "PRI * HTTP/2.0" is an uninspected HTTP/1 stream for a lenient app
            self.assertTrue(sent.startswith(H2_PREFACE),
                            "bytes that are not an HTTP/2 connection preface were passed to the app "
                            "uninspected%s\n  app got: %r" % (c.transcript(), rec[:500]))
            self.assertEqual(rec, sent, "the preface reached the app changed (forwarded as an HTTP/1 "
                                        "request?)%s\n  app got: %r" % (c.transcript(), rec[:500]))
            self.assertNotIn(b"x-request-id", rec.lower())
            self.assertNotIn(b"x-forwarded-for", rec.lower())
            un = self.px.metrics().get("bulwark_uninspected_connections_total") - \
                self.m0.get("bulwark_uninspected_connections_total")
            self.assertGreater(un, 0, "tunnelled without counting it as uninspected")
        else:
            self.assertFalse(first_status(got) == 200 or got.startswith(b"HTTP/1.1 2"),
                             "the proxy answered the preface like a request%s" % c.transcript())
        c.close()
        self.assertAlive()

    def test_preface_with_settings(self):
        self.check(H2_PREFACE + H2_SETTINGS)

    def test_pri_line_then_http1_request(self):
        self.check(b"PRI * HTTP/2.0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: shop.local\r\n\r\n")

    def test_pri_line_then_http1_request_split(self):
        line = b"PRI * HTTP/2.0\r\n\r\n"
        self.check(line + b"GET /smuggled HTTP/1.1\r\nHost: shop.local\r\n\r\n", split=len(line))

    def test_pri_with_host_header(self):
        self.check(b"PRI * HTTP/2.0\r\nHost: shop.local\r\n\r\n")

    def test_pri_line_only(self):
        self.check(b"PRI * HTTP/2.0\r\n\r\n")


# name -> (bytes sent, then the client stays silent)
BODY_WAIT_STATES = {
    "unterminated_quoted_chunk_ext": b"5;a=\"unterminated\r\nhello\r\n0\r\n\r\n",
    "unterminated_quoted_chunk_ext_only": b"5;a=\"x\r\n",
    "quoted_ext_with_crlf_inside": b"5;a=\"x\r\ny\"\r\nhello\r\n0\r\n\r\n",
    "chunk_size_line_unfinished": b"5",
    "chunk_data_partial": b"5\r\nhel",
    "chunk_data_without_crlf": b"5\r\nhello",
    "last_chunk_without_final_crlf": b"5\r\nhello\r\n0\r\n",
    "trailer_line_partial": b"5\r\nhello\r\n0\r\nX-T: 1",
    "trailer_line_then_silence": b"5\r\nhello\r\n0\r\nX-T: 1\r\n",
    "no_body_bytes_at_all": b"",
}
CL_WAIT_STATES = {
    "content_length_partial": (b"Content-Length: 10\r\n\r\nabc"),
    "content_length_no_body": (b"Content-Length: 10\r\n\r\n"),
    "expect_continue_no_body": (b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"),
    "content_length_past_inspection_prefix": (b"Content-Length: 400000\r\n\r\n" + b"p" * 200000),
}
BODY_MS = 1000


class BodyWaitStatesNeverStall(HardeningCase):
    """Every state that waits for a body: the app gets a complete, well-framed request, or both
    sides are closed within the body timeout (no half-forwarded request left hanging)."""

    EXTRA_CONFIG = {"timeouts": {"header_ms": 1000, "body_ms": BODY_MS, "idle_ms": 10000,
                                 "upstream_read_ms": 3000, "send_ms": 2000}}

    def check(self, raw, label):
        c = self.conn(self.px.port, timeout=5)
        try:
            c.send(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.monotonic() + BODY_MS / 1000.0 + 2.5
        client_closed = False
        why = ""
        while True:
            if not client_closed:
                try:
                    client_closed = c.wait_closed(0.1)
                except OSError:
                    client_closed = True
            got = bytes(c.buf)
            states = self.rec.conn_states()
            up_ok = True
            for data, closed_at in states:
                try:
                    _, left = parse_requests(data)
                except Malformed as e:
                    self.fail("[%s] the app received a malformed request stream: %s\n%r%s"
                              % (label, e, data[:600], c.transcript()))
                if left and closed_at is None:
                    up_ok = False
                    why = "the app holds an incomplete request on an open connection: %r" % data[-300:]
            answered = first_status(got) is not None
            if up_ok and (client_closed or (answered and all(not parse_requests(d)[1] for d, _ in states))):
                break
            if not (up_ok or client_closed or answered):
                why = why or "client neither answered nor closed"
            if time.monotonic() > deadline:
                self.fail("[%s] stalled %.1fs after the last byte (body_ms=%d): %s; client %s%s"
                          % (label, BODY_MS / 1000.0 + 2.5, BODY_MS, why or "client neither answered nor closed",
                             "closed" if client_closed else "open", c.transcript()))
            time.sleep(0.05)
        c.close()
        self.assertAlive(context=label)


for _n, _b in BODY_WAIT_STATES.items():
    _raw = (b"POST /echo HTTP/1.1\r\nHost: shop.local\r\nTransfer-Encoding: chunked\r\n\r\n" + _b)
    setattr(BodyWaitStatesNeverStall, "test_chunked_" + _n,
            (lambda raw, n: lambda self: self.check(raw, n))(_raw, _n))
for _n, _h in CL_WAIT_STATES.items():
    _raw = b"POST /echo HTTP/1.1\r\nHost: shop.local\r\n" + _h
    setattr(BodyWaitStatesNeverStall, "test_" + _n, (lambda raw, n: lambda self: self.check(raw, n))(_raw, _n))
setattr(BodyWaitStatesNeverStall, "test_pipelined_then_partial_second",
        lambda self: self.check(b"GET /1 HTTP/1.1\r\nHost: shop.local\r\n\r\n"
                                b"POST /2 HTTP/1.1\r\nHost: shop.local\r\nContent-Length: 9\r\n\r\nab",
                                "pipelined_then_partial_second"))
setattr(BodyWaitStatesNeverStall, "test_chunked_past_inspection_prefix",
        lambda self: self.check(b"POST /echo HTTP/1.1\r\nHost: shop.local\r\nTransfer-Encoding: chunked\r\n\r\n"
                                b"30000\r\n" + b"q" * 150000, "chunked_past_inspection_prefix"))


MALFORMED_CHUNK_EXTENSIONS = {
    "unterminated_quote": b"5;a=\"unterminated\r\nhello\r\n0\r\n\r\n",
    "unterminated_quote_escaped_close": b"5;a=\"x\\\"\r\nhello\r\n0\r\n\r\n",
    "quote_spanning_crlf": b"5;a=\"x\r\ny\"\r\nhello\r\n0\r\n\r\n",
    "unterminated_quote_last_chunk": b"5\r\nhello\r\n0;a=\"x\r\n\r\n",
}


class MalformedChunkExtensionAnsweredAtOnce(HardeningCase):
    """A chunk line whose quoted extension is not closed before CRLF is malformed: every byte of
    the request has arrived, so the proxy must answer 400 at once, not wait for the body timeout
    (with the default 60 s that is the "stalled mid-request" front)."""

    EXTRA_CONFIG = {"timeouts": {"body_ms": 8000, "header_ms": 8000}}

    def check(self, body):
        raw = (b"POST /echo HTTP/1.1\r\nHost: shop.local\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        t0 = time.monotonic()
        c, got, closed = self.send(raw, timeout=3.0)
        took = time.monotonic() - t0
        self.assertEqual(first_status(got), 400, "malformed chunk extension not answered 400 within 3 s "
                                                 "(body_ms 8 s)%s" % c.transcript())
        self.assertLess(took, 3.0)
        self.assertBadCounted(context=c.transcript())
        for reqs, left, err in self.rec.requests():
            self.assertEqual(reqs, [], "the malformed chunked request reached the app complete")
        self.assertAlive()


for _n, _b in MALFORMED_CHUNK_EXTENSIONS.items():
    setattr(MalformedChunkExtensionAnsweredAtOnce, "test_" + _n, (lambda b: lambda self: self.check(b))(_b))


PIPELINED_BAD_AFTER_GOOD = {
    # found by the session fuzzer: a malformed request pipelined after a forwarded one
    "bare_cr_before_second": b"\rGET /2 HTTP/1.1\r\nHost: shop.local\r\n\r\n",
    "bare_cr_in_second_value": b"GET /2 HTTP/1.1\r\nHost: shop.local\r\nX-A: b\rc\r\n\r\n",
    "bad_method_second": b"G@T /2 HTTP/1.1\r\nHost: shop.local\r\n\r\n",
    "head_then_bare_cr": b"\rET /ws HTTP/1.1\r\nHost: shop.local\r\nUpgrade: websocket\r\n\r\n",
}


class PipelinedRejectionGetsItsOwnRequestId(HardeningCase):
    """A malformed request pipelined after a forwarded one is rejected under its own request id:
    the 400 (403 in block mode) and its log/event never carry the id of the request the app
    served, so a rejection cannot be mistaken for (or hide behind) a forwarded request."""

    def check(self, second, first_method=b"GET"):
        first = first_method + b" /1 HTTP/1.1\r\nHost: shop.local\r\n\r\n"
        c, got, _ = self.send(first + second)
        ids = re.findall(rb"(?im)^x-request-id: *([^\r\n]+)", got)
        statuses = re.findall(rb"HTTP/1\.1 ([0-9]{3}) ", got)
        self.assertEqual(statuses[:1], [b"200"], c.transcript())
        self.assertEqual(len(statuses), 2, "expected the 200 and then a rejection%s" % c.transcript())
        self.assertTrue(statuses[1].startswith(b"4"), c.transcript())
        reached = [r.header("x-request-id") for r in self.recorded_requests()]
        self.assertEqual(len(ids), 2, c.transcript())
        self.assertNotIn(ids[1], reached, "the rejection reuses the id of the request the app served "
                                          "(%r)%s" % (ids[1], c.transcript()))
        self.assertNotEqual(ids[0], ids[1], c.transcript())
        self.assertAlive()


for _n, _b in PIPELINED_BAD_AFTER_GOOD.items():
    setattr(PipelinedRejectionGetsItsOwnRequestId, "test_" + _n,
            (lambda b, m: lambda self: self.check(b, m))(_b, b"HEAD" if _n.startswith("head") else b"GET"))


# ---------------------------------------------------------------------------------------------
# 3. protocol bypasses of block mode
# ---------------------------------------------------------------------------------------------

TWO_CONTENT_TYPES = {
    "form_then_json": (b"application/x-www-form-urlencoded", b"application/json"),
    "json_then_form": (b"application/json", b"application/x-www-form-urlencoded"),
    "same_twice": (b"application/json", b"application/json"),
    "multipart_then_json": (b"multipart/form-data; boundary=xyz", b"application/json"),
}


class DuplicateContentType(HardeningCase):
    """Two Content-Type headers decide parsing two ways: 400, never forwarded."""

    MODE = "block"

    def check(self, first, second):
        body = b"q=" + SQLI.replace(b" ", b"+")
        raw = (b"POST /login HTTP/1.1\r\nHost: shop.local\r\nContent-Type: " + first +
               b"\r\nContent-Type: " + second + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
               % len(body) + body)
        # block mode may answer a refused request with 403 (class protocol)
        c, got, _ = self.send(raw)
        st = first_status(got)
        self.assertIn(st, (400, 403), "two Content-Types not refused%s" % c.transcript())
        time.sleep(0.2)
        self.assertEqual(self.rec.all_bytes(), b"", "a request with two Content-Types reached the app"
                         + c.transcript())
        self.assertAlive()

    def test_benign_body_with_two_content_types_is_400(self):
        # in monitoring mode: a refusal is a 400 counted in bulwark_bad_requests_total
        px = self.proxy(upstream_port=self.rec.port, config={"mode": "monitoring"})
        raw = (b"POST /form HTTP/1.1\r\nHost: shop.local\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\nname=ab")
        self.assertRejected(raw, statuses=(400,), px=px)


for _n, (_f, _s) in TWO_CONTENT_TYPES.items():
    setattr(DuplicateContentType, "test_" + _n, (lambda f, s: lambda self: self.check(f, s))(_f, _s))


class Http2PriorKnowledgeRefusedInBlockMode(HardeningCase):
    """block: an HTTP/2 prior-knowledge preface is refused by default (no h2 bytes reach the app),
    while TLS keeps the counted passthrough."""

    MODE = "block"
    EXTRA_CONFIG = {"non_http": "pass"}

    def check_refused(self, sent, split=None):
        c = self.send_in_two(sent, split, 0.15)
        try:
            c.wait_closed(1.5)
        except OSError:
            pass
        time.sleep(0.3)
        self.assertEqual(self.rec.all_bytes(), b"", "HTTP/2 bytes reached the app in block mode%s"
                         % c.transcript())
        self.assertAlive()

    def test_preface_and_settings(self):
        self.check_refused(H2_PREFACE + H2_SETTINGS)

    def test_preface_split(self):
        self.check_refused(H2_PREFACE + H2_SETTINGS, split=5)

    def test_preface_safe_blocking(self):
        px = self.proxy(upstream_port=self.rec.port, config={"mode": "safe_blocking", "non_http": "pass"})
        c = self.conn(px.port, timeout=3)
        c.send(H2_PREFACE + H2_SETTINGS)
        try:
            c.wait_closed(1.5)
        except OSError:
            pass
        time.sleep(0.3)
        self.assertEqual(self.rec.all_bytes(), b"", "HTTP/2 bytes reached the app in safe_blocking%s"
                         % c.transcript())

    def test_tls_still_passes_counted(self):
        hello = tls_client_hello()
        c = self.conn(self.px.port, timeout=3)
        c.send(hello)
        rec = self.wait_recorded(len(hello), timeout=2)
        self.assertEqual(rec, hello, "TLS ClientHello not passed through unchanged in block mode "
                                     "(an app terminating TLS itself must keep working)")
        v = self.px.wait_metric("bulwark_uninspected_connections_total", {"reason": "tls"},
                                lambda x: x > self.m0.get("bulwark_uninspected_connections_total",
                                                          {"reason": "tls"}))
        self.assertGreater(v, self.m0.get("bulwark_uninspected_connections_total", {"reason": "tls"}))


H2C_UPGRADES = {
    "h2c": [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
            ("HTTP2-Settings", "AAMAAABkAAQAAP__")],
    "h2c_upper": [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "H2C"),
                  ("HTTP2-Settings", "AAMAAABkAAQAAP__")],
    "h2c_without_settings": [("Connection", "Upgrade"), ("Upgrade", "h2c")],
    "h2c_in_list": [("Connection", "Upgrade"), ("Upgrade", "foo/1, h2c")],
}


class H2cUpgradeStripped(HardeningCase):
    """`Upgrade: h2c` never reaches the app (no uninspected tunnel after its 101)."""

    MODE = "block"

    def check(self, headers):
        raw = b"GET /page HTTP/1.1\r\nHost: shop.local\r\n" + b"".join(
            ("%s: %s\r\n" % hv).encode() for hv in headers) + b"\r\n"
        c = self.conn(self.px.port, timeout=3)
        c.send(raw)
        r = self.read_response(c, timeout=3)
        self.assertNotEqual(r.status, 101, "the h2c upgrade went through: uninspected tunnel%s"
                            % c.transcript())
        for req in self.recorded_requests():
            for v in req.header_all("upgrade"):
                self.assertNotIn(b"h2c", v.lower(), "Upgrade: h2c forwarded to the app: %r" % req)
        self.assertAlive()


for _n, _h in H2C_UPGRADES.items():
    setattr(H2cUpgradeStripped, "test_" + _n, (lambda h: lambda self: self.check(h))(_h))


class WebSocketStillWorksAndInspected(ProxyTestCase):
    """A WebSocket upgrade keeps working in block mode, and its upgrade request is inspected."""

    @classmethod
    def setUpClass(cls):
        cls.a = cls.class_app()
        cls.px = cls.class_proxy(upstream_port=cls.a.port, config={"mode": "block"})

    def test_websocket_echo_in_block_mode(self):
        w = WsClient(self.px.port)
        self.addCleanup(w.close)
        self.assertEqual(w.handshake.status, 101, w.conn.transcript())
        w.send(0x1, b"hello through the proxy")
        self.assertEqual(w.recv(timeout=3), (True, 0x1, False, b"hello through the proxy"))

    def test_attack_in_upgrade_request_blocked(self):
        before = self.a.stats()["requests"]
        w = WsClient(self.px.port, path="/ws?q=1'%20UNION%20SELECT%20username,password%20FROM%20users--")
        self.addCleanup(w.close)
        self.assertEqual(w.handshake.status, 403, "an attack in the WebSocket upgrade request was not "
                                                  "blocked%s" % w.conn.transcript())
        self.assertEqual(self.a.stats()["requests"], before, "the blocked upgrade reached the app")

    def test_attack_header_in_upgrade_request_blocked(self):
        before = self.a.stats()["requests"]
        w = WsClient(self.px.port, extra_headers=[("X-Search", "<script>alert(document.cookie)</script>")])
        self.addCleanup(w.close)
        self.assertEqual(w.handshake.status, 403, w.conn.transcript())
        self.assertEqual(self.a.stats()["requests"], before)


class RequestTrailersNotMerged(HardeningCase):
    """Trailer fields (Host, Authorization, Cookie) never appear in the head the app receives."""

    def check(self, trailer_lines, forbidden):
        c, got, _ = self.send(chunked_post(trailer_lines))
        st = first_status(got)
        self.assertIsNotNone(st, c.transcript())
        reqs = self.recorded_requests(c.transcript())
        if not reqs:
            self.assertTrue(400 <= st < 500, c.transcript())
            return
        for r in reqs:
            self.assertEqual(r.header_all("host"), [b"shop.local"],
                             "the app's head has Host %r (trailer merged?): %r" % (r.header_all("host"), r))
            for name in forbidden:
                self.assertEqual(r.header_all(name), [], "trailer %s merged into the head: %r" % (name, r))
        self.assertAlive()

    def test_trailer_host(self):
        self.check(b"Host: evil.example\r\n", [])

    def test_trailer_authorization(self):
        self.check(b"Authorization: Bearer stolen-token\r\n", ["authorization"])

    def test_trailer_cookie(self):
        self.check(b"Cookie: session=attacker\r\n", ["cookie"])

    def test_trailer_all_three(self):
        self.check(b"Host: evil.example\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\nCookie: a=b\r\n",
                   ["authorization", "cookie"])

    def test_trailer_x_forwarded_for(self):
        self.check(b"X-Forwarded-For: 10.0.0.1\r\n", [])
        for r in self.recorded_requests():
            self.assertNotIn(b"10.0.0.1", b",".join(r.header_all("x-forwarded-for")),
                             "a trailer X-Forwarded-For reached the head: %r" % r)


class RequestTrailersInspected(HardeningCase):
    """block: an attack in a request trailer is seen (the request does not reach the app whole)."""

    MODE = "block"

    def test_sqli_in_trailer_blocked(self):
        c, got, _ = self.send(chunked_post(b"X-Query: " + SQLI + b"\r\n"))
        st = first_status(got)
        self.assertIn(st, (400, 403), "an attack in a trailer passed block mode%s" % c.transcript())
        time.sleep(0.2)
        for reqs, left, err in self.rec.requests():
            self.assertEqual(reqs, [], "the request with the trailer attack reached the app complete")
        self.assertAlive()


if __name__ == "__main__":
    unittest.main()

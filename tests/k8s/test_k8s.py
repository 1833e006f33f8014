#!/usr/bin/env python3
"""The chart and the webhook against a real Kubernetes API server (tests/k8s/controlplane.py):
`helm install`, `kubectl apply` of the example Deployment, the Pod the ReplicaSet controller
created read back from the API server — and then run by the kubelet-like runner of the e2e tests
(tests/e2e/podrunner.py): label → webhook → stored Pod → capture → proxy → app.

Run through tests/k8s/run.sh (builds the control plane, fetches helm/kubectl). Needs root.
A summary table is printed at the end.
"""

import copy
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import controlplane  # noqa: E402
import podrunner  # noqa: E402
import proc  # noqa: E402
from podrunner import CLIENT_V4  # noqa: E402

RELEASE_NS = "bulwark"
EXCLUDED_NS = "legacy"
SUMMARY = proc.Summary(lambda: "kubernetes e2e summary (kube-apiserver %s)"
                       % os.environ.get("BULWARK_K8S_VERSION", "?"))
record = SUMMARY.record


def tearDownModule():  # noqa: N802 (unittest naming)
    SUMMARY.print()


def need(cond, msg):
    if cond:
        return
    if os.environ.get("CI") == "true":
        raise AssertionError("CI=true and the test cannot run: " + msg)
    raise unittest.SkipTest(msg)


def example(path, namespace, labels=None, annotations=None, drop_labels=(), name=None):
    objs = podrunner.load_objects(os.path.join(REPO, "examples", path))
    dep = copy.deepcopy([o for o in objs if o["kind"] == "Deployment"][0])
    dep["metadata"]["namespace"] = namespace
    if name:
        dep["metadata"]["name"] = name
        dep["metadata"]["labels"]["app"] = name
        dep["spec"]["selector"]["matchLabels"]["app"] = name
        dep["spec"]["template"]["metadata"]["labels"]["app"] = name
    meta = dep["spec"]["template"]["metadata"]
    for k in drop_labels:
        meta["labels"].pop(k, None)
    meta["labels"].update(labels or {})
    if annotations:
        meta.setdefault("annotations", {}).update(annotations)
    return dep


class ChartOnApiServer(unittest.TestCase):
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        need(podrunner.is_root_with_net_admin(), "needs root with CAP_NET_ADMIN")
        cls.k8s_bin = os.environ.get("BULWARK_K8S_BIN", "")
        need(all(os.access(os.path.join(cls.k8s_bin, b), os.X_OK)
                 for b in ("etcd", "kube-apiserver", "kube-controller-manager")),
             "control plane not built (tests/k8s/build.sh; BULWARK_K8S_BIN)")
        cls.tools = os.environ.get("BULWARK_HELM_BIN_DIR", "")
        need(os.access(os.path.join(cls.tools, "helm"), os.X_OK), "helm/kubectl not installed")
        cls.bin = os.environ.get("BULWARK_BIN_DIR") or os.path.dirname(
            os.environ.get("BULWARK_INIT_BIN_DEFAULT", os.path.join(REPO, "build/bin/x")))
        need(all(os.access(os.path.join(cls.bin, b), os.X_OK)
                 for b in podrunner.BULWARK_BINARIES), "bulwark binaries not built")
        cls.cp = controlplane.ControlPlane(cls.k8s_bin, cls.tools)
        try:
            cls.cp.start()
            record("control plane up (etcd, kube-apiserver, kube-controller-manager)", True,
                   "%.1f s" % cls.cp.timings["start_s"])
            t0 = time.monotonic()
            cls.cp.install_chart(os.path.join(REPO, "charts", "bulwark"), namespace=RELEASE_NS,
                                 sets=["webhook.excludeNamespaces={%s}" % EXCLUDED_NS])
            record("helm install", True, "%.1f s" % (time.monotonic() - t0))
            cls.start_webhook()
        except BaseException:
            cls.cp.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stop_webhook()
        cls.cp.stop()

    # -- the webhook on the control plane's network ---------------------------------------------
    @classmethod
    def start_webhook(cls):
        cls.cp.start_webhook(os.path.join(cls.bin, "bulwark-webhook"))

    @classmethod
    def stop_webhook(cls):
        cls.cp.stop_webhook()

    # -- helpers -----------------------------------------------------------------------------------
    def namespace(self, name):
        return self.cp.namespace(name)

    def apply(self, obj):
        return self.cp.apply(obj)

    def pod_of(self, dep, timeout=30):
        return self.cp.pod_of(dep, timeout)

    @staticmethod
    def names(pod, key="containers"):
        return [c["name"] for c in pod["spec"].get(key) or []]

    def run_pod(self, pod):
        r = podrunner.PodRunner(pod, self.bin, podrunner.demo_standin, log=lambda s: None)
        self.addCleanup(r.stop)
        r.start()
        return r

    def get(self, r, port, path):
        res = r.client(["curl", "-s", "--path-as-is", "-m", "5", "-o", "/dev/null", "-D", "-",
                        "-w", "\n%{http_code}", "http://%s:%d%s" % (r.ip, port, path)],
                       check=False)
        code = res.stdout.strip().rsplit("\n", 1)[-1]
        rid = [line.split(":", 1)[1].strip() for line in res.stdout.splitlines()
               if line.lower().startswith("x-request-id:")]
        return (int(code) if code.isdigit() else 0), (rid[0] if rid else "")

    def assert_traffic(self, r, port, label):
        clean, _ = self.get(r, port, "/api/items?id=7")
        status, rid = self.get(r, port, "/etc/passwd")
        ev = [e for e in podrunner.events_of(r) if e.get("request_id") == rid]
        ok = clean == 200 and status == 200 and len(ev) == 1 and ev[0]["client"] == CLIENT_V4
        record(label, ok, "clean %d, attack %d, event %s from %s" % (
            clean, status, ev[0]["action"] if ev else "-", ev[0]["client"] if ev else "-"))
        self.assertEqual(clean, 200)
        self.assertEqual(status, 200)   # monitoring, the chart's default
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["action"], "logged")
        self.assertEqual(ev[0]["client"], CLIENT_V4)

    # -- cases -------------------------------------------------------------------------------------
    def test_01_labelled_pod_injected_stored_and_run(self):
        ns = self.namespace("shop")
        dep = example("app-deployment.yaml", ns)
        self.apply(dep)
        pod = self.pod_of(dep)
        self.assertEqual(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet")
        self.assertEqual(self.names(pod, "initContainers")[:1], ["bulwark-init"])
        self.assertIn("bulwark-proxy", self.names(pod))
        init = pod["spec"]["initContainers"][0]
        self.assertEqual(sorted(init["securityContext"]["capabilities"]["add"]),
                         ["NET_ADMIN", "NET_RAW"])
        vols = [v["name"] for v in pod["spec"]["volumes"]]
        self.assertIn("bulwark-run", vols)
        self.assertIn("bulwark-policy", vols)
        status = json.loads(pod["metadata"]["annotations"]["sidecar.bulwark.dev/status"])
        self.assertEqual(status["proxyPort"], 26001)
        record("labelled Deployment -> stored Pod injected", True,
               "init %s, containers %s" % (self.names(pod, "initContainers"), self.names(pod)))
        r = self.run_pod(pod)
        self.assertEqual(set(r.identity["bulwark-init"]["caps"]), {"NET_ADMIN", "NET_RAW"})
        self.assertEqual(r.identity["bulwark-proxy"]["uid"], 101)
        self.assert_traffic(r, 8080, "stored Pod run: capture -> proxy -> app (monitoring)")

    def test_02_unlabelled_and_disabled_not_injected(self):
        ns = self.namespace("plain")
        for name, labels, drop in (("unlabelled", {}, ["bulwark-sidecar"]),
                                   ("disabled", {"bulwark-sidecar": "disabled"}, [])):
            dep = example("app-deployment.yaml", ns, labels=labels, drop_labels=drop, name=name)
            self.apply(dep)
            pod = self.pod_of(dep)
            ok = self.names(pod) == ["shop"] and not pod["spec"].get("initContainers")
            record("%s Deployment -> Pod not injected" % name, ok, self.names(pod))
            self.assertTrue(ok, pod["spec"])

    def test_03_wallarm_label_and_annotations(self):
        ns = self.namespace("wallarm")
        dep = example("app-deployment-wallarm.yaml", ns)
        self.apply(dep)
        pod = self.pod_of(dep)
        self.assertIn("bulwark-proxy", self.names(pod))
        proxy = [c for c in pod["spec"]["containers"] if c["name"] == "bulwark-proxy"][0]
        args = proxy.get("args", [])
        self.assertEqual(args[args.index("--mode") + 1], "monitoring")
        self.assertEqual(args[args.index("--app-port") + 1], "8080")
        record("wallarm-sidecar label + sidecar.wallarm.io annotations", True,
               "injected, --mode monitoring --app-port 8080")
        self.assert_traffic(self.run_pod(pod), 8080, "wallarm-style Pod run")

    def test_04_capture_off_proxy_port(self):
        ns = self.namespace("nocapture")
        dep = example("app-deployment.yaml", ns, annotations={
            "sidecar.bulwark.dev/sidecar-injection-iptables-enable": "false"})
        self.apply(dep)
        pod = self.pod_of(dep)
        self.assertFalse([n for n in self.names(pod, "initContainers") if n == "bulwark-init"])
        proxy = [c for c in pod["spec"]["containers"] if c["name"] == "bulwark-proxy"][0]
        port = [p for p in proxy["ports"] if p.get("name") == "proxy"][0]["containerPort"]
        record("capture off -> no init, container port 'proxy'", True, port)
        self.assert_traffic(self.run_pod(pod), port, "capture off: client -> port proxy -> app")

    def test_09_ebpf_capture(self):
        """capture-mode ebpf on a real API server: the stored Pod keeps bulwark-hold as a native
        sidecar (restartPolicy Always survives validation and defaulting), and run with the real
        sk_lookup program it steers v4 and v6 to the proxy, which blocks the attack."""
        need(os.access(os.path.join(self.bin, "bulwark-init"), os.X_OK) and "ebpf" in
             subprocess.run([os.path.join(self.bin, "bulwark-init"), "--help"],
                            capture_output=True, text=True, timeout=10).stdout,
             "bulwark-init built without the BPF program")
        from test_capture_ebpf import holder_call
        ns = self.namespace("ebpf")
        dep = example("app-deployment.yaml", ns, annotations={
            "sidecar.bulwark.dev/capture-mode": "ebpf", "sidecar.bulwark.dev/mode": "block"})
        self.apply(dep)
        pod = self.pod_of(dep)
        self.assertEqual(self.names(pod, "initContainers")[:2], ["bulwark-hold", "bulwark-init"])
        hold = pod["spec"]["initContainers"][0]
        self.assertEqual(hold.get("restartPolicy"), "Always")
        self.assertEqual(hold["startupProbe"]["exec"]["command"][:2], ["bulwark-init", "verify"])
        self.assertEqual(sorted(hold["securityContext"]["capabilities"]["add"]),
                         ["BPF", "NET_ADMIN"])
        status = json.loads(pod["metadata"]["annotations"]["sidecar.bulwark.dev/status"])
        self.assertEqual(status["capture"], "ebpf")
        record("capture-mode ebpf: stored Pod", True,
               "initContainers %s" % self.names(pod, "initContainers"))
        r = self.run_pod(pod)
        self.assertEqual(r.identity["bulwark-init"]["caps"], [])
        sock = os.path.join(r.volumes["bulwark-run"], "control.sock")
        deadline = time.monotonic() + 5
        while holder_call(sock, {"op": "status"})["listeners"] != {"ipv4": True, "ipv6": True}:
            self.assertLess(time.monotonic(), deadline, "the proxy's sockets never arrived")
            time.sleep(0.02)
        self.assertNotIn("table inet bulwark", r.inpod(["nft", "list", "tables"]).stdout)
        clean, _ = self.get(r, 8080, "/api/items?id=7")
        status_code, rid = self.get(r, 8080, "/etc/passwd")
        v6 = r.client(["curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
                       "http://[%s]:8080/?q=%%3Cscript%%3Ealert(1)%%3C/script%%3E" % r.ip6],
                      check=False).stdout
        ev = [e for e in podrunner.events_of(r) if e.get("request_id") == rid]
        steered = dict(holder_call(sock, {"op": "status"})["counters"]).get("steered", 0)
        ok = clean == 200 and status_code == 403 and v6 == "403" and len(ev) == 1 and \
            ev[0]["client"] == CLIENT_V4 and steered >= 3
        record("capture-mode ebpf Pod run: sk_lookup -> proxy (block)", ok,
               "clean %d, attack %d (v6 %s), steered %d, event %s from %s" % (
                   clean, status_code, v6, steered, ev[0]["action"] if ev else "-",
                   ev[0]["client"] if ev else "-"))
        self.assertEqual((clean, status_code, v6), (200, 403, "403"))
        self.assertEqual(len(ev), 1)
        self.assertEqual((ev[0]["action"], ev[0]["client"]), ("blocked", CLIENT_V4))
        self.assertGreaterEqual(steered, 3)

    def test_05_native_sidecar(self):
        ns = self.namespace("native")
        dep = example("app-deployment.yaml", ns, annotations={
            "sidecar.bulwark.dev/native-sidecar": "true"})
        self.apply(dep)
        pod = self.pod_of(dep)
        inits = {c["name"]: c for c in pod["spec"].get("initContainers") or []}
        self.assertIn("bulwark-proxy", inits)
        self.assertEqual(inits["bulwark-proxy"].get("restartPolicy"), "Always")
        self.assertNotIn("bulwark-proxy", self.names(pod))
        record("native sidecar stored by the API server", True,
               "initContainers %s" % list(inits))
        self.assert_traffic(self.run_pod(pod), 8080, "native-sidecar Pod run")

    def test_06_excluded_namespaces(self):
        for ns in (RELEASE_NS, "kube-system", self.namespace(EXCLUDED_NS)):
            dep = example("app-deployment.yaml", ns, name="excl")
            self.apply(dep)
            pod = self.pod_of(dep)
            ok = "bulwark-proxy" not in self.names(pod)
            record("labelled Pod in excluded namespace %s -> not injected" % ns, ok,
                   self.names(pod))
            self.assertTrue(ok)

    def test_07_hostile_annotation_admitted_with_warning(self):
        ns = self.namespace("hostile")
        pod = podrunner.pod_from_deployment(example("app-deployment.yaml", ns))
        meta = pod["metadata"]
        meta["name"] = "hostile"
        del meta["generateName"], meta["ownerReferences"]
        meta.setdefault("annotations", {}).update({
            "sidecar.bulwark.dev/capture-mode": "nftables; reboot",
            "sidecar.bulwark.dev/proxy-port": "99999"})
        res = self.cp.kubectl("create", "-f", "-", input=json.dumps(pod))
        warnings = [line for line in res.stderr.splitlines() if line.startswith("Warning:")]
        stored = self.cp.kubectl_json("get", "pod", "hostile", "-n", ns)
        status = json.loads(stored["metadata"]["annotations"]["sidecar.bulwark.dev/status"])
        ok = len(warnings) >= 2 and status["proxyPort"] == 26001 and status["capture"] == "auto"
        record("hostile annotations -> admitted, defaults, kubectl warnings", ok,
               "%d warnings" % len(warnings))
        self.assertTrue(ok, (res.stderr, status))

    def test_08_helm_upgrade_keeps_certificate(self):
        def state():
            s = [x for x in self.cp.kubectl_json("get", "secrets", "-n", RELEASE_NS)["items"]
                 if x.get("type") == "kubernetes.io/tls"][0]["data"]
            mwc = self.cp.kubectl_json("get", "mutatingwebhookconfigurations")["items"]
            return s["tls.crt"], [w["clientConfig"].get("caBundle") for m in mwc
                                  for w in m["webhooks"]]
        before = state()
        self.cp.helm("upgrade", "bulwark", os.path.join(REPO, "charts", "bulwark"), "-n",
                     RELEASE_NS, "--reuse-values", "--set", "controller.replicaCount=3")
        after = state()
        record("helm upgrade keeps certificate and caBundle", before == after,
               "same" if before == after else "changed")
        self.assertEqual(before, after)
        ns = self.namespace("afterupgrade")
        dep = example("app-deployment.yaml", ns)
        self.apply(dep)
        self.assertIn("bulwark-proxy", self.names(self.pod_of(dep)))

    def test_50_demo_through_the_api_server(self):
        """scripts/demo.sh --apiserver: its own control plane, the stored Pods run."""
        out = os.path.join(self.cp.dir, "demo.json")
        env = dict(os.environ, BULWARK_BIN_DIR=self.bin)
        res = subprocess.run([os.path.join(REPO, "scripts", "demo.sh"), "--no-build",
                              "--apiserver", "--json-out", out], capture_output=True, text=True,
                             timeout=300, env=env)
        self.assertEqual(res.returncode, 0, res.stdout[-3000:] + res.stderr[-2000:])
        with open(out) as f:
            doc = json.load(f)
        runs = {r["mode"]: r for r in doc["runs"]}
        att = {m: [r["status"] for r in runs[m]["requests"] if r["kind"] == "attack"]
               for m in runs}
        cln = {m: [r["status"] for r in runs[m]["requests"] if r["kind"] == "clean"]
               for m in runs}
        ok = (set(att["monitoring"]) == {200} and set(att["block"]) == {403} and
              set(cln["monitoring"]) == set(cln["block"]) == {200} and doc["ok"])
        record("demo --apiserver: monitoring 200 + events, block 403, clean 200", ok,
               "attacks %d/%d, events %d/%d" % (len(att["monitoring"]), len(att["block"]),
                                                len(runs["monitoring"]["events"]),
                                                len(runs["block"]["events"])))
        self.assertTrue(ok, res.stdout[-3000:])

    def test_90_webhook_down_fail_then_ignore(self):
        type(self).stop_webhook()
        try:
            ns = self.namespace("down")
            dep = example("app-deployment.yaml", ns, name="down-fail")
            self.apply(dep)
            time.sleep(5)
            pods = self.cp.kubectl_json("get", "pods", "-n", ns, "-l", "app=down-fail")["items"]
            events = self.cp.kubectl("get", "events", "-n", ns, "-o",
                                     "jsonpath={.items[*].message}").stdout
            ok_fail = not pods and "failed calling webhook" in events
            record("webhook down, failurePolicy Fail -> no pod", ok_fail,
                   "%d pods, event: %s" % (len(pods), "failed calling webhook"
                                           if "failed calling webhook" in events else "-"))
            self.assertTrue(ok_fail, events[-500:])
            self.cp.helm("upgrade", "bulwark", os.path.join(REPO, "charts", "bulwark"), "-n",
                         RELEASE_NS, "--reuse-values", "--set", "webhook.failurePolicy=Ignore")
            dep2 = example("app-deployment.yaml", ns, name="down-ignore")
            self.apply(dep2)
            pod = self.pod_of(dep2)
            ok = self.names(pod) == ["shop"]
            record("webhook down, failurePolicy Ignore -> pod, not injected", ok,
                   self.names(pod))
            self.assertTrue(ok)
        finally:
            self.cp.helm("upgrade", "bulwark", os.path.join(REPO, "charts", "bulwark"), "-n",
                         RELEASE_NS, "--reuse-values", "--set", "webhook.failurePolicy=Fail",
                         check=False)
            type(self).start_webhook()

    def test_99_helm_uninstall_removes_webhook(self):
        self.cp.helm("uninstall", "bulwark", "-n", RELEASE_NS)
        mwc = self.cp.kubectl_json("get", "mutatingwebhookconfigurations")["items"]
        record("helm uninstall removes the MutatingWebhookConfiguration", not mwc,
               "%d left" % len(mwc))
        self.assertEqual(mwc, [])
        ns = self.namespace("afteruninstall")
        dep = example("app-deployment.yaml", ns)
        self.apply(dep)
        self.assertEqual(self.names(self.pod_of(dep)), ["shop"])


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stderr).run(suite)
    if not result.wasSuccessful():
        return 1
    if result.skipped and not SUMMARY.rows:
        return 77   # ctest: skipped (setUpClass skipped everything)
    return 0


if __name__ == "__main__":
    sys.exit(main())

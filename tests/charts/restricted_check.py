#!/usr/bin/env python3
"""The non-privileged path: pods injected with capture off must fit Kubernetes Pod Security
`restricted` and the OpenShift SCC bulwark-sidecar; pods with capture on must fit bulwark-capture.

Input: the webhook's golden outputs (tests/golden/webhook/*.golden.json: input pod, patched pod,
status annotation), produced and checked by bulwark_webhook_tests / webhook_k8s_schema.

For every golden with capture "none":
  * the injected containers and volumes satisfy every `restricted` rule (Pod Security Standards,
    Kubernetes 1.33: baseline + restricted), and the injection adds no pod-level violation
    (violations(patched) - violations(input) is empty: an app that already fits keeps fitting);
  * the injected containers fit openshift/scc-bulwark-sidecar.yaml (UID, capabilities, volume
    types, seccomp, read-only root, no escalation).
As a control, every golden with capture on must be flagged (the init container needs NET_ADMIN
and UID 0), and must fit openshift/scc-bulwark-capture.yaml instead.

usage: restricted_check.py GOLDEN_DIR OPENSHIFT_DIR
"""
import glob
import json
import os
import re
import sys

# Pod Security Standards (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}
BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                 "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


RESTRICTED_APP = {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 1000,
                  "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def all_containers(spec):
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(kind) or []:
            yield kind, c


def violations(pod):
    """Every restricted-profile violation of the pod, as stable strings."""
    out = set()
    spec = pod.get("spec") or {}
    psc = spec.get("securityContext") or {}
    for f in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(f):
            out.add(f"pod: {f}")
    for v in spec.get("volumes") or []:
        types = [k for k in v if k != "name"]
        for t in types:
            if t not in RESTRICTED_VOLUMES:
                out.add(f"volume {v['name']}: type {t}")
    for s in psc.get("sysctls") or []:
        if s.get("name") not in SAFE_SYSCTLS:
            out.add(f"pod: sysctl {s.get('name')}")
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        out.add("pod: hostProcess")
    if psc.get("runAsUser") == 0:
        out.add("pod: runAsUser 0")
    for where, opts in (("pod", psc.get("seLinuxOptions")),):
        if opts and (opts.get("type", "") not in SELINUX_TYPES or opts.get("user") or opts.get("role")):
            out.add(f"{where}: seLinuxOptions")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        out.add("pod: seccomp Unconfined")
    pod_apparmor = (psc.get("appArmorProfile") or {}).get("type")
    if pod_apparmor == "Unconfined":
        out.add("pod: appArmor Unconfined")
    for kind, c in all_containers(spec):
        name = f"{kind}/{c['name']}"
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.add(f"{name}: privileged")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.add(f"{name}: hostProcess")
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.add(f"{name}: hostPort")
        if sc.get("procMount", "Default") != "Default":
            out.add(f"{name}: procMount")
        opts = sc.get("seLinuxOptions")
        if opts and (opts.get("type", "") not in SELINUX_TYPES or opts.get("user") or opts.get("role")):
            out.add(f"{name}: seLinuxOptions")
        if (sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
            out.add(f"{name}: appArmor Unconfined")
        # restricted
        if sc.get("allowPrivilegeEscalation") is not False:
            out.add(f"{name}: allowPrivilegeEscalation not false")
        non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        if non_root is not True:
            out.add(f"{name}: runAsNonRoot not true")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            out.add(f"{name}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.add(f"{name}: seccompProfile {seccomp}")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.add(f"{name}: capabilities do not drop ALL")
        for cap in caps.get("add") or []:
            if cap != "NET_BIND_SERVICE":
                out.add(f"{name}: adds capability {cap}")
    return out


def load_scc(path):
    """The few fields we check, from openshift/scc-*.yaml (plain block YAML; no PyYAML needed)."""
    text = open(path, encoding="utf-8").read()

    def lst(key):
        m = re.search(rf"^{key}:\n((?:  - .*\n)+)", text, re.M)
        return [x.strip()[2:].strip() for x in m.group(1).splitlines()] if m else []

    def scalar(key):
        m = re.search(rf"^{key}: *(.*)$", text, re.M)
        return m.group(1).strip() if m else None

    run_as = re.search(r"^runAsUser:\n  type: (\w+)(?:\n  uid: (\d+))?", text, re.M)
    return {
        "name": re.search(r"^  name: (\S+)", text, re.M).group(1),
        "allowedCapabilities": set(lst("allowedCapabilities")),
        "requiredDrop": set(lst("requiredDropCapabilities")),
        "volumes": set(lst("volumes")),
        "seccomp": lst("seccompProfiles"),
        "readOnlyRootFilesystem": scalar("readOnlyRootFilesystem") == "true",
        "allowPrivilegeEscalation": scalar("allowPrivilegeEscalation") == "true",
        "allowPrivilegedContainer": scalar("allowPrivilegedContainer") == "true",
        "runAsUser": (run_as.group(1), int(run_as.group(2)) if run_as.group(2) else None),
    }


def scc_problems(pod, injected, injected_volumes, scc):
    """Whether the injected containers/volumes would be admitted by the SCC."""
    out = []
    spec = pod["spec"]
    psc = spec.get("securityContext") or {}
    for kind, c in all_containers(spec):
        if c["name"] not in injected:
            continue
        sc = c.get("securityContext") or {}
        name = f"{kind}/{c['name']}"
        caps = sc.get("capabilities") or {}
        extra = set(caps.get("add") or []) - scc["allowedCapabilities"]
        if extra:
            out.append(f"{name}: capabilities {sorted(extra)} not allowed by {scc['name']}")
        if scc["requiredDrop"] and not scc["requiredDrop"] <= set(caps.get("drop") or []):
            out.append(f"{name}: does not drop {sorted(scc['requiredDrop'])}")
        rtype, uid = scc["runAsUser"]
        user = sc.get("runAsUser", psc.get("runAsUser"))
        if rtype == "MustRunAs" and user != uid:
            out.append(f"{name}: runAsUser {user}, {scc['name']} requires {uid}")
        if scc["readOnlyRootFilesystem"] and sc.get("readOnlyRootFilesystem") is not True:
            out.append(f"{name}: root filesystem not read-only")
        if not scc["allowPrivilegeEscalation"] and sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: privilege escalation not disabled")
        if not scc["allowPrivilegedContainer"] and sc.get("privileged"):
            out.append(f"{name}: privileged")
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if "runtime/default" in scc["seccomp"] and seccomp != "RuntimeDefault":
            out.append(f"{name}: seccomp {seccomp}")
    for v in spec.get("volumes") or []:
        if v["name"] in injected_volumes:
            for t in (k for k in v if k != "name"):
                if t not in scc["volumes"]:
                    out.append(f"volume {v['name']}: type {t} not allowed by {scc['name']}")
    return out


def main():
    golden_dir, openshift_dir = sys.argv[1], sys.argv[2]
    sidecar = load_scc(os.path.join(openshift_dir, "scc-bulwark-sidecar.yaml"))
    capture = load_scc(os.path.join(openshift_dir, "scc-bulwark-capture.yaml"))
    failures = 0
    counts = {"off": 0, "on": 0}
    for path in sorted(glob.glob(os.path.join(golden_dir, "*.golden.json"))):
        g = json.load(open(path, encoding="utf-8"))
        patched = g.get("patched")
        if not patched:
            continue
        ann = patched["metadata"].get("annotations") or {}
        status = json.loads(ann.get("sidecar.bulwark.dev/status") or ann.get("sidecar.wallarm.io/status") or "{}")
        if not status:
            continue
        injected = set(status.get("containers", [])) | set(status.get("initContainers", []))
        injected_volumes = set(status.get("volumes", []))
        added = sorted(violations(patched) - violations(g["pod"]))
        name = g["case"]
        if status.get("capture") == "none":
            counts["off"] += 1
            problems = added + scc_problems(patched, injected, injected_volumes, sidecar)
            # The whole pod, once the app's own containers are made compliant, has no violation
            # left (unless the input pod breaks a pod-level rule itself, e.g. hostNetwork).
            if not any(v.startswith(("pod:", "volume")) for v in violations(g["pod"])):
                whole = json.loads(json.dumps(patched))
                for _, c in all_containers(whole["spec"]):
                    if c["name"] not in injected:
                        c["securityContext"] = RESTRICTED_APP
                problems += [f"whole pod: {v}" for v in sorted(violations(whole))]
            if problems:
                failures += 1
                print(f"FAIL {name} (capture off): " + "; ".join(problems))
            else:
                print(f"ok   {name}: capture off fits Pod Security restricted and SCC {sidecar['name']}")
        else:
            counts["on"] += 1
            scc = capture
            if status.get("capture") == "ebpf" or "bulwark-hold" in injected:
                # eBPF capture needs CAP_BPF: the SCC with BPF added (openshift.captureCapabilities).
                scc = dict(capture, allowedCapabilities=capture["allowedCapabilities"] | {"BPF"},
                           name=capture["name"] + " + BPF")
            problems = scc_problems(patched, injected, injected_volumes, scc)
            if not added:
                failures += 1
                print(f"FAIL {name} (capture {status.get('capture')}): control: no restricted violation found")
            elif problems:
                failures += 1
                print(f"FAIL {name} (capture {status.get('capture')}): " + "; ".join(problems))
            else:
                print(f"ok   {name}: capture {status.get('capture')} is not restricted ({added[0]}, ...), fits SCC {scc['name']}")
    if counts["off"] == 0:
        failures += 1
        print("FAIL no capture-off golden found (expected deployment-httpbin-capture-off-default, ...)")
    print(f"{counts['off']} capture-off and {counts['on']} capture-on pods checked, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

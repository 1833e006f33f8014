#!/usr/bin/env python3
"""Every command the webhook injects exists among the built binaries and runs.

For each golden case (tests/golden/webhook/*.golden.json) and each injected container
(bulwark-*): command[0] must be a built binary that answers --help with exit 0; a subcommand must
be one the binary's synopsis offers; every --flag in command/args must appear in its --help;
every BULWARK_<X> variable must be the environment form of one of its flags (the binaries read
BULWARK_<FLAG>), except the few the proxy is documented to read from its environment only
(PROXY_ENV_ONLY). Init containers are also run for real as `bulwark-init plan` (the dry run)
with exactly the injected environment: the capture mode and ports they ask for must be ones
the binary accepts.

usage: commands_check.py BIN_DIR GOLDEN_DIR
"""
import json
import os
import re
import subprocess
import sys

# Read by bulwark-proxy from its environment (docs/webhook.md "Environment of the sidecars");
# no command-line flag of the same name.
PROXY_ENV_ONLY = {
    "BULWARK_SCHEMA",
}


def main():
    bin_dir, golden_dir = sys.argv[1], sys.argv[2]
    helps = {}
    failures = []
    checked = 0
    planned = 0

    def help_of(binary):
        if binary not in helps:
            path = os.path.join(bin_dir, binary)
            if not os.access(path, os.X_OK):
                helps[binary] = None
            else:
                r = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=20)
                helps[binary] = r.stdout if r.returncode == 0 else None
        return helps[binary]

    for name in sorted(os.listdir(golden_dir)):
        if not name.endswith(".golden.json"):
            continue
        golden = json.load(open(os.path.join(golden_dir, name)))
        patched = golden.get("patched")
        if not patched:
            continue
        spec = patched["spec"]
        for c in spec.get("initContainers", []) + spec.get("containers", []):
            if not c["name"].startswith("bulwark-"):
                continue
            where = f"{name}: {c['name']}"
            cmd = c.get("command", [])
            if not cmd:
                failures.append(f"{where}: no command")
                continue
            binary = cmd[0]
            text = help_of(binary)
            if text is None:
                failures.append(f"{where}: {binary} is not a built binary answering --help")
                continue
            checked += 1
            synopsis = text.split("\n\n", 1)[0]
            words = cmd[1:] + c.get("args", [])
            if len(cmd) > 1 and not cmd[1].startswith("-"):
                if not re.search(r"(^|[\s|])" + re.escape(cmd[1]) + r"($|[\s|])", synopsis):
                    failures.append(f"{where}: {binary} offers no subcommand '{cmd[1]}'")
            for w in words:
                if w.startswith("--") and f"  {w} " not in text and f"[{w}" not in text:
                    failures.append(f"{where}: {binary} has no flag {w}")
            for e in c.get("env", []):
                env = e["name"]
                if "secretKeyRef" in e.get("valueFrom", {}):
                    continue  # the operator's secret_env, not ours
                if not env.startswith("BULWARK_"):
                    continue
                flag = "--" + env[len("BULWARK_"):].lower().replace("_", "-")
                if f"  {flag} " in text:
                    continue
                if binary == "bulwark-proxy" and env in PROXY_ENV_ONLY:
                    continue
                failures.append(f"{where}: {env} is not the environment form of a {binary} flag")
            # exec probes run the image's commands too (bulwark-hold: bulwark-init verify).
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                pcmd = (c.get(kind) or {}).get("exec", {}).get("command") or []
                if not pcmd:
                    continue
                ptext = help_of(pcmd[0])
                if ptext is None:
                    failures.append(f"{where}: {kind} runs {pcmd[0]}, not a built binary")
                    continue
                psyn = ptext.split("\n\n", 1)[0]
                if len(pcmd) > 1 and not re.search(r"(^|[\s|])" + re.escape(pcmd[1]) +
                                                   r"($|[\s|])", psyn):
                    failures.append(f"{where}: {kind}: {pcmd[0]} offers no subcommand '{pcmd[1]}'")
                for i, w in enumerate(pcmd[2:], 2):
                    if w.startswith("--") and f"  {w} " not in ptext and f"[{w}" not in ptext:
                        failures.append(f"{where}: {kind}: {pcmd[0]} has no flag {w}")
                    if pcmd[i - 1] == "--mode" and not re.search(r"[\s|]" + re.escape(w) + r"[\s|\]]",
                                                                 psyn):
                        failures.append(f"{where}: {kind}: {pcmd[0]} offers no mode '{w}'")
            if binary == "bulwark-init" and len(cmd) > 1 and cmd[1] == "apply":
                env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
                for e in c.get("env", []):
                    if "value" in e:
                        env[e["name"]] = e["value"]
                    elif e.get("valueFrom", {}).get("fieldRef"):
                        env[e["name"]] = "198.18.0.10"  # status.podIP / hostIP stand-in
                env["XTABLES_LOCKFILE"] = "/tmp/bulwark-commands-check.lock"
                r = subprocess.run([os.path.join(bin_dir, binary), "plan"], env=env,
                                   capture_output=True, text=True, timeout=20)
                if r.returncode != 0:
                    failures.append(f"{where}: bulwark-init plan with the injected env exits "
                                    f"{r.returncode}: {r.stderr.strip()[:200]}")
                elif "# --- nftables ---" in r.stdout:
                    # The injected app ports, excluded ports and excluded CIDRs are in the rules.
                    nft = r.stdout.split("# --- nftables ---", 1)[1].split("# ---", 1)[0]
                    want = []
                    ports = env.get("BULWARK_APP_PORT", "")
                    if ports and ports != "all":
                        want += [f"tcp dport {p} redirect" for p in ports.split(",")]
                    want += [f"tcp dport {p} return" for p in
                             filter(None, env.get("BULWARK_EXCLUDE_PORT", "").split(","))]
                    want += [f"saddr {n} return" for n in
                             filter(None, env.get("BULWARK_EXCLUDE_CIDR", "").split(","))]
                    for w in want:
                        if w not in nft:
                            failures.append(f"{where}: the injected env gives no rule '{w}'")
                    planned += len(want)
    for f in failures:
        print("FAIL", f)
    print(f"{checked} injected containers checked against {sorted(helps)}; "
          f"{planned} injected ports/exclusions found in the planned rules")
    if planned == 0:
        print("FAIL no injected port or exclusion was checked in a planned rule set")
        return 1
    if checked == 0:
        print("FAIL no injected container found")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

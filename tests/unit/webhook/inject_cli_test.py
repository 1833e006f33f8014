#!/usr/bin/env python3
"""`bulwark-webhook inject` (the offline injector) gives the same pods as the webhook.

Each workload fixture (kubectl output) is run through the binary; its mutated pod template must
equal the `patched` pod of the webhook's golden case for the same fixture (generateName and
namespace, which only the API server adds, aside). Also: stdin, a List, an unlabelled workload
passes unchanged with a warning, and bad input exits 2.

usage: inject_cli_test.py BULWARK_WEBHOOK GOLDEN_DIR
"""
import json
import os
import subprocess
import sys

CASES = ["deployment-httpbin", "deployment-two-containers", "job-no-ports", "cronjob-native",
         "deployment-not-labelled"]


def template_of(obj):
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]


def main():
    binary, golden = sys.argv[1], sys.argv[2]
    failures = []

    def run(args, stdin=None):
        return subprocess.run([binary, "inject"] + args, input=stdin, capture_output=True,
                              text=True, timeout=30)

    items = []
    for case in CASES:
        fixture = os.path.join(golden, "fixtures", case + ".json")
        r = run(["-f", fixture])
        if r.returncode != 0:
            failures.append(f"{case}: exit {r.returncode}: {r.stderr[:200]}")
            continue
        out = json.loads(r.stdout)
        items.append(json.load(open(fixture)))
        g = json.load(open(os.path.join(golden, case + ".golden.json")))
        tmpl = template_of(out)
        if g["patched"] is None:
            if tmpl != template_of(json.load(open(fixture))):
                failures.append(f"{case}: not injected by the webhook, changed offline")
            if "not injected" not in r.stderr:
                failures.append(f"{case}: no warning saying why it was not injected")
            continue
        want = g["patched"]
        if tmpl["spec"] != want["spec"]:
            failures.append(f"{case}: pod spec differs from the webhook golden")
        got_ann = tmpl["metadata"].get("annotations", {})
        if got_ann != want["metadata"].get("annotations", {}):
            failures.append(f"{case}: annotations differ from the webhook golden")
        print(f"ok   {case}: offline result = webhook golden")
    # stdin and a List
    lst = {"apiVersion": "v1", "kind": "List", "items": items}
    r = run(["-f", "-"], json.dumps(lst))
    if r.returncode != 0 or len(json.loads(r.stdout)["items"]) != len(items):
        failures.append(f"List from stdin: exit {r.returncode} {r.stderr[:200]}")
    else:
        injected = sum(1 for it in json.loads(r.stdout)["items"]
                       if "bulwark-proxy" in json.dumps(template_of(it)))
        print(f"ok   List of {len(items)} from stdin, {injected} injected")
        if injected != len(items) - 1:
            failures.append(f"List: {injected} injected, want {len(items) - 1}")
    for bad in ["", "apiVersion: v1\nkind: Pod\n", "[1,2]"]:
        r = run(["-f", "-"], bad)
        if r.returncode != 2:
            failures.append(f"bad input {bad[:20]!r}: exit {r.returncode}, want 2")
    if run([]).returncode != 2:
        failures.append("no -f: want exit 2")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

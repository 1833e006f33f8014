// Independent checks of the webhook's golden outputs (run by k8s_check.sh):
//  1. every JSON Patch validates and applies with fast-json-patch (not nlohmann's patch()) and
//     gives exactly the golden patched pod;
//  2. every patched pod validates against the Kubernetes OpenAPI schemas of kubernetes-models
//     5.1.0 (Kubernetes 1.33 fields and newer) and 1.0.3 (Kubernetes 1.19.2; pods that use
//     native sidecars, a 1.28+ field, are checked for 1.19 with that field expected absent);
//  3. strict field validation like the API server's: no field unknown to the schema (the
//     OpenAPI schemas do not forbid unknown fields, so this walks them by hand).
"use strict";
const fs = require("fs");
const path = require("path");

const [golden, cache] = process.argv.slice(2);
const newDir = path.join(cache, "k8s-1.33", "node_modules");
const oldDir = path.join(cache, "k8s-1.19", "node_modules");
const jsonpatch = require(path.join(newDir, "fast-json-patch"));
const PodNew = require(path.join(newDir, "kubernetes-models", "v1")).Pod;
const PodOld = require(path.join(oldDir, "kubernetes-models", "v1")).Pod;

// --- field lists ---------------------------------------------------------------------------
// 1.19: the JSON schemas embedded in kubernetes-models 1.0.3 (_schemas/<Id>.js).
const oldSchemas = new Map();
function oldFields(id) {
  if (!oldSchemas.has(id)) {
    const file = path.join(oldDir, "kubernetes-models", "_schemas",
                           id.replace(/#$/, "").split(/[.-]/).map((s) => s[0].toUpperCase() + s.slice(1)).join("") + ".js");
    const src = fs.readFileSync(file, "utf8");
    const m = src.match(/const schema = (\{[\s\S]*?\n\});/);
    oldSchemas.set(id, m ? Function(`return ${m[1]}`)() : {});
  }
  const schema = oldSchemas.get(id);
  const props = schema.properties;
  if (!props) {
    return null;
  }
  const out = {};
  for (const [k, v] of Object.entries(props)) {
    const ref = v.$ref || (v.items && v.items.$ref);
    out[k] = ref ? ref : null;
  }
  return out;
}

// 1.33+: the TypeScript declarations of kubernetes-models 5.1.0, and the walker reporting
// fields unknown to a type (shared with the chart check: tests/testlib/k8s_fields.js).
const { newFields, unknownFields } = require(path.join(__dirname, "..", "..", "testlib", "k8s_fields.js"));

function sorted(v) {
  if (Array.isArray(v)) {
    return v.map(sorted);
  }
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]));
  }
  return v;
}

let failures = 0;
let checked = 0;
const fail = (name, msg) => {
  failures++;
  console.log(`FAIL ${name}: ${msg}`);
};
for (const file of fs.readdirSync(golden).filter((f) => f.endsWith(".golden.json")).sort()) {
  const g = JSON.parse(fs.readFileSync(path.join(golden, file), "utf8"));
  const name = g.case;
  if (g.patch === null) {
    if (g.patched !== null) {
      fail(name, "patched pod without a patch");
    }
    continue;
  }
  const before = failures;
  const err = jsonpatch.validate(g.patch, JSON.parse(JSON.stringify(g.pod)));
  if (err) {
    fail(name, `fast-json-patch rejects the patch: ${err.name} ${err.message}`);
    continue;
  }
  const patched = jsonpatch.applyPatch(JSON.parse(JSON.stringify(g.pod)), g.patch, true, false)
                      .newDocument;
  if (JSON.stringify(sorted(patched)) !== JSON.stringify(sorted(g.patched))) {
    fail(name, "fast-json-patch result differs from the golden patched pod");
  }
  const native = (patched.spec.initContainers || []).some((c) => c.restartPolicy);
  try {
    new PodNew(patched).validate();
  } catch (e) {
    fail(name, `Kubernetes 1.33 schema: ${e.message}`);
  }
  const unknownNew = [];
  unknownFields(patched, path.join(newDir, "kubernetes-models", "v1", "Pod.d.ts"), newFields,
                "pod", unknownNew);
  if (unknownNew.length) {
    fail(name, `fields unknown to Kubernetes 1.33: ${unknownNew.join(", ")}`);
  }
  try {
    new PodOld(patched).validate();
  } catch (e) {
    fail(name, `Kubernetes 1.19 schema: ${e.message}`);
  }
  const unknownOld = [];
  unknownFields(patched, "io.k8s.api.core.v1.Pod#", oldFields, "pod", unknownOld);
  // Newer fields are expected only where the golden's configuration says the cluster has them:
  // native sidecars (restartPolicy, 1.29+) and the preStop sleep action (1.30+).
  const kv = /^v?(\d+)\.(\d+)/.exec((g.config && g.config.kubernetes_version) || "");
  const sleepOk = kv && (Number(kv[1]) > 1 || Number(kv[2]) >= 30);
  const expectedOld = unknownOld.filter((f) => !(native && /\.restartPolicy$/.test(f)) &&
                                               !(sleepOk && /\.lifecycle\.preStop\.sleep$/.test(f)));
  if (expectedOld.length) {
    fail(name, `fields unknown to Kubernetes 1.19: ${expectedOld.join(", ")}`);
  }
  checked++;
  if (failures === before) console.log(`ok   ${name}${native ? " (native sidecar: 1.29+, restartPolicy unknown to 1.19 as expected)" : ""}`);
}
console.log(`${checked} patched pods checked, ${failures} failures`);
process.exit(failures ? 1 : 0);

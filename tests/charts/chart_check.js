// Checks the objects `helm template` rendered from charts/bulwark (run by chart_test.sh):
//  1. every object validates against the Kubernetes 1.33 OpenAPI schema (npm kubernetes-models
//     5.1.0; cert-manager objects: @kubernetes-models/cert-manager) and carries no field unknown
//     to its type (strict field validation, tests/testlib/k8s_fields.js); OpenShift SCCs against
//     the security.openshift.io/v1 field list below;
//  2. per values file, what the chart promises (webhook entries, selectors, certificates, the
//     webhook's config, SCCs equal to openshift/*.yaml, ...);
//  3. writes each case's webhook config.json (and the generated certificate) to OUT_DIR/<case>/
//     so chart_test.sh can start the real bulwark-webhook with them.
// usage: node chart_check.js RENDERED_DIR REPO NODE_MODULES OUT_DIR
"use strict";
const fs = require("fs");
const path = require("path");

const [rendered, repo, modules, outDir] = process.argv.slice(2);
const YAML = require(path.join(modules, "yaml"));
const { newFields, unknownFields } = require(path.join(repo, "tests", "testlib", "k8s_fields.js"));

let failures = 0;
let checkedObjects = 0;
const fail = (where, msg) => {
  failures++;
  console.log(`FAIL ${where}: ${msg}`);
};
const check = (cond, where, msg) => {
  if (!cond) fail(where, msg);
  return cond;
};

function loadDocs(file) {
  return YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))
    .map((d) => {
      if (d.errors.length) fail(file, `YAML: ${d.errors[0].message}`);
      return d.toJS();
    })
    .filter((o) => o !== null && o !== undefined);
}

// --- schema validation ---------------------------------------------------------------------
function modelFile(obj) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  if (group.endsWith("cert-manager.io")) {
    return path.join(modules, "@kubernetes-models", "cert-manager", group, version, obj.kind);
  }
  return path.join(modules, "kubernetes-models", group || "", version, obj.kind);
}

// security.openshift.io/v1 SecurityContextConstraints (openshift/api security/v1/types.go).
const sccStrategy = { type: "string", uid: "number", uidRangeMin: "number", uidRangeMax: "number",
                      seLinuxOptions: "object", ranges: "array" };
const sccFields = {
  apiVersion: "string", kind: "string", metadata: "object", priority: "number|null",
  allowPrivilegedContainer: "boolean", defaultAddCapabilities: "array|null",
  requiredDropCapabilities: "array|null", allowedCapabilities: "array|null",
  allowHostDirVolumePlugin: "boolean", volumes: "array|null", allowedFlexVolumes: "array|null",
  allowHostNetwork: "boolean", allowHostPorts: "boolean", allowHostPID: "boolean",
  allowHostIPC: "boolean", defaultAllowPrivilegeEscalation: "boolean|null",
  allowPrivilegeEscalation: "boolean|null", seLinuxContext: "object", runAsUser: "object",
  supplementalGroups: "object", fsGroup: "object", readOnlyRootFilesystem: "boolean",
  users: "array|null", groups: "array|null", seccompProfiles: "array|null",
  allowedUnsafeSysctls: "array|null", forbiddenSysctls: "array|null", userNamespaceLevel: "string",
};
const sccVolumes = new Set(["awsElasticBlockStore", "azureDisk", "azureFile", "cephFS", "cinder",
  "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "fc", "flexVolume", "flocker",
  "gcePersistentDisk", "gitRepo", "glusterfs", "hostPath", "image", "iscsi", "nfs",
  "persistentVolumeClaim", "photonPersistentDisk", "portworxVolume", "projected", "quobyte", "rbd",
  "scaleIO", "secret", "storageOS", "vsphere", "none", "*"]);
const typeOf = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

function validateScc(obj, where) {
  for (const [k, v] of Object.entries(obj)) {
    if (!(k in sccFields)) {
      fail(where, `field unknown to SecurityContextConstraints: ${k}`);
    } else if (!sccFields[k].split("|").includes(typeOf(v))) {
      fail(where, `${k}: expected ${sccFields[k]}, got ${typeOf(v)}`);
    }
  }
  for (const s of ["runAsUser", "seLinuxContext", "fsGroup", "supplementalGroups"]) {
    for (const [k, v] of Object.entries(obj[s] || {})) {
      check(k in sccStrategy && typeOf(v) === sccStrategy[k], where, `${s}.${k} is not a ${sccStrategy[k] || "known field"}`);
    }
  }
  check(["MustRunAs", "MustRunAsRange", "MustRunAsNonRoot", "RunAsAny"].includes(obj.runAsUser.type), where, "runAsUser.type");
  for (const v of obj.volumes || []) check(sccVolumes.has(v), where, `unknown volume type ${v}`);
}

// monitoring.coreos.com/v1 (prometheus-operator CRDs; no npm model): the fields the chart uses,
// checked against the CRD field names, plus every bulwark_* metric in a rule or the dashboard
// must be one the docs list (docs/proxy.md, docs/webhook.md).
const monFields = {
  ServiceMonitor: {spec: ["selector", "endpoints", "namespaceSelector", "jobLabel"],
                   endpoint: ["port", "scheme", "path", "interval", "tlsConfig"]},
  PodMonitor: {spec: ["selector", "podMetricsEndpoints", "namespaceSelector", "jobLabel"],
               endpoint: ["port", "path", "interval", "scheme"]},
  PrometheusRule: {spec: ["groups"]},
};
const documented = new Set();
function metricNamesIn(expr) {
  return [...expr.matchAll(/\b(bulwark_[a-z0-9_]+)/g)].map((m) => m[1].replace(/_(bucket|sum|count)$/, ""));
}
function checkExpr(expr, where, what) {
  if (!documented.size) {
    for (const f of ["docs/proxy.md", "docs/webhook.md"]) {
      for (const m of fs.readFileSync(path.join(repo, f), "utf8").matchAll(/\b(bulwark_[a-z0-9_]+)/g)) documented.add(m[1]);
    }
  }
  check(typeof expr === "string" && expr.trim().length > 0, where, `${what}: empty expression`);
  let depth = 0;
  for (const ch of expr) { depth += ch === "(" ? 1 : ch === ")" ? -1 : 0; if (depth < 0) break; }
  check(depth === 0, where, `${what}: unbalanced parentheses`);
  for (const m of metricNamesIn(expr)) check(documented.has(m), where, `${what}: metric ${m} is not documented (docs/proxy.md, docs/webhook.md)`);
}
function validateMonitoring(obj, where) {
  const f = monFields[obj.kind];
  if (!check(f, where, `unexpected kind ${obj.kind}`)) return;
  for (const k of Object.keys(obj.spec || {})) check(f.spec.includes(k), where, `${obj.kind}.spec.${k} unknown`);
  if (obj.kind === "PrometheusRule") {
    const names = new Set();
    for (const g of obj.spec.groups) {
      check(g.name && Array.isArray(g.rules) && g.rules.length, where, "rule group needs name and rules");
      for (const r of g.rules) {
        check(r.alert && !names.has(r.alert), where, `alert name missing or repeated: ${r.alert}`);
        names.add(r.alert);
        check(/^[0-9]+[smh]$/.test(r.for || ""), where, `${r.alert}: for`);
        check(["critical", "warning", "info"].includes((r.labels || {}).severity), where, `${r.alert}: severity label`);
        check(r.annotations && r.annotations.summary && r.annotations.description, where, `${r.alert}: summary and description`);
        checkExpr(r.expr, where, r.alert);
      }
    }
    monitoringSeen.alerts = [...names];
    return;
  }
  const eps = obj.kind === "ServiceMonitor" ? obj.spec.endpoints : obj.spec.podMetricsEndpoints;
  check(Array.isArray(eps) && eps.length, where, `${obj.kind}: endpoints`);
  for (const e of eps || []) {
    for (const k of Object.keys(e)) check(f.endpoint.includes(k), where, `${obj.kind} endpoint field ${k} unknown`);
    check(e.port && e.path === "/metrics", where, `${obj.kind}: port and /metrics`);
  }
  check(obj.spec.selector && (obj.spec.selector.matchLabels || obj.spec.selector.matchExpressions), where, `${obj.kind}: selector`);
}
const monitoringSeen = {};
function checkDashboard(text, where) {
  let d;
  try { d = JSON.parse(text); } catch (e) { fail(where, `dashboard JSON: ${e.message}`); return; }
  check(d.title && d.uid && Array.isArray(d.panels) && d.panels.length >= 6, where, "dashboard: title, uid, panels");
  const ids = new Set();
  for (const p of d.panels) {
    check(!ids.has(p.id), where, `dashboard: panel id ${p.id} repeated`);
    ids.add(p.id);
    check(p.gridPos && p.targets && p.targets.length, where, `dashboard: panel ${p.title} needs gridPos and targets`);
    for (const t of p.targets || []) checkExpr(t.expr, where, `panel ${p.title}`);
  }
  monitoringSeen.panels = d.panels.map((p) => p.title);
}

function validate(obj, where) {
  checkedObjects++;
  if (!check(obj.apiVersion && obj.kind && obj.metadata && obj.metadata.name, where, "apiVersion, kind and metadata.name are required")) {
    return;
  }
  const name = obj.metadata.name;
  check(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) && name.length <= 253, where, `metadata.name ${name} is not a DNS subdomain`);
  for (const [k, v] of Object.entries(obj.metadata.labels || {})) {
    check(typeof v === "string" && v.length <= 63 && /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(v), where, `label ${k}=${v} is not a valid label value`);
  }
  if (obj.apiVersion === "monitoring.coreos.com/v1") {
    validateMonitoring(obj, where);
    return;
  }
  if (obj.apiVersion === "security.openshift.io/v1") {
    check(obj.kind === "SecurityContextConstraints", where, `unexpected kind ${obj.kind}`);
    validateScc(obj, where);
    return;
  }
  const file = modelFile(obj);
  if (!check(fs.existsSync(file + ".js"), where, `no schema for ${obj.apiVersion} ${obj.kind}`)) {
    return;
  }
  const Model = require(file)[obj.kind];
  try {
    new Model(obj).validate();
  } catch (e) {
    fail(where, `Kubernetes 1.33 schema: ${e.message}`);
  }
  const unknown = [];
  unknownFields(obj, file + ".d.ts", newFields, obj.kind, unknown);
  check(!unknown.length, where, `fields unknown to the schema: ${unknown.join(", ")}`);
}

// --- per-case expectations -------------------------------------------------------------------
const NS = "bulwark-system";
const REL = "bw";
const FULL = `${REL}-bulwark-controller`;
const b64 = (s) => Buffer.from(s, "base64").toString("utf8");
const find = (objs, kind, name) => objs.find((o) => o.kind === kind && (!name || o.metadata.name === name));
const all = (objs, kind) => objs.filter((o) => o.kind === kind);
const strip = (o) => {
  const c = JSON.parse(JSON.stringify(o));
  delete c.metadata.labels;
  delete c.metadata.annotations;
  return c;
};

function common(objs, where) {
  const dep = find(objs, "Deployment", FULL);
  const cm = find(objs, "ConfigMap", FULL);
  const mwc = find(objs, "MutatingWebhookConfiguration", FULL);
  const svc = find(objs, "Service", FULL);
  if (!check(dep && cm && mwc && svc, where, "Deployment, ConfigMap, Service and MutatingWebhookConfiguration expected")) {
    return {};
  }
  for (const o of objs) {
    const clusterScoped = ["MutatingWebhookConfiguration", "ClusterRole", "SecurityContextConstraints"].includes(o.kind);
    check(clusterScoped ? !o.metadata.namespace : !!o.metadata.namespace, where, `${o.kind}/${o.metadata.name}: namespace ${clusterScoped ? "not " : ""}expected`);
  }
  const spec = dep.spec.template.spec;
  const c = spec.containers[0];
  check(spec.securityContext.runAsNonRoot === true && spec.securityContext.runAsUser === 101, where, "controller runs as 101, non-root");
  check(c.securityContext.readOnlyRootFilesystem === true && c.securityContext.allowPrivilegeEscalation === false &&
        JSON.stringify(c.securityContext.capabilities) === '{"drop":["ALL"]}', where, "controller: read-only root, no escalation, drop ALL");
  for (const p of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    check(c[p] && c[p].httpGet.scheme === "HTTPS" && c[p].httpGet.path === "/healthz", where, `${p} on HTTPS /healthz`);
  }
  check(c.resources && c.resources.requests, where, "controller resources");
  check(spec.automountServiceAccountToken === false, where, "no service account token in the controller");
  check(!all(objs, "Role").length && !all(objs, "ClusterRoleBinding").length, where, "the webhook needs no API permissions");
  for (const r of all(objs, "ClusterRole")) {
    check(r.rules.every((x) => x.verbs.join() === "use" && x.resources.join() === "securitycontextconstraints" && x.resourceNames.length === 1), where, `ClusterRole ${r.metadata.name} grants only use of one SCC`);
  }
  const selector = dep.spec.selector.matchLabels;
  check(Object.entries(selector).every(([k, v]) => dep.spec.template.metadata.labels[k] === v), where, "Deployment selector matches its pods");
  check(JSON.stringify(svc.spec.selector) === JSON.stringify(selector), where, "Service selects the controller pods");
  const cfg = JSON.parse(cm.data["config.json"]);
  // The webhook's config: the chart's listen port is the container port the Service targets.
  check(cfg.listen === `0.0.0.0:${c.ports[0].containerPort}`, where, "config listen = container port");
  check(c.args.join(" ") === "--config /etc/bulwark/config/config.json", where, "webhook reads the chart's config");
  check(cfg.tls_cert === "/etc/bulwark/tls/tls.crt" && spec.volumes.some((v) => v.secret), where, "TLS Secret mounted where the config points");
  check(mwc.webhooks.length >= 1, where, "webhook entries");
  for (const w of mwc.webhooks) {
    check(JSON.stringify(w.admissionReviewVersions) === '["v1"]' && w.sideEffects === "None", where, `${w.name}: v1, sideEffects None`);
    check(w.rules.length === 1 && w.rules[0].operations.join() === "CREATE" && w.rules[0].resources.join() === "pods" && w.rules[0].apiGroups.join() === "", where, `${w.name}: Pod CREATE only`);
    check(w.clientConfig.service.name === svc.metadata.name && w.clientConfig.service.namespace === NS && w.clientConfig.service.path === "/inject" &&
          w.clientConfig.service.port === svc.spec.ports[0].port, where, `${w.name}: service reference`);
    const ex = w.namespaceSelector.matchExpressions.find((e) => e.key === "kubernetes.io/metadata.name");
    check(ex && ex.operator === "NotIn" && ex.values.includes(NS) && ex.values.includes("kube-system"), where, `${w.name}: excludes ${NS} and kube-system`);
    check(w.reinvocationPolicy === "IfNeeded", where, `${w.name}: reinvocationPolicy IfNeeded`);
  }
  const first = mwc.webhooks[0].objectSelector;
  check(JSON.stringify(first) === '{"matchLabels":{"bulwark-sidecar":"enabled"}}', where, "first entry selects bulwark-sidecar=enabled");
  const second = mwc.webhooks[1] && mwc.webhooks[1].objectSelector;
  check(second && second.matchLabels["wallarm-sidecar"] === "enabled" &&
        second.matchExpressions.some((e) => e.key === "bulwark-sidecar" && e.operator === "DoesNotExist"), where, "second entry selects wallarm-sidecar=enabled without bulwark-sidecar");
  const pdb = find(objs, "PodDisruptionBudget");
  if (dep.spec.replicas > 1) {
    check(pdb && JSON.stringify(pdb.spec.selector.matchLabels) === JSON.stringify(selector), where, "PDB selects the controller");
  } else {
    check(!pdb, where, "no PDB for a single replica (it would block node drains)");
  }
  const policy = all(objs, "ConfigMap").filter((o) => o.metadata.name === cfg.injection.policy_configmap);
  check(policy.some((p) => p.metadata.namespace === NS), where, "policy ConfigMap rendered in the release namespace");
  for (const p of policy) {
    check(p.data[cfg.injection.policy_key] && JSON.parse(p.data[cfg.injection.policy_key]), where, "policy ConfigMap carries policy_key as JSON");
  }
  return { dep, cm, mwc, svc, cfg, spec, policy };
}

const cases = {
  defaults(objs, w, r) {
    check(r.dep.spec.replicas === 2, w, "2 replicas");
    check(r.mwc.webhooks.every((x) => x.failurePolicy === "Fail"), w, "failurePolicy Fail by default");
    const sec = find(objs, "Secret", `${FULL}-tls`);
    if (check(sec && sec.type === "kubernetes.io/tls", w, "generated TLS Secret")) {
      check(r.mwc.webhooks.every((x) => x.clientConfig.caBundle === sec.data["ca.crt"]), w, "caBundle = the Secret's ca.crt");
      check(b64(sec.data["tls.crt"]).includes("BEGIN CERTIFICATE") && b64(sec.data["tls.key"]).includes("PRIVATE KEY"), w, "PEM pair");
    }
    check(r.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution, w, "soft anti-affinity by default");
    check(r.cfg.injection.iptables_enable === true && r.cfg.injection.schema === "single" && r.cfg.injection.capture_mode === "auto", w, "capture defaults");
    check(r.cfg.injection.images.proxy === "ghcr.io/bulwark-waf/bulwark:0.1.0", w, "proxy image defaults to the one image");
    check(!all(objs, "SecurityContextConstraints").length, w, "no SCC without openshift.enabled");
  },
  "cert-manager"(objs, w, r) {
    const cert = find(objs, "Certificate", `${FULL}-tls`);
    check(cert && cert.spec.secretName === `${FULL}-tls` && cert.spec.dnsNames.includes(`${FULL}.${NS}.svc`), w, "serving Certificate");
    check(cert && cert.spec.issuerRef.name === `${FULL}-ca`, w, "signed by the chart's CA issuer");
    check(find(objs, "Issuer", `${FULL}-selfsigned`) && find(objs, "Certificate", `${FULL}-ca`).spec.isCA, w, "self-signed root and CA");
    check(r.mwc.metadata.annotations["cert-manager.io/inject-ca-from"] === `${NS}/${FULL}-tls`, w, "inject-ca-from");
    check(r.mwc.webhooks.every((x) => !x.clientConfig.caBundle), w, "caBundle left to cert-manager's injector");
    check(!all(objs, "Secret").length, w, "no chart Secret");
    check(r.mwc.webhooks.every((x) => x.failurePolicy === "Ignore"), w, "failurePolicy from values");
    check(r.mwc.webhooks.every((x) => x.namespaceSelector.matchExpressions.length === 2 &&
          x.namespaceSelector.matchExpressions[0].values.includes("monitoring")), w, "extra excluded namespace and expression");
  },
  "cert-manager-clusterissuer"(objs, w, r) {
    const cert = find(objs, "Certificate", `${FULL}-tls`);
    check(cert && cert.spec.issuerRef.kind === "ClusterIssuer" && cert.spec.issuerRef.name === "corp-ca", w, "uses the given ClusterIssuer");
    check(!all(objs, "Issuer").length && all(objs, "Certificate").length === 1, w, "no chart issuers");
  },
  "manual-cert"(objs, w, r) {
    check(!all(objs, "Secret").length && !all(objs, "Certificate").length, w, "no Secret/Certificate rendered");
    check(r.spec.volumes.find((v) => v.secret).secret.secretName === "bulwark-webhook-tls", w, "mounts the user's Secret");
    check(r.mwc.webhooks.every((x) => x.clientConfig.caBundle && b64(x.clientConfig.caBundle).includes("BEGIN CERTIFICATE")), w, "caBundle from values");
    check(!find(objs, "ServiceAccount") && r.spec.serviceAccountName === "bulwark", w, "existing service account");
    check(r.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution, w, "hard anti-affinity");
    check(find(objs, "PodDisruptionBudget").spec.minAvailable === "50%", w, "PDB percentage");
  },
  "iptables-off"(objs, w, r) {
    check(r.cfg.injection.iptables_enable === false && r.cfg.injection.mode === "block", w, "capture off, block mode");
    check(JSON.stringify(r.policy.map((p) => p.metadata.namespace).sort()) === JSON.stringify([NS, "payments", "shop"]), w, "policy in the listed namespaces");
    check(JSON.parse(r.policy[0].data["bulwark.json"]).policy.deny[0] === "203.0.113.0/24", w, "policy data");
    check(r.spec.nodeSelector["kubernetes.io/arch"] === "arm64" && r.spec.tolerations[0].value === "arm64", w, "ARM64 scheduling");
  },
  openshift(objs, w, r) {
    const sccs = all(objs, "SecurityContextConstraints");
    check(sccs.length === 2, w, "two SCCs");
    for (const file of ["scc-bulwark-sidecar.yaml", "scc-bulwark-capture.yaml"]) {
      const want = loadDocs(path.join(repo, "openshift", file))[0];
      const got = find(objs, "SecurityContextConstraints", want.metadata.name);
      check(got && JSON.stringify(sortKeys(strip(got))) === JSON.stringify(sortKeys(strip(want))), w, `chart SCC ${want.metadata.name} = openshift/${file}`);
    }
    const rb = all(objs, "RoleBinding");
    const bound = (ns, sa, scc) => rb.some((b) => b.metadata.namespace === ns && b.roleRef.name === `bulwark-scc-${scc}` &&
                                              b.subjects.some((s) => s.name === sa && s.namespace === ns));
    check(bound(NS, FULL, "sidecar"), w, "controller may use bulwark-sidecar");
    check(bound("shop", "default", "sidecar") && bound("legacy", "app", "capture"), w, "workload service accounts bound");
  },
  "single-replica-monitoring"(objs, w, r) {
    check(r.dep.spec.replicas === 1 && !find(objs, "PodDisruptionBudget"), w, "one replica, no PDB");
    check(r.cfg.injection.mode === "block" && r.cfg.injection.mode_allow_override === "off", w, "config.wallarm.mode/modeAllowOverride map to mode/mode_allow_override");
    check(find(objs, "ServiceMonitor") && all(objs, "PodMonitor").length === 2 && find(objs, "PrometheusRule"), w, "ServiceMonitor, 2 PodMonitors, PrometheusRule");
    check(all(objs, "PodMonitor")[0].metadata.labels.release === "prometheus", w, "PodMonitor labels");
    const dash = all(objs, "ConfigMap").find((c) => c.metadata.name.endsWith("-dashboard"));
    if (check(dash && dash.metadata.labels.grafana_dashboard === "1", w, "dashboard ConfigMap for the Grafana sidecar")) checkDashboard(dash.data["bulwark.json"], w);
    const alerts = monitoringSeen.alerts || [];
    for (const a of ["BulwarkProxyDown", "BulwarkProxyNotReady", "BulwarkAttackSpike", "BulwarkUpstream5xx", "BulwarkWebhookFailingAdmissions", "BulwarkWebhookCertificateExpiresSoon"]) check(alerts.includes(a), w, `alert ${a}`);
    console.log(`     alerts: ${alerts.join(", ")}; dashboard panels: ${(monitoringSeen.panels || []).length}`);
    const t = find(objs, "Pod");
    check(t && t.metadata.annotations["helm.sh/hook"] === "test" && /\/inject/.test(t.spec.containers[0].args[0]), w, "helm test pod posts an AdmissionReview");
  },
  "ebpf"(objs, w, r) {
    const inj = r.cfg.injection;
    check(inj.capture_mode === "ebpf" && inj.ebpf_in_auto === true, w, "capture ebpf, ebpf in auto");
    check(/^v?1\.(29|[3-9][0-9])/.test(inj.kubernetes_version), w, "rendered for a cluster with native sidecars");
  },
  "native-nftables"(objs, w, r) {
    const inj = r.cfg.injection;
    check(inj.schema === "single" && inj.native_sidecar === true && inj.capture_mode === "nftables" && inj.strict === true, w, "single, native, nftables, strict");
    check(inj.images.proxy === `registry.example.com/bulwark@sha256:${"0123456789abcdef".repeat(4)}`, w, "image by digest");
    check(inj.images.helper === "registry.example.com/bulwark-helper:0.1.0", w, "helper image");
    check(inj.secret_env[0].secret === "bulwark-token", w, "secret_env");
    check(inj.resources.proxy.limits.cpu === "1", w, "resources");
    check(r.dep.spec.replicas === 3 && r.spec.affinity.nodeAffinity, w, "replicas and user affinity");
  },
};

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

// --- main ------------------------------------------------------------------------------------
for (const file of fs.readdirSync(rendered).filter((f) => f.endsWith(".yaml")).sort()) {
  const name = file.replace(/\.yaml$/, "");
  const objs = loadDocs(path.join(rendered, file));
  const before = failures;
  objs.forEach((o, i) => validate(o, `${name}: ${o.kind || "?"}/${(o.metadata || {}).name || i}`));
  const r = common(objs, name);
  if (r.cfg) {
    if (check(cases[name], name, "no expectations for this values file")) cases[name](objs, name, r);
    const dir = path.join(outDir, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "config.json"), r.cm.data["config.json"]);
    fs.writeFileSync(path.join(dir, "service-dns"), `${r.svc.metadata.name}.${NS}.svc\n`);
    const sec = find(objs, "Secret", `${FULL}-tls`);
    if (sec) {
      for (const k of ["ca.crt", "tls.crt", "tls.key"]) fs.writeFileSync(path.join(dir, k), b64(sec.data[k]));
    }
  }
  console.log(`${failures === before ? "ok  " : "FAIL"} ${name}: ${objs.length} objects (${[...new Set(objs.map((o) => o.kind))].join(", ")})`);
}

// The standalone OpenShift manifests are valid objects too.
for (const file of fs.readdirSync(path.join(repo, "openshift")).filter((f) => f.endsWith(".yaml")).sort()) {
  const before = failures;
  const objs = loadDocs(path.join(repo, "openshift", file));
  objs.forEach((o) => validate(o, `openshift/${file}: ${o.kind}/${o.metadata.name}`));
  console.log(`${failures === before ? "ok  " : "FAIL"} openshift/${file}: ${objs.length} objects`);
}
console.log(`${checkedObjects} objects checked, ${failures} failures`);
process.exit(failures ? 1 : 0);

// Strict field validation like the API server's, for objects checked against kubernetes-models
// (the OpenAPI schemas there do not forbid unknown fields, so this walks them by hand).
// Shared by tests/unit/webhook/k8s_check.js and tests/charts/chart_check.js.
"use strict";
const fs = require("fs");
const path = require("path");

// 1.33+: the TypeScript declarations of kubernetes-models 5.1.0 (v1/<Type>.d.ts).
const newTypes = new Map();
function newFields(file) {
  if (!newTypes.has(file)) {
    const src = fs.readFileSync(file, "utf8");
    const imports = {};
    for (const m of src.matchAll(/import \{ (\w+) \} from "(\.[^"]+)\.js";/g)) {
      imports[m[1]] = path.join(path.dirname(file), m[2] + ".d.ts");
    }
    const body = src.slice(src.indexOf("export interface"));
    const out = {};
    // A member is `"name"?: Type;` or, for maps, `"name"?: {` followed by an index signature.
    for (const m of body.matchAll(/^ {4}"([^"]+)"\??: (.+?);?$/gm)) {
      const t = m[2].match(/(IIoK8s\w+)/);
      out[m[1]] = t && imports[t[1]] && !/[{[]/.test(m[2].replace(/^Array</, "")) ? imports[t[1]] : null;
    }
    newTypes.set(file, out);
  }
  return newTypes.get(file);
}

// Walks `data` and reports every key the type does not define.
function unknownFields(data, type, lookup, where, out) {
  if (data === null || typeof data !== "object" || type === null) {
    return;
  }
  if (Array.isArray(data)) {
    data.forEach((item, i) => unknownFields(item, type, lookup, `${where}[${i}]`, out));
    return;
  }
  const fields = lookup(type);
  if (!fields) {
    return;
  }
  for (const [k, v] of Object.entries(data)) {
    if (!(k in fields)) {
      out.push(`${where}.${k}`);
    } else {
      unknownFields(v, fields[k], lookup, `${where}.${k}`, out);
    }
  }
}

module.exports = { newFields, unknownFields };

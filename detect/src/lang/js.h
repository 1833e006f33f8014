#pragma once

#include <string_view>

namespace bulwark::detect::lang {

// JavaScript expression syntax for values that reach a Node.js eval (vm, Function, a template
// that evaluates code). True when the whole value is one expression statement rooted at a
// Node.js global (process, require, module, global, globalThis, console, Buffer) and reaches
// an instruction on it: a call ("console.info(1)", "require('fs').readFileSync('/etc/passwd')",
// "console.info.call(this,1)") or a member named by a string ("process[\"env\"]",
// "console[\"info\"](1)"). A trailing ';' is allowed; anything else after the expression (prose,
// a stack frame "at console.log (app.js:3:9)", an assignment left open) is not this syntax.
bool nodeGlobalExpression(std::string_view v);

} // namespace bulwark::detect::lang

// Fuzzes a whole inspection: the input is split into method, target, headers and body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/detect/engine.h"

namespace {

const bulwark::detect::Engine& engine() {
  static const bulwark::detect::EnginePtr e = [] {
    bulwark::detect::EngineConfig cfg;
    cfg.maxBodyBytes = 4096;
    auto r = bulwark::detect::Engine::create(cfg);
    if (!r) {
      __builtin_trap();
    }
    return *r;
  }();
  return *e;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bulwark::detect;
  // Layout: "METHOD TARGET\nName: value\n...\n\nbody" (a loose HTTP/1 head).
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t headEnd = in.find("\n\n");
  const std::string_view head = in.substr(0, headEnd);
  const std::string_view body =
      headEnd == std::string_view::npos ? std::string_view{} : in.substr(headEnd + 2);
  const size_t eol = head.find('\n');
  const std::string_view line = head.substr(0, eol);
  const size_t sp = line.find(' ');
  RequestView r;
  r.method = line.substr(0, sp);
  r.target = sp == std::string_view::npos ? std::string_view{"/"} : line.substr(sp + 1);
  std::vector<Header> headers;
  std::string_view rest = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 1);
  while (!rest.empty() && headers.size() < 64) {
    const size_t nl = rest.find('\n');
    const std::string_view h = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    const size_t colon = h.find(':');
    headers.push_back(colon == std::string_view::npos
                          ? Header{h, {}}
                          : Header{h.substr(0, colon), h.substr(colon + 1)});
  }
  r.headers = headers;
  r.body = body;
  const Verdict v = engine().inspect(r);
  for (const auto& f : v.findings) {
    if (f.value.size() > 128 || f.ruleId == 0) {
      __builtin_trap();
    }
  }
  return 0;
}

// Fuzzes the value normaliser: every decoding step, path canonicalisation, base64 sniffing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bulwark/detect/normalize.h"
#include "detectors.h"
#include "transforms/transforms.h"
#include "lang/ldap.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bulwark::detect;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string out;
  std::string tmp;
  percentDecode(in, out, true);
  foldUnicode(in, out);
  decodeHtmlEntities(in, out);
  decodeJsEscapes(in, out);
  normalizeValue(in, out, (size & 1) != 0);
  // Decoding never grows a value beyond a small factor (entities/escapes expand to <= 4 bytes).
  if (out.size() > in.size() * 4 + 8) {
    __builtin_trap();
  }
  toLowerAscii(out, tmp);
  canonicalPath(tmp, out);
  if (out.empty() || out.front() != '/') {
    __builtin_trap();
  }
  tryBase64Text(in, out);
  // Every named transform on its own, then the pipeline with its chain.
  for (const auto& t : transforms::all()) {
    if (t.guard(in)) {
      t.decode(in, out);
    }
  }
  transforms::Chain chain;
  transforms::decode(in, out, (size & 2) != 0, transforms::Budget{}, &chain);
  if (chain.size() > transforms::Chain::kMax) {
    __builtin_trap();
  }
  (void)chain.str();
  lang::detectLdapFilter(tmp);
  // The code detectors take any normalised value.
  internal::detectSqli(tmp);
  internal::detectXss(tmp);
  internal::detectShell(tmp);
  internal::detectLog4j(tmp);
  internal::detectLdap(tmp);
  return 0;
}

// Fuzzes the value normaliser: every decoding step, path canonicalisation, base64 sniffing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bulwark/detect/normalize.h"
#include "detectors.h"

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
  // The code detectors take any normalised value.
  internal::detectSqli(tmp);
  internal::detectXss(tmp);
  internal::detectShell(tmp);
  internal::detectLog4j(tmp);
  internal::detectLdap(tmp);
  return 0;
}

// libFuzzer target: AdmissionReview parsing and injection (webhook::review). Any input must give
// 200 with a well-formed AdmissionReview or 400, never a crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bulwark/webhook/inject.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bulwark::webhook::InjectConfig kDefaults;
  static const bulwark::webhook::InjectConfig kStrictNative = [] {
    bulwark::webhook::InjectConfig c;
    c.strict = true;
    c.nativeSidecar = true;
    c.schema = bulwark::webhook::Schema::Split;
    return c;
  }();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const auto* cfg : {&kDefaults, &kStrictNative}) {
    const auto reply = bulwark::webhook::review(body, *cfg);
    if (reply.status != 200 && reply.status != 400) {
      std::abort();
    }
  }
  return 0;
}

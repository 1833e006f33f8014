// Fuzzes the configuration and policy parsers: any input gives a config or a one-line error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bulwark/filter/config.h"
#include "bulwark/filter/policy.h"

using namespace bulwark::filter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  ProxyConfig cfg;
  auto st = applyConfigJson(in, cfg);
  if (!st && st.error().message().find('\n') != std::string::npos) {
    std::abort(); // errors are one line
  }
  Policy p;
  (void)applyPolicyJson(in, p);
  if (auto c = Cidr::parse(in)) {
    (void)c->contains(c->addr);
  }
  return 0;
}

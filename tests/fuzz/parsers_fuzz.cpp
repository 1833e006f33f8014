// Fuzzes the body parsers: urlencoded, cookies, JSON, multipart, XML, Content-Type params.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bulwark/detect/parts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bulwark::detect;
  if (size == 0) {
    return 0;
  }
  // First byte picks the depth limit; the rest is the body.
  const size_t depth = 1 + (data[0] % 40);
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  {
    ArgList l(256);
    parseUrlencoded(in, l);
    parseCookies(in, l);
  }
  {
    ArgList l(256);
    parseJson(in, l, depth);
    for (const auto& a : l.args()) {
      (void)a.name.size();
      (void)a.value.size();
    }
  }
  {
    ArgList l(256);
    const size_t nl = in.find('\n');
    const std::string_view boundary = in.substr(0, nl == std::string_view::npos ? 8 : nl);
    parseMultipart(in, boundary, l, depth);
  }
  {
    ArgList l(256);
    parseXml(in, l, depth);
  }
  contentTypeParam(in, "boundary");
  contentTypeParam(in, "charset");
  return 0;
}

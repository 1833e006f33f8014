// Fuzzes the proxy's first look at client bytes: protocol sniffing, incremental head scanning
// and strict head validation. Invariants: no crash, a Complete scan is a prefix of the input,
// and a head that passes validation reports a consistent framing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "bulwark/filter/http_head.h"

using namespace bulwark::filter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Limits lim;
  lim.maxRequestLine = 1024;
  lim.maxHeaderBytes = 4096;
  lim.maxHeaders = 32;
  (void)http1::sniffProtocol(in, lim);

  // Scan in two steps, as bytes would arrive.
  const size_t split = size / 2;
  auto s = http1::scanHead(in.substr(0, split), 0, lim);
  if (s.state == http1::HeadScan::State::NeedMore) {
    s = http1::scanHead(in, s.scanned, lim);
  }
  if (s.state == http1::HeadScan::State::Complete) {
    if (s.length > size) {
      std::abort();
    }
    std::vector<http1::HeadField> fields;
    const auto check = http1::checkRequestHead(in.substr(0, s.length), lim, fields);
    if (check.error == http1::HeadError::None) {
      http1::Request req;
      if (http1::readRequest(check.info, fields, req) && req.fields.size() != fields.size()) {
        std::abort();
      }
      for (const auto& f : fields) { // views into the head
        if (f.name.data() < in.data() || f.value.data() + f.value.size() > in.data() + s.length) {
          std::abort();
        }
      }
      if (check.info.chunked && check.info.contentLength) {
        std::abort(); // CL + TE must never be accepted
      }
      if (check.info.length != s.length) {
        std::abort();
      }
    }
    (void)http1::headErrorLabel(check.error);
  }
  (void)http1::checkRequestHead(in, lim);
  return 0;
}

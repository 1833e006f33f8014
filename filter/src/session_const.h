#pragma once

#include <cstddef>

namespace bulwark::filter {

constexpr size_t kBodyBufferSize = 32 * 1024; // one relay step of a body
constexpr size_t kReadChunk = 8 * 1024;       // one read of a request head
constexpr size_t kUpstreamHeadLimit = 64 * 1024;

} // namespace bulwark::filter

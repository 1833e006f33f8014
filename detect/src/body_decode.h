#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bulwark::detect {

enum class BodyDecode { None, Decoded, Truncated, Failed, Unsupported };

// Decodes a request body by its Content-Encoding (gzip, x-gzip, deflate — zlib-wrapped or raw —,
// br;
// a list such as "gzip, identity" is applied right to left). Output stops at maxOut bytes and
// when it would exceed maxRatio times the input (compression bombs): Truncated, with what was
// decoded so far in out. Cheap check first: a body that does not start like the named encoding
// is Failed without inflating. None: no encoding or identity.
BodyDecode decodeContentEncoding(std::string_view encoding, std::string_view body, size_t maxOut,
                                 size_t maxRatio, std::string& out);

} // namespace bulwark::detect

#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bulwark::detect {

// The text of data that may be binary, for inspection. Data that is all text (printable ASCII,
// tab, CR, LF, valid UTF-8) is returned as it is. Otherwise each run of at least minRun text
// characters is kept and the runs are joined with '\n': a pattern never matches across binary
// bytes (random bytes otherwise read as template or code syntax), while text inside binary data,
// an attack placed there included, is inspected whole. out holds the result in that case. The
// runs are the 8-bit runs of the engine's own text-run extractor (textRuns).
std::string_view textOf(std::string_view data, std::string& out, size_t minRun);

} // namespace bulwark::detect

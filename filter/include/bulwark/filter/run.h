#pragma once

namespace bulwark::filter {

// The whole bulwark-proxy program; main() only calls this. Returns the process exit code.
int run(int argc, const char* const* argv);

} // namespace bulwark::filter

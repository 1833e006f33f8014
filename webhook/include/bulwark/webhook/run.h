#pragma once

namespace bulwark::webhook {

// The bulwark-webhook command line (DESIGN.md "Command lines"); returns the exit status.
int run(int argc, const char* const* argv);

} // namespace bulwark::webhook

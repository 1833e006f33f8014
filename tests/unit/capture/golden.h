#pragma once

// EXPECT_GOLDEN("capture/nft/x.nft", text): compares with tests/golden/<path>;
// BULWARK_UPDATE_GOLDEN=1 writes the file instead (then review the git diff).

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace bulwark::testing {

inline ::testing::AssertionResult matchesGolden(const std::string& rel, const std::string& got) {
  const std::filesystem::path path = std::filesystem::path(BULWARK_GOLDEN_DIR) / rel;
  const char* update = std::getenv("BULWARK_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << got;
    return ::testing::AssertionSuccess() << "updated " << path;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ::testing::AssertionFailure()
           << "missing golden " << path << " (run with BULWARK_UPDATE_GOLDEN=1)\n--- got ---\n"
           << got;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str() == got) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "differs from golden " << path
                                       << " (BULWARK_UPDATE_GOLDEN=1 rewrites)\n--- want ---\n"
                                       << ss.str() << "--- got ---\n"
                                       << got;
}

} // namespace bulwark::testing

#define EXPECT_GOLDEN(rel, text) EXPECT_TRUE(::bulwark::testing::matchesGolden((rel), (text)))

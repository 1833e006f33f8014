#include "bulwark/common/cli.h"

#include <cstdlib>

#include <gtest/gtest.h>

namespace bulwark::cli {
namespace {

const std::vector<OptionSpec> kSpecs = {
    {"listen", "ADDR", "listen", true},
    {"mode", "MODE", "mode", false},
    {"json", "", "json output", false},
};

Result<ParsedArgs> parseArgs(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "prog");
  return parse(static_cast<int>(argv.size()), argv.data(), kSpecs, 1);
}

TEST(Cli, ParsesValuesFlagsAndEquals) {
  auto a = parseArgs({"--listen", "1.2.3.4:1", "--listen=5.6.7.8:2", "--mode", "block", "--json"});
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->all("listen")->size(), 2u);
  EXPECT_EQ(a->last("listen"), "5.6.7.8:2");
  EXPECT_EQ(a->last("mode"), "block");
  EXPECT_TRUE(a->has("json"));
  EXPECT_FALSE(a->help);
}

TEST(Cli, RejectsUnknownMissingAndRepeated) {
  EXPECT_FALSE(parseArgs({"--nope"}));
  EXPECT_FALSE(parseArgs({"--mode"}));
  EXPECT_FALSE(parseArgs({"--mode", "a", "--mode", "b"}));
  EXPECT_FALSE(parseArgs({"--json=1"}));
  EXPECT_FALSE(parseArgs({"a", "b"})); // one positional allowed
  auto err = parseArgs({"--nope"});
  EXPECT_NE(err.error().message().find("--nope"), std::string::npos);
}

TEST(Cli, HelpVersionAndPositional) {
  auto a = parseArgs({"apply", "--help", "--version"});
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->help);
  EXPECT_TRUE(a->version);
  ASSERT_EQ(a->positional.size(), 1u);
  EXPECT_EQ(a->positional[0], "apply");
}

TEST(Cli, EnvironmentNames) {
  EXPECT_EQ(envName("app-port"), "BULWARK_APP_PORT");
  EXPECT_EQ(envName("fail-open"), "BULWARK_FAIL_OPEN");
  ::setenv("BULWARK_APP_PORT", "8080", 1);
  EXPECT_EQ(env("app-port"), "8080");
  ::setenv("BULWARK_APP_PORT", "", 1);
  EXPECT_EQ(env("app-port"), std::nullopt);
  ::unsetenv("BULWARK_APP_PORT");
}

TEST(Cli, ParseUintAndLists) {
  EXPECT_EQ(parseUint("65535", 1, 65535), 65535u);
  EXPECT_EQ(parseUint("0", 1, 65535), std::nullopt);
  EXPECT_EQ(parseUint("65536", 1, 65535), std::nullopt);
  EXPECT_EQ(parseUint("12a", 0, 100), std::nullopt);
  EXPECT_EQ(parseUint("-1", 0, 100), std::nullopt);
  EXPECT_EQ(parseUint("", 0, 100), std::nullopt);
  EXPECT_EQ(splitList(" a, b ,,c "), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Cli, UsageListsEveryOption) {
  const auto text = usage("prog [--listen ADDR]", "Does things.", kSpecs);
  EXPECT_NE(text.find("--listen ADDR"), std::string::npos);
  EXPECT_NE(text.find("--json"), std::string::npos);
  EXPECT_NE(text.find("--help"), std::string::npos);
}

} // namespace
} // namespace bulwark::cli

namespace bulwark::cli {
namespace {

const std::vector<OptionSpec>& prologueSpecs() {
  static const std::vector<OptionSpec> s = {{.name = "port", .metavar = "N", .help = "a port"}};
  return s;
}

int runPrologue(std::vector<const char*> argv, ParsedArgs& out) {
  argv.insert(argv.begin(), "prog");
  const auto done = prologue({.name = "prog", .synopsis = "prog [--port N]", .description = "d",
                              .options = prologueSpecs()},
                             static_cast<int>(argv.size()), argv.data(), out);
  return done ? *done : -1;
}

TEST(Prologue, HelpVersionUsageErrorAndRun) {
  ParsedArgs a;
  testing::internal::CaptureStdout();
  EXPECT_EQ(runPrologue({"--help"}, a), kExitOk);
  EXPECT_NE(testing::internal::GetCapturedStdout().find("prog [--port N]"), std::string::npos);
  testing::internal::CaptureStdout();
  EXPECT_EQ(runPrologue({"--version"}, a), kExitOk);
  EXPECT_EQ(testing::internal::GetCapturedStdout().rfind("prog ", 0), 0u);
  testing::internal::CaptureStderr();
  EXPECT_EQ(runPrologue({"--nope"}, a), kExitUsage);
  EXPECT_EQ(testing::internal::GetCapturedStderr().rfind("prog: ", 0), 0u);
  EXPECT_EQ(runPrologue({"--port", "80"}, a), -1);
  EXPECT_EQ(a.last("port"), "80");
}

} // namespace
} // namespace bulwark::cli

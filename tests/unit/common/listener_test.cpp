#include "bulwark/common/listener.h"

#include <gtest/gtest.h>

namespace bulwark::net {
namespace {

TEST(Listener, ReusePortSharesAndProbeRefuses) {
  boost::asio::io_context ctx;
  auto a = openListener(ctx, {"127.0.0.1", 0, false}, {.reusePort = true});
  ASSERT_TRUE(a) << a.error().describe();
  const uint16_t port = a->local_endpoint().port();
  auto b = openListener(ctx, {"127.0.0.1", port, false}, {.reusePort = true});
  EXPECT_TRUE(b) << "a second SO_REUSEPORT socket on the same port";
  auto probe = probeFree({"127.0.0.1", port, false});
  ASSERT_FALSE(probe);
  EXPECT_EQ(probe.error().code().value(), EADDRINUSE);
  EXPECT_NE(probe.error().describe().find("listen 127.0.0.1:"), std::string::npos);
}

TEST(Listener, InvalidAddressIsAnError) {
  boost::asio::io_context ctx;
  auto a = openListener(ctx, {"not-an-ip", 80, false}, {});
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().describe().find("invalid address"), std::string::npos);
}

TEST(Listener, ConnectProbeTellsListeningFromRefusedAndInvalid) {
  boost::asio::io_context ctx;
  auto a = openListener(ctx, {"127.0.0.1", 0, false}, {});
  ASSERT_TRUE(a) << a.error().describe();
  const uint16_t port = a->local_endpoint().port();
  EXPECT_EQ(connectProbe({"127.0.0.1", port, false}, 1000), 0);
  a->close();
  EXPECT_EQ(connectProbe({"127.0.0.1", port, false}, 1000), ECONNREFUSED);
  EXPECT_EQ(connectProbe({"not-an-ip", port, false}, 1000), EINVAL);
  EXPECT_NE(connectProbe({"::1", port, true}, 1000), 0);
}

} // namespace
} // namespace bulwark::net

// The worker's deadline wheel: connections expire at their deadline's tick, never before, and
// a sweep looks only at the slots that came.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "deadlines.h"

namespace bulwark::filter {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct TestConn : Conn {
  int expired = 0;
  bool lastDrain = false;
  void expire(bool drainClose) override {
    ++expired;
    lastDrain = drainClose;
    deadline_ = Clock::time_point::max();
  }
};

void setDeadline(DeadlineWheel& w, Conn& c, Clock::time_point t) {
  c.deadline_ = t;
  if (c.wheel_ == nullptr) {
    w.track(c);
  } else if (w.needsRefile(c, t)) {
    w.file(c);
  }
}

void expireAll(DeadlineWheel& w, Clock::time_point now) {
  w.advance(now, [](Conn& c) { c.expire(false); });
}

TEST(DeadlineWheel, ExpiresAtTheDeadlineTickAndNotBefore) {
  const auto t0 = Clock::now();
  DeadlineWheel w(t0);
  TestConn a, b;
  setDeadline(w, a, t0 + 250ms);
  setDeadline(w, b, t0 + 5s);
  expireAll(w, t0 + 200ms);
  EXPECT_EQ(a.expired, 0);
  expireAll(w, t0 + 249ms);
  EXPECT_EQ(a.expired, 0);
  expireAll(w, t0 + 300ms);
  EXPECT_EQ(a.expired, 1);
  EXPECT_EQ(b.expired, 0);
  expireAll(w, t0 + 4900ms);
  EXPECT_EQ(b.expired, 0);
  expireAll(w, t0 + 5s);
  EXPECT_EQ(b.expired, 1);
  // Expired connections are not looked at again.
  expireAll(w, t0 + 60s);
  EXPECT_EQ(a.expired, 1);
  EXPECT_EQ(b.expired, 1);
}

TEST(DeadlineWheel, ADeadlineMovedLaterIsRefiledNotExpiredEarly) {
  const auto t0 = Clock::now();
  DeadlineWheel w(t0);
  TestConn c;
  setDeadline(w, c, t0 + 1s);
  setDeadline(w, c, t0 + 3s); // stays in the 1 s slot, re-filed when it comes
  expireAll(w, t0 + 1500ms);
  EXPECT_EQ(c.expired, 0);
  expireAll(w, t0 + 2900ms);
  EXPECT_EQ(c.expired, 0);
  expireAll(w, t0 + 3100ms);
  EXPECT_EQ(c.expired, 1);
}

TEST(DeadlineWheel, ADeadlineMovedEarlierMovesTheConnection) {
  const auto t0 = Clock::now();
  DeadlineWheel w(t0);
  TestConn c;
  setDeadline(w, c, t0 + 60s);
  setDeadline(w, c, t0 + 500ms);
  expireAll(w, t0 + 600ms);
  EXPECT_EQ(c.expired, 1);
  // Re-armed after it expired (an answer is still written): filed again.
  setDeadline(w, c, t0 + 900ms);
  expireAll(w, t0 + 1s);
  EXPECT_EQ(c.expired, 2);
}

TEST(DeadlineWheel, DeadlinesPastTheHorizonAndLongStalls) {
  const auto t0 = Clock::now();
  DeadlineWheel w(t0);
  TestConn far, near;
  setDeadline(w, far, t0 + 250s); // beyond the ~102 s the slots cover
  setDeadline(w, near, t0 + 10s);
  for (auto t = 0s; t < 250s; t += 7s) {
    expireAll(w, t0 + t);
  }
  EXPECT_EQ(near.expired, 1);
  EXPECT_EQ(far.expired, 0);
  expireAll(w, t0 + 251s);
  EXPECT_EQ(far.expired, 1);
  // A sweep that comes late (a stalled thread) still expires what is due, once.
  TestConn late;
  setDeadline(w, late, t0 + 260s);
  expireAll(w, t0 + 900s);
  EXPECT_EQ(late.expired, 1);
}

TEST(DeadlineWheel, ManyConnectionsExpireInDeadlineOrderAndDestroyedOnesLeave) {
  const auto t0 = Clock::now();
  DeadlineWheel w(t0);
  std::vector<std::unique_ptr<TestConn>> conns;
  for (int i = 0; i < 1000; ++i) {
    conns.push_back(std::make_unique<TestConn>());
    setDeadline(w, *conns.back(), t0 + std::chrono::milliseconds(100 + 37 * i));
  }
  conns[500].reset(); // a closed connection leaves the wheel by itself
  const auto now = t0 + std::chrono::milliseconds(100 + 37 * 600);
  expireAll(w, now);
  for (int i = 0; i < 1000; ++i) {
    if (i == 500) {
      continue;
    }
    const bool due = t0 + std::chrono::milliseconds(100 + 37 * i) <= now;
    EXPECT_EQ(conns[i]->expired, due ? 1 : 0) << i;
  }
  EXPECT_FALSE(w.empty());
  int visited = 0;
  w.forEach([&](Conn&) { ++visited; });
  EXPECT_EQ(visited, 999);
  conns.clear();
  EXPECT_TRUE(w.empty());
}

TEST(DeadlineWheel, HandOverKeepsTheSlot) {
  const auto t0 = Clock::now();
  DeadlineWheel w(t0);
  auto parked = std::make_unique<TestConn>();
  setDeadline(w, *parked, t0 + 400ms);
  TestConn session;
  parked->handOver(session);
  parked.reset();
  expireAll(w, t0 + 500ms);
  EXPECT_EQ(session.expired, 1);
}

} // namespace
} // namespace bulwark::filter

#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include <boost/intrusive/list.hpp>

#include "bulwark/filter/stats.h"

namespace bulwark::filter {

class Admission;

// Timeout bookkeeping: each connection has one deadline; the worker's sweep checks them all a
// few times a second (setting a deadline is a store, not a timer operation).
class Conn : public boost::intrusive::list_base_hook<
                 boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
public:
  using Clock = std::chrono::steady_clock;

  virtual ~Conn(); // gives the connection's place back to the admission (worker.cpp)
  // The deadline passed (or a drain closes an idle connection): cancel what is pending.
  virtual void expire(bool drainClose) = 0;
  // Idle for a while (waiting for a next request): release the buffers a busy connection
  // keeps between requests. Called by the sweep, once per idle period.
  virtual void releaseIdle() {}

  void arm(TimeoutKind kind, std::chrono::milliseconds d) {
    kind_ = kind;
    deadline_ = Clock::now() + d;
    expired_ = false;
  }

  Clock::time_point deadline_ = Clock::time_point::max();
  TimeoutKind kind_ = TimeoutKind::idle;
  bool expired_ = false;
  bool idle_ = false; // waiting for a next request that has not started
  bool released_ = false; // releaseIdle() ran in this idle period
  Clock::time_point idleSince_{};
  // Connection accounting (see Admission): set when the connection was admitted.
  Admission* admission_ = nullptr;
  bool sourceCounted_ = false;
  std::array<uint8_t, 16> source_{}; // client address, IPv4 as v4-mapped IPv6
};

using ConnList = boost::intrusive::list<Conn, boost::intrusive::constant_time_size<false>>;

} // namespace bulwark::filter

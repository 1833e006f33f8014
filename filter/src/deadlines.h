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

  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  // Gives the connection's place back to the admission and ends its count in
  // bulwark_connections_active, unless it was handed over (worker.cpp).
  virtual ~Conn();
  // The deadline passed (or a drain closes an idle connection): cancel what is pending.
  virtual void expire(bool drainClose) = 0;

  // One client connection is represented by a parked object while it waits for bytes and by a
  // session while it is served: the deadline, the place in the worker's sweep list and the
  // accounting move from one to the next. `to` is new (not in a list).
  void handOver(Conn& to) {
    to.swap_nodes(*this);
    to.deadline_ = deadline_;
    to.kind_ = kind_;
    to.expired_ = expired_;
    to.idle_ = idle_;
    to.idleSince_ = idleSince_;
    to.admission_ = admission_;
    to.sourceCounted_ = sourceCounted_;
    to.source_ = source_;
    to.live_ = live_;
    admission_ = nullptr;
    sourceCounted_ = false;
    live_ = false;
  }

  void arm(TimeoutKind kind, std::chrono::milliseconds d) {
    kind_ = kind;
    deadline_ = Clock::now() + d;
    expired_ = false;
  }

  Clock::time_point deadline_ = Clock::time_point::max();
  TimeoutKind kind_ = TimeoutKind::idle;
  bool expired_ = false;
  bool idle_ = false; // waiting for a next request that has not started
  bool live_ = false; // counted in bulwark_connections_active until destroyed or handed over
  Clock::time_point idleSince_{};
  // Connection accounting (see Admission): set when the connection was admitted.
  Admission* admission_ = nullptr;
  bool sourceCounted_ = false;
  std::array<uint8_t, 16> source_{}; // client address, IPv4 as v4-mapped IPv6
};

using ConnList = boost::intrusive::list<Conn, boost::intrusive::constant_time_size<false>>;

} // namespace bulwark::filter

#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include <boost/intrusive/list.hpp>

#include "bulwark/filter/stats.h"

namespace bulwark::filter {

class Admission;
class DeadlineWheel;

// Timeout bookkeeping: each connection has one deadline and sits in the slot of its worker's
// deadline wheel that is looked at when (or, after a later re-arm, before) it passes. Setting
// a deadline is a store, plus an O(1) move to an earlier slot when it moved earlier; the sweep
// looks only at the slots whose time came.
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
  // session while it is served: the deadline, the place in the worker's wheel and the
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
    to.wheel_ = wheel_;
    to.slotTick_ = slotTick_;
    admission_ = nullptr;
    sourceCounted_ = false;
    live_ = false;
  }

  inline void arm(TimeoutKind kind, std::chrono::milliseconds d);

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
  // The wheel the connection is filed in (none before the worker tracks it) and the tick of
  // its slot (kNoTick: filed without a deadline).
  DeadlineWheel* wheel_ = nullptr;
  uint64_t slotTick_ = UINT64_MAX;
};

using ConnList = boost::intrusive::list<Conn, boost::intrusive::constant_time_size<false>>;

// A hashed timing wheel of kSlots slots of kTick each. A connection is filed under the first
// tick at or after its deadline (deadlines past the horizon under the horizon's last slot, and
// re-filed when it comes). A deadline moved later leaves the connection where it is: when its
// slot comes it is re-filed under the new one. So the sweep costs O(connections due), not
// O(connections): 10,000 idle keep-alive connections are looked at once per idle timeout, not
// ten times a second.
class DeadlineWheel {
public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kTick{100};
  static constexpr uint64_t kSlots = 1024; // ~102 s ahead
  static constexpr uint64_t kNoTick = UINT64_MAX;

  explicit DeadlineWheel(Clock::time_point start = Clock::now()) : base_(start) {}
  DeadlineWheel(const DeadlineWheel&) = delete;
  DeadlineWheel& operator=(const DeadlineWheel&) = delete;

  // Files `c` (tracked from now on) under its deadline.
  void track(Conn& c) {
    c.wheel_ = this;
    file(c);
  }

  // Files `c` under the slot of its deadline, or with the connections that have none.
  void file(Conn& c) {
    if (c.is_linked()) {
      c.unlink();
    }
    if (c.deadline_ == Clock::time_point::max()) {
      c.slotTick_ = kNoTick;
      unfiled_.push_back(c);
      return;
    }
    uint64_t t = tickOf(c.deadline_);
    if (t <= done_) {
      t = done_ + 1;
    } else if (t > done_ + kSlots) {
      t = done_ + kSlots;
    }
    c.slotTick_ = t;
    slots_[t % kSlots].push_back(c);
  }

  // Whether `c` must move to an earlier slot for a deadline at `t`.
  bool needsRefile(const Conn& c, Clock::time_point t) const {
    return c.slotTick_ == kNoTick || tickOf(t) < c.slotTick_;
  }

  // Looks at every slot whose tick came by `now`: calls expire(c) for each connection whose
  // deadline passed (it is filed with those without a deadline first; expire may re-arm it),
  // re-files the others.
  template <class Fn>
  void advance(Clock::time_point now, Fn&& expire) {
    const uint64_t cur = now <= base_ ? 0 : static_cast<uint64_t>((now - base_) / kTick);
    // After a stall longer than the horizon every slot is looked at once.
    if (cur > done_ + kSlots) {
      done_ = cur - kSlots;
    }
    while (done_ < cur) {
      ++done_;
      ConnList due;
      due.splice(due.end(), slots_[done_ % kSlots]);
      while (!due.empty()) {
        Conn& c = due.front();
        if (c.deadline_ <= now) {
          c.unlink();
          c.slotTick_ = kNoTick;
          unfiled_.push_back(c);
          expire(c);
        } else {
          file(c);
        }
      }
    }
  }

  // Every tracked connection (for the drain, which closes idle ones).
  template <class Fn>
  void forEach(Fn&& fn) {
    // Collected first: fn may re-file what it visits.
    ConnList all;
    for (auto& s : slots_) {
      all.splice(all.end(), s);
    }
    all.splice(all.end(), unfiled_);
    while (!all.empty()) {
      Conn& c = all.front();
      c.unlink();
      file(c);
      fn(c);
    }
  }

  bool empty() const {
    if (!unfiled_.empty()) {
      return false;
    }
    for (const auto& s : slots_) {
      if (!s.empty()) {
        return false;
      }
    }
    return true;
  }

private:
  uint64_t tickOf(Clock::time_point t) const {
    if (t <= base_) {
      return 0;
    }
    // Rounded up: a connection is never looked at before its deadline's tick.
    const auto d = t - base_;
    const auto ticks = static_cast<uint64_t>(d / kTick);
    return d % kTick == Clock::duration::zero() ? ticks : ticks + 1;
  }

  std::array<ConnList, kSlots> slots_;
  ConnList unfiled_; // no deadline (expired, or not armed)
  uint64_t done_ = 0; // the last tick looked at
  Clock::time_point base_;
};

inline void Conn::arm(TimeoutKind kind, std::chrono::milliseconds d) {
  kind_ = kind;
  deadline_ = Clock::now() + d;
  expired_ = false;
  if (wheel_ != nullptr && wheel_->needsRefile(*this, deadline_)) {
    wheel_->file(*this);
  }
}

} // namespace bulwark::filter

#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include <cerrno>

#include <sys/socket.h>

#include "asio_util.h"

namespace bulwark::filter {

// Per-thread pool of idle keep-alive connections to the app.
class UpstreamPool {
public:
  UpstreamPool(uint32_t maxIdle, std::chrono::milliseconds idleTimeout)
      : maxIdle_(maxIdle), idleTimeout_(idleTimeout) {}

  // Hands out the most recently used live connection to `ep` (LIFO keeps few connections warm).
  // A connection idle for a while, or one about to carry a body (which cannot be re-sent), is
  // checked for a close by the app first; a fresh one is trusted and a failure retried.
  bool take(const tcp::endpoint& ep, tcp::socket& out, bool mustVerify) {
    const auto now = Clock::now();
    for (size_t i = idle_.size(); i-- > 0;) {
      if (idle_[i].ep != ep) {
        continue;
      }
      const bool verify = mustVerify || now - idle_[i].since > kTrustFresh;
      tcp::socket s = std::move(idle_[i].sock);
      idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
      if (!verify || alive(s)) {
        out = std::move(s);
        return true;
      }
      error_code ignored;
      s.close(ignored);
    }
    return false;
  }

  void put(const tcp::endpoint& ep, tcp::socket&& s) {
    error_code ignored;
    if (maxIdle_ == 0) {
      s.close(ignored);
      return;
    }
    if (idle_.size() >= maxIdle_) {
      idle_.front().sock.close(ignored);
      idle_.erase(idle_.begin());
    }
    idle_.push_back({std::move(s), ep, Clock::now()});
  }

  void sweep(Clock::time_point now) {
    std::erase_if(idle_, [&](Entry& e) {
      if (now - e.since < idleTimeout_) {
        return false;
      }
      error_code ignored;
      e.sock.close(ignored);
      return true;
    });
  }

  void clear() {
    for (auto& e : idle_) {
      error_code ignored;
      e.sock.close(ignored);
    }
    idle_.clear();
  }

private:
  static constexpr auto kTrustFresh = std::chrono::milliseconds(200);

  struct Entry {
    tcp::socket sock;
    tcp::endpoint ep;
    Clock::time_point since;
  };

  // An idle app connection is usable if the app has neither closed it nor sent stray bytes.
  static bool alive(tcp::socket& s) {
    char c;
    const ssize_t n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  std::vector<Entry> idle_;
  uint32_t maxIdle_;
  std::chrono::milliseconds idleTimeout_;
};

} // namespace bulwark::filter

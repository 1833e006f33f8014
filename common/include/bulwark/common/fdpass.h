#pragma once

// File descriptors as owned values, and passing them between processes over a Unix socket
// (SCM_RIGHTS). Used by the eBPF capture hand-off: the proxy sends its listening sockets to the
// privileged holder (bulwark-init hold), which inserts them into the steering map.

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bulwark/common/result.h"

namespace bulwark {

// Owns one file descriptor; closes it on destruction. Move-only.
class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset(o.release());
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

private:
  int fd_ = -1;
};

namespace fdpass {

// The most descriptors one message carries.
inline constexpr size_t kMaxFds = 16;
// The largest message body (one SOCK_SEQPACKET datagram).
inline constexpr size_t kMaxMessage = 64 * 1024;

struct Message {
  std::string data;
  std::vector<UniqueFd> fds;
};

// A SOCK_SEQPACKET Unix socket connected to `path` (close-on-exec).
[[nodiscard]] Result<UniqueFd> connectUnix(const std::string& path);

// A listening SOCK_SEQPACKET Unix socket at `path`: a stale socket file is replaced, the file
// gets `mode` (e.g. 0666 for a peer with another UID, 0600 for the owner only).
[[nodiscard]] Result<UniqueFd> listenUnix(const std::string& path, unsigned mode);

// One message: `data` (non-empty) plus `fds` as SCM_RIGHTS. The caller keeps its descriptors
// (the receiver gets duplicates).
[[nodiscard]] Status send(int sock, std::string_view data, std::span<const int> fds = {});

// One message, waiting at most `timeout` (negative: forever). Received descriptors are
// close-on-exec; truncated messages or descriptors are an error (EMSGSIZE) and nothing leaks.
// A closed peer is ECONNRESET.
[[nodiscard]] Result<Message> receive(int sock, std::chrono::milliseconds timeout);

// send() then receive(): one request, one answer.
[[nodiscard]] Result<Message> call(int sock, std::string_view data, std::span<const int> fds,
                                   std::chrono::milliseconds timeout);

} // namespace fdpass
} // namespace bulwark

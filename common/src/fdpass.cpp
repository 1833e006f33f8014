#include "bulwark/common/fdpass.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bulwark {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = fd;
}

namespace fdpass {
namespace {

Result<sockaddr_un> unixAddress(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(sa.sun_path)) {
    return BW_INVALID("unix socket path '" + path + "' is empty or longer than " +
                      std::to_string(sizeof(sa.sun_path) - 1) + " bytes");
  }
  std::memcpy(sa.sun_path, path.data(), path.size());
  return sa;
}

} // namespace

Result<UniqueFd> connectUnix(const std::string& path) {
  auto sa = unixAddress(path);
  if (!sa) {
    return tl::unexpected(sa.error());
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) {
    return BW_ERR(errnoCode(errno), "socket(AF_UNIX)");
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof(*sa)) != 0) {
    return BW_ERR(errnoCode(errno), "connect " + path);
  }
  return fd;
}

Result<UniqueFd> listenUnix(const std::string& path, unsigned mode) {
  auto sa = unixAddress(path);
  if (!sa) {
    return tl::unexpected(sa.error());
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    return BW_ERR(errnoCode(errno), "socket(AF_UNIX)");
  }
  // A socket file left by a previous holder: only a socket is replaced, never another file.
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return BW_ERR(errnoCode(EEXIST), path + " exists and is not a socket");
    }
    ::unlink(path.c_str());
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof(*sa)) != 0) {
    return BW_ERR(errnoCode(errno), "bind " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) {
    return BW_ERR(errnoCode(errno), "chmod " + path);
  }
  if (::listen(fd.get(), 64) != 0) {
    return BW_ERR(errnoCode(errno), "listen " + path);
  }
  return fd;
}

Status send(int sock, std::string_view data, std::span<const int> fds) {
  if (data.empty() || data.size() > kMaxMessage) {
    return BW_INVALID("fd message must be 1.." + std::to_string(kMaxMessage) + " bytes");
  }
  if (fds.size() > kMaxFds) {
    return BW_INVALID("at most " + std::to_string(kMaxFds) + " descriptors per message");
  }
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return BW_ERR(errnoCode(errno), "sendmsg");
  }
  return {};
}

Result<Message> receive(int sock, std::chrono::milliseconds timeout) {
  pollfd p{sock, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout.count() < 0 ? -1 : static_cast<int>(timeout.count()));
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    return BW_ERR(errnoCode(errno), "poll");
  }
  if (r == 0) {
    return BW_ERR(errnoCode(ETIMEDOUT), "no answer within " +
                                            std::to_string(timeout.count()) + " ms");
  }
  Message out;
  out.data.resize(kMaxMessage);
  iovec iov{out.data.data(), out.data.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return BW_ERR(errnoCode(errno), "recvmsg");
  }
  // Take ownership of every received descriptor first, so an error below leaks none.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        out.fds.emplace_back(fd);
      }
    }
  }
  if (n == 0) {
    return BW_ERR(errnoCode(ECONNRESET), "peer closed the connection");
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    return BW_ERR(errnoCode(EMSGSIZE), "message or descriptors truncated");
  }
  out.data.resize(static_cast<size_t>(n));
  return out;
}

Result<Message> call(int sock, std::string_view data, std::span<const int> fds,
                     std::chrono::milliseconds timeout) {
  if (auto st = send(sock, data, fds); !st) {
    return tl::unexpected(st.error());
  }
  return receive(sock, timeout);
}

} // namespace fdpass
} // namespace bulwark

#include "bulwark/common/listener.h"

#include <cerrno>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/v6_only.hpp>

namespace bulwark::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Result<tcp::acceptor> openListener(asio::io_context& ctx, const HostPort& hp,
                                   const ListenOptions& opts) {
  boost::system::error_code ec;
  const tcp::endpoint ep(asio::ip::make_address(hp.host, ec), hp.port);
  if (ec) {
    return BW_INVALID("listen " + hp.str() + ": invalid address");
  }
  tcp::acceptor a(ctx);
  a.open(ep.protocol(), ec);
  if (!ec && ep.address().is_v6()) {
    a.set_option(asio::ip::v6_only(opts.v6Only), ec);
  }
  if (!ec) {
    a.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec && opts.reusePort) {
    const int one = 1;
    if (::setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      ec.assign(errno, boost::system::system_category());
    }
  }
  if (!ec) {
    a.bind(ep, ec);
  }
  if (!ec && opts.listen) {
    a.listen(opts.backlog, ec);
  }
  if (ec) {
    return BW_ERR(std::error_code(ec.value(), std::generic_category()), "listen " + hp.str());
  }
  return a;
}

Status probeFree(const HostPort& hp, bool v6Only) {
  asio::io_context ctx;
  auto a = openListener(ctx, hp, {.reusePort = false, .v6Only = v6Only, .listen = false});
  if (!a) {
    return tl::unexpected(a.error());
  }
  return {};
}

int connectProbe(const HostPort& hp, int timeoutMs) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (hp.v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(hp.port);
    if (inet_pton(AF_INET6, hp.host.c_str(), &a->sin6_addr) != 1) return EINVAL;
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(hp.port);
    if (inet_pton(AF_INET, hp.host.c_str(), &a->sin_addr) != 1) return EINVAL;
    len = sizeof(*a);
  }
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int err = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const int ready = ::poll(&p, 1, timeoutMs);
      if (ready == 1) {
        socklen_t el = sizeof(err);
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = errno;
      } else {
        err = ready == 0 ? ETIMEDOUT : errno;
      }
    }
  }
  ::close(fd);
  return err;
}

} // namespace bulwark::net

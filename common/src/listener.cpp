#include "bulwark/common/listener.h"

#include <cerrno>

#include <sys/socket.h>

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

} // namespace bulwark::net

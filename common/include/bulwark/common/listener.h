#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "bulwark/common/net.h"
#include "bulwark/common/result.h"

namespace bulwark::net {

struct ListenOptions {
  int backlog = 128;
  bool reusePort = false; // SO_REUSEPORT: one socket per worker thread on the same port
  bool v6Only = true;     // an IPv6 socket takes IPv6 only (false: dual-stack)
  bool listen = true;     // false: bind only (a probe)
};

// A bound, listening TCP socket for `hp` (SO_REUSEADDR always). Errors name the address.
Result<boost::asio::ip::tcp::acceptor> openListener(boost::asio::io_context& ctx,
                                                    const HostPort& hp,
                                                    const ListenOptions& opts);

// SO_REUSEPORT would let a second live process share the port: binds once without it to see
// that the port is free (the probe socket is closed again).
Status probeFree(const HostPort& hp, bool v6Only = true);

// Opens a TCP connection to `hp` and closes it again, waiting at most `timeoutMs` for the
// handshake: 0 when it connected, else the errno that says why not (ECONNREFUSED: nothing
// listens; ETIMEDOUT: no answer in time; EINVAL: `hp` is not an IP literal).
int connectProbe(const HostPort& hp, int timeoutMs);

} // namespace bulwark::net

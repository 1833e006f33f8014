#pragma once

// A hint to Asio's epoll reactor that the next receive on a socket will find nothing until the
// peer sends again, so it is queued for the next readiness event instead of being tried at once.
//
// Asio tries every receive as soon as it is started ("speculative" read) and, when that finds
// nothing (EAGAIN), queues it for the next edge-triggered event: one wasted system call. It
// skips the attempt only after a read that hit end of stream. When the proxy has just sent a
// request to the app, the answer cannot be there yet: the attempt is wasted on every request
// (nginx tracks the same "ready" state and waits for the event).
//
// The reactor keeps that state per descriptor (`try_speculative_`) without a public setter; it
// is reached through explicit template instantiation, which may name private members. Every
// readiness event for the descriptor sets the flag again, so the only bytes the hint could leave
// unnoticed are ones already received before it was given (and whose event already passed).
// Call it only before sending a request, when the app has nothing left to send: its answer, an
// error (RST) or a close that follows the request each bring a new event; or right after a
// receive that did not fill its buffer (the socket is empty), with no event looked at in
// between. The read deadlines bound any wait in every case.
//
// Only for the Boost version and reactor this was checked against; elsewhere it does nothing.

#include <boost/version.hpp>

#include "asio_util.h"

#if BOOST_VERSION == 107400 && defined(BOOST_ASIO_HAS_EPOLL) && !defined(BOOST_ASIO_HAS_IOCP) &&  \
    !defined(BOOST_ASIO_WINDOWS_RUNTIME)
#include <boost/asio/detail/epoll_reactor.hpp>
#include <boost/asio/detail/reactive_socket_service.hpp>
#define BULWARK_REACTOR_HINT 1
#endif

namespace bulwark::filter {

#ifdef BULWARK_REACTOR_HINT
namespace reactor_hint_detail {

template <class Tag, typename Tag::type Member>
struct Reach {
  friend typename Tag::type reach(Tag) { return Member; }
};

using SocketBase = asio::basic_socket<tcp, tcp::socket::executor_type>;
using SocketImpl =
    asio::detail::io_object_impl<asio::detail::reactive_socket_service<tcp>,
                                 tcp::socket::executor_type>;
using Descriptor = asio::detail::epoll_reactor::descriptor_state;

struct ImplTag {
  using type = SocketImpl SocketBase::*;
  friend type reach(ImplTag);
};
struct SpeculativeTag {
  using type = bool (Descriptor::*)[asio::detail::epoll_reactor::max_ops];
  friend type reach(SpeculativeTag);
};

template struct Reach<ImplTag, &SocketBase::impl_>;
template struct Reach<SpeculativeTag, &Descriptor::try_speculative_>;

} // namespace reactor_hint_detail

inline bool* speculativeReadFlag(tcp::socket& s) {
  using namespace reactor_hint_detail;
  SocketBase& base = s;
  auto& impl = (base.*reach(ImplTag{})).get_implementation();
  if (impl.reactor_data_ == nullptr) {
    return nullptr;
  }
  return &(impl.reactor_data_->*reach(SpeculativeTag{}))[asio::detail::epoll_reactor::read_op];
}

inline void nothingToReadUntilNextEvent(tcp::socket& s) {
  if (bool* f = speculativeReadFlag(s)) {
    *f = false;
  }
}

// Whether the next receive waits for a readiness event (the hint is in force). A receive started
// then cannot complete at once: it is performed when the event comes, and its handler runs right
// after that receive, before any other event is looked at.
inline bool readWaitsForEvent(tcp::socket& s) {
  const bool* f = speculativeReadFlag(s);
  return f != nullptr && !*f;
}

// Undoes the hint: the next receive is tried at once again (always safe).
inline void tryReadAtOnce(tcp::socket& s) {
  if (bool* f = speculativeReadFlag(s)) {
    *f = true;
  }
}
#else
inline void nothingToReadUntilNextEvent(tcp::socket&) {}
inline bool readWaitsForEvent(tcp::socket&) { return false; }
inline void tryReadAtOnce(tcp::socket&) {}
#endif

} // namespace bulwark::filter

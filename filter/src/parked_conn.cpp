// A client connection while it waits for bytes (see ParkedConn in session.h): made at accept
// and whenever a session has nothing left to read; it turns back into a Session when the
// socket becomes readable or its deadline passes with a partial head.
#include "session.h"

#include <atomic>
#include <cstring>

#include "bulwark/filter/orig_dst.h"
#include "idle_memory.h"
#include "reactor_hint.h"

namespace bulwark::filter {
namespace {

std::atomic<uint64_t> gNextConnId{1};

} // namespace

ParkedConn::ParkedConn(Worker& w, tcp::socket s)
    : w_(w), client_(std::move(s)), id_(gNextConnId.fetch_add(1, std::memory_order_relaxed)) {
  stats().connections_total.inc();
  stats().connectionsActive.add();
  live_ = true;
  // A new connection waits for its first head from the moment it is accepted: a client that
  // never sends a byte is held for header_ms, not idle_ms.
  arm(TimeoutKind::header, w.cfg().timeouts.header);
  idle_ = true;
  idleSince_ = Clock::now();
}

ParkedConn::ParkedConn(Session& s)
    : w_(s.w_), client_(std::move(s.client_)), peerIp_(std::move(s.peerIp_)), local_(s.local_),
      upstreamEp_(s.upstreamEp_), id_(s.id_), scanned_(s.scanned_), first_(s.first_),
      served_(s.served_), drainClose_(s.drainClose_) {
  const std::string_view head = view(s.cbuf_);
  if (!head.empty()) { // a partial head keeps only its bytes
    partial_ = static_cast<char*>(idlemem::allocate(head.size()));
    std::memcpy(partial_, head.data(), head.size());
    partialLen_ = static_cast<uint32_t>(head.size());
  }
  s.handOver(*this);
}

ParkedConn::~ParkedConn() {
  if (partial_ != nullptr) {
    idlemem::deallocate(partial_, partialLen_);
  }
}

std::shared_ptr<ParkedConn> ParkedConn::make(Worker& w, tcp::socket s) {
  return std::allocate_shared<ParkedConn>(idlemem::Allocator<ParkedConn>(), w, std::move(s));
}

std::shared_ptr<ParkedConn> ParkedConn::make(Session& s) {
  return std::allocate_shared<ParkedConn>(idlemem::Allocator<ParkedConn>(), s);
}

bool ParkedConn::setUp() {
  error_code ec;
  const auto remote = client_.remote_endpoint(ec);
  if (ec) {
    return false;
  }
  local_ = client_.local_endpoint(ec);
  if (ec) {
    return false;
  }
  peerIp_ = remote.address().to_string();
  client_.set_option(tcp::no_delay(true), ec);
  const ProxyConfig& cfg = w_.cfg();
  PortSources src;
  if (cfg.upstream) {
    src.configured = cfg.upstream->port;
  } else {
    src.originalDst = queryOriginalDstPort(client_.native_handle(), local_.address().is_v6());
  }
  src.localPort = local_.port();
  src.listenPorts = w_.listenPorts();
  src.appPort = cfg.appPort;
  const uint16_t port = resolveUpstreamPort(src);
  const auto addr = cfg.upstream ? asio::ip::make_address(cfg.upstream->host, ec)
                                 : asio::ip::make_address("127.0.0.1", ec);
  if (ec) {
    return false;
  }
  upstreamEp_ = {addr, port};
  return true;
}

namespace {

// The readiness wait of a parked connection: its operation is allocated in idle memory.
struct ReadableHandler {
  std::shared_ptr<ParkedConn> conn;
  using allocator_type = idlemem::Allocator<void>;
  allocator_type get_allocator() const noexcept { return {}; }
  void operator()(const error_code& ec, size_t /*n*/) const { ParkedConn::readable(conn, ec); }
};

} // namespace

// The wait is a one-byte MSG_PEEK receive rather than async_wait: the reactor re-arms the
// descriptor (epoll_ctl) for every wait operation, while a receive is queued as it is when the
// last read emptied the socket (edge-triggered epoll reports the next bytes) and is tried at
// once otherwise. The byte stays in the socket for the session's read.
void ParkedConn::wait() {
  tryReadAtOnce(client_); // a parked connection never depends on the read hint
  client_.async_receive(asio::buffer(&peek_, 1), tcp::socket::message_peek,
                        ReadableHandler{shared_from_this()});
}

void ParkedConn::readable(const std::shared_ptr<ParkedConn>& self, const error_code& ec) {
  self->onReadable(ec);
}

void ParkedConn::closeAll() {
  error_code ignored;
  client_.close(ignored);
}

void ParkedConn::expire(bool drainClose) {
  deadline_ = Clock::time_point::max();
  expired_ = true;
  drainClose_ = drainClose;
  error_code ignored;
  client_.cancel(ignored);
}

void ParkedConn::onReadable(const error_code& ec) {
  if (ec) {
    if (!expired_ || drainClose_) {
      closeAll(); // closed, or an idle connection ended by a drain
      return;
    }
    if (kind_ != TimeoutKind::header || partialLen_ == 0) {
      stats().timeout(kind_); // idle keep-alive, or silent since accept: closed without a reply
      closeAll();
      return;
    }
    // A head started and not finished in time: a session answers 408.
  }
  Session::activate(std::make_shared<Session>(*this));
}

} // namespace bulwark::filter

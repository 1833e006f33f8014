#pragma once

#include <cstdint>
#include <array>
#include <cstddef>
#include <memory>
#include <memory_resource>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "asio_util.h"
#include "bulwark/filter/body_decoder.h"
#include "bulwark/filter/body_windows.h"
#include "bulwark/filter/http_head.h"
#include "bulwark/filter/snapshot.h"
#include "bulwark/filter/waf_filter.h"
#include "deadlines.h"
#include "worker.h"

namespace bulwark::filter {

namespace http = beast::http;

class Session;

// A client connection while it waits for bytes: before its first request, between keep-alive
// requests, or between the segments of a slow request head. It holds the socket, the bytes of
// a head received so far (exactly sized), the deadline and nothing else: no coroutine frame,
// parser or read buffer. A Session is made from it when the socket becomes readable (or the
// deadline passed with a partial head, to answer 408) and gives the state back when the
// connection waits again, so an idle connection costs a few hundred bytes (parked_conn.cpp).
class ParkedConn : public Conn, public std::enable_shared_from_this<ParkedConn> {
public:
  // A connection just accepted (counted in bulwark_connections_total/_active).
  ParkedConn(Worker& w, tcp::socket s);
  // The waiting state of an active session that has nothing left to read.
  explicit ParkedConn(Session& s);
  ~ParkedConn() override;
  ParkedConn(const ParkedConn&) = delete;
  ParkedConn& operator=(const ParkedConn&) = delete;

  // Parked objects live in idle memory (idle_memory.h), like their waits.
  static std::shared_ptr<ParkedConn> make(Worker& w, tcp::socket s);
  static std::shared_ptr<ParkedConn> make(Session& s);

  // Reads the addresses and resolves the app port of a new connection; false: already gone.
  bool setUp();
  // Waits for readability (or the deadline) without a buffer.
  void wait();
  void closeAll();
  void expire(bool drainClose) override;
  // The completion of wait().
  static void readable(const std::shared_ptr<ParkedConn>& self, const error_code& ec);

private:
  friend class Session;
  void onReadable(const error_code& ec);

  Worker& w_;
  tcp::socket client_;
  char* partial_ = nullptr; // the bytes of a head received so far (idle memory), or none
  uint32_t partialLen_ = 0;
  std::string peerIp_;
  tcp::endpoint local_;
  tcp::endpoint upstreamEp_;
  uint64_t id_;
  size_t scanned_ = 0; // how far the partial head was scanned
  bool first_ = true;  // no request head completed yet on this connection
  uint8_t served_ = 0; // requests answered on this connection (counted up to 2)
  bool drainClose_ = false;
  char peek_ = 0; // where the readiness wait peeks
};

// One client connection, as a state machine: serve → readHead → decide → forward → relay.
// The steps live in session.cpp (head, decision), upstream.cpp (forward, response), body.cpp
// (request body, framing) and tunnel.cpp (byte relay); session_reply.cpp writes the answers the
// proxy gives itself, rendered by local_reply, the heads sent on by forward_headers, the decision by
// waf_filter.
class Session : public Conn, public std::enable_shared_from_this<Session> {
public:
  // Takes over a parked connection that became readable (or whose deadline passed).
  explicit Session(ParkedConn& p);
  ~Session() override;

  // Serves until the connection waits for bytes again (then it is parked) or ends.
  static void activate(std::shared_ptr<Session> self);
  uint64_t id() const { return id_; }
  void closeAll();
  void expire(bool drainClose) override;

private:
  enum class HeadOutcome { Head, Closed, Timeout, Invalid, NotHttp, Park };
  enum class BodyOutcome {
    Done, ClientError, ClientGone, ClientTimeout, UpstreamFailed,
    Blocked // streaming inspection blocked the rest of the body (attack or on_limit)
  };
  // Inspection of the body past its prefix while it streams (body.cpp).
  struct BodyStream {
    bool active = false;     // windows are still inspected
    bool limitHit = false;   // on_limit blocked this request: answered 413
    WafPlan plan;
    std::optional<IpBytes> clientIp;
    std::string client, host, target, method, contentType;
    uint64_t inspected = 0; // body bytes inspected so far
    BodyWindows windows;
  };
  // What one request needs once its head is parsed.
  struct Exchange {
    const http1::HeadInfo* info = nullptr;
    bool http10 = false;
    bool hasBody = false;
    bool isHead = false;
    bool upgrade = false;
    bool keepAlive = true;
    bool continueSent = false;
    bool upstreamUsable = true;
    size_t prefixLen = 0;
  };

  // session.cpp
  friend class ParkedConn;
  awaitable<bool> serve();
  awaitable<HeadOutcome> readHead(bool& mayRead);
  awaitable<bool> handleRequest();
  // The deny list, probes and mode for a request, and what inspect() needs of them.
  struct FilterPlan {
    WafPlan plan;
    std::string_view client;
    std::optional<IpBytes> clientIp;
    std::string_view target;
    std::string_view host;
  };
  bool planFilter(Exchange& x, WafAction& action, FilterPlan& f);
  void inspect(Exchange& x, WafAction& action, const FilterPlan& f);
  awaitable<void> refuseMalformed();
  awaitable<bool> sendContinue();
  awaitable<void> sendError(unsigned status, std::string_view error);
  awaitable<void> sendBlocked();
  awaitable<void> lingeringClose();
  void countAttack(const detect::Verdict& v, bool blocked);
  void finishRequest(unsigned status);
  void closeUpstream();
  std::string_view hostOf() const;
  // What is left of the idle timeout of a connection waiting for its next request.
  std::chrono::milliseconds idleLeft() const;

  // upstream.cpp
  awaitable<bool> forward(Exchange& x);
  awaitable<unsigned> connectUpstream(bool& reused, bool allowPool = true, bool withBody = false);
  bool takePooled(bool withBody); // an idle app connection from the pool
  awaitable<void> readResponseHead(bool isHead, error_code& ec);
  awaitable<bool> relayResponse(Exchange& x);
  struct FinalResponse {
    unsigned status = 0;
    bool bodyless = false;
    bool chunkedOut = false;
    bool closeAfter = false;
  };
  FinalResponse clientHead(const Exchange& x);
  bool finishResponse(const Exchange& x, const FinalResponse& f);
  void appHead(const Exchange& x);

  // body.cpp
  std::span<char> prefixRoom(uint64_t limit);
  bool decodeBuffered(std::span<char> out, size_t& got, bool fill, BodyOutcome& b);
  awaitable<BodyOutcome> readBody(std::span<char> out, size_t& got, bool fill);
  awaitable<BodyOutcome> relayRequestBody(bool chunked);
  awaitable<bool> relayResponseBody(std::string_view head, bool bodyless, bool chunkedOut,
                                    bool& upstreamUsable);
  awaitable<void> answerBodyFailure(BodyOutcome b);
  WafAction planBodyStream(const Exchange& x, const WafPlan& plan,
                           const std::optional<IpBytes>& clientIp, std::string_view client,
                           std::string_view host, std::string_view target);
  WafAction bodyLimit(std::string_view limit);
  awaitable<BodyOutcome> relayInspectedBody(bool chunked);
  bool sendFramed(tcp::socket& to, std::string_view prefix, const char* data, size_t n,
                  bool chunked, bool terminate, error_code& ec);
  awaitable<void> writeRest(tcp::socket& to, error_code& ec);
  char* bodyBuffer();

  // tunnel.cpp
  awaitable<void> tunnel();
  static awaitable<void> pumpDetached(std::shared_ptr<Session> self);
  awaitable<void> pump(tcp::socket& from, tcp::socket& to, bool fromClient);
  awaitable<void> passThrough();

  Worker& w_;
  const ProxyConfig& cfg_;
  const Timeouts& to_;
  std::shared_ptr<const FilterSnapshot> snap_; // taken when a request starts
  tcp::socket client_;
  tcp::socket upstream_;
  tcp::endpoint local_;
  tcp::endpoint upstreamEp_;
  std::string peerIp_;
  std::optional<std::optional<IpBytes>> peerIpBytes_; // peerIp_ parsed, once known
  beast::flat_buffer cbuf_;
  beast::flat_buffer ubuf_;
  std::unique_ptr<char[]> bodyBuf_;
  // The request being served: its head's bytes and field lines (capacities kept between
  // requests) and what the session reads from them (views into both).
  std::string reqHead_;
  std::vector<http1::HeadField> reqFields_;
  http1::Request req_;
  // The app's response head: its fields live in resArena_ (an inline buffer first), released
  // when the next response head is read, instead of one allocation per field.
  std::array<std::byte, 2048> resArenaBuf_;
  std::pmr::monotonic_buffer_resource resArena_{resArenaBuf_.data(), resArenaBuf_.size()};
  std::optional<http::response_parser<http::empty_body, std::pmr::polymorphic_allocator<char>>>
      resParser_;
  http1::BodyDecoder body_;    // the request body being read
  http1::BodyDecoder resBody_; // the response body being relayed
  size_t headLen_ = 0;
  http1::HeadError headError_ = http1::HeadError::None;
  Uninspected notHttp_ = Uninspected::unknown;
  std::string requestId_;
  std::string upHead_;   // the head sent to the app (its capacity is kept between requests)
  std::string downHead_; // the response head sent to the client (likewise)
  std::vector<detect::Header> inspectHeaders_; // the fields handed to the engine (likewise)
  std::vector<char> prefix_; // inspected body prefix, then the streaming inspection window
  std::unique_ptr<BodyStream> stream_; // only while a request's body is inspected streaming
  struct Framed { // a framed write (sendFramed) and what of it is left (writeRest)
    std::array<asio::const_buffer, 5> bufs;
    char sizeLine[24];
    std::span<asio::const_buffer> rest;
  } framed_;
  Clock::time_point started_{};
  size_t scanned_ = 0;
  bool first_ = true;
  uint8_t served_ = 0; // requests answered on this connection (counted up to 2)
  bool drainClose_ = false;
  bool headRequest_ = false; // the request being answered is a HEAD
  bool otherPumpRunning_ = false;
  bool tunnelTimeoutCounted_ = false;
  bool lingering_ = false; // reading for the next request after a response (readHead)
  bool parkNow_ = false;   // the linger time passed: park instead of closing
  asio::steady_timer tunnelDone_;
  uint64_t id_;
};

} // namespace bulwark::filter

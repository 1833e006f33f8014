#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "asio_util.h"
#include "bulwark/filter/body_decoder.h"
#include "bulwark/filter/http_head.h"
#include "bulwark/filter/snapshot.h"
#include "bulwark/filter/waf_filter.h"
#include "deadlines.h"
#include "worker.h"

namespace bulwark::filter {

namespace http = beast::http;

// One client connection, as a state machine: serve → readHead → decide → forward → relay.
// The steps live in session.cpp (head, decision), upstream.cpp (forward, response), body.cpp
// (request body, framing) and tunnel.cpp (byte relay); the answers the proxy writes itself
// are rendered by local_reply, the heads sent on by forward_headers, the decision by
// waf_filter.
class Session : public Conn, public std::enable_shared_from_this<Session> {
public:
  Session(Worker& w, tcp::socket s);
  ~Session() override;

  static awaitable<void> run(std::shared_ptr<Session> self);
  uint64_t id() const { return id_; }
  void closeAll();
  void expire(bool drainClose) override;
  void releaseIdle() override;

private:
  enum class HeadOutcome { Head, Closed, Timeout, Invalid, NotHttp };
  enum class BodyOutcome { Done, ClientError, ClientGone, ClientTimeout, UpstreamFailed };
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
  awaitable<void> serve();
  tcp::endpoint resolveUpstream();
  awaitable<HeadOutcome> readHead(bool first);
  awaitable<bool> handleRequest();
  awaitable<bool> applyFilter(Exchange& x, WafAction& action);
  awaitable<void> refuseMalformed();
  awaitable<bool> sendContinue();
  awaitable<void> sendError(unsigned status, std::string_view error);
  awaitable<void> sendBlocked();
  awaitable<void> lingeringClose();
  void countAttack(const detect::Verdict& v, bool blocked);
  void finishRequest(unsigned status);
  void closeUpstream();
  std::string_view hostOf() const;

  // upstream.cpp
  awaitable<bool> forward(Exchange& x);
  awaitable<unsigned> connectUpstream(bool& reused, bool allowPool = true, bool withBody = false);
  awaitable<void> readResponseHead(bool isHead, error_code& ec);
  awaitable<bool> relayResponse(Exchange& x);
  std::string appHead(const Exchange& x) const;

  // body.cpp
  awaitable<BodyOutcome> readBodyPrefix(uint64_t limit, size_t& got);
  awaitable<BodyOutcome> readBody(std::span<char> out, size_t& got, bool fill);
  awaitable<BodyOutcome> relayRequestBody(bool chunked);
  awaitable<bool> relayResponseBody(std::string_view head, bool bodyless, bool chunkedOut,
                                    bool& upstreamUsable);
  awaitable<void> answerBodyFailure(BodyOutcome b);
  awaitable<void> writeFramed(tcp::socket& to, std::string_view prefix, const char* data,
                              size_t n, bool chunked, bool terminate, error_code& ec);
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
  beast::flat_buffer cbuf_;
  beast::flat_buffer ubuf_;
  std::unique_ptr<char[]> bodyBuf_;
  std::optional<http::request_parser<http::empty_body>> reqParser_;
  std::optional<http::response_parser<http::empty_body>> resParser_;
  http1::BodyDecoder body_;    // the request body being read
  http1::BodyDecoder resBody_; // the response body being relayed
  size_t headLen_ = 0;
  http1::HeadError headError_ = http1::HeadError::None;
  Uninspected notHttp_ = Uninspected::unknown;
  std::string requestId_;
  std::vector<char> prefix_; // inspected body prefix
  Clock::time_point started_{};
  bool drainClose_ = false;
  bool headRequest_ = false; // the request being answered is a HEAD
  bool otherPumpRunning_ = false;
  bool tunnelTimeoutCounted_ = false;
  asio::steady_timer tunnelDone_;
  uint64_t id_;
};

} // namespace bulwark::filter

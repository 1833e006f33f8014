#include <algorithm>
#include <array>
#include <cstdio>

#include <boost/asio/write.hpp>

#include "bulwark/common/log.h"
#include "session.h"
#include "session_const.h"

namespace bulwark::filter {
namespace {

const log::Logger kLog("proxy");

} // namespace

char* Session::bodyBuffer() {
  if (!bodyBuf_) {
    bodyBuf_ = std::make_unique<char[]>(kBodyBufferSize);
  }
  return bodyBuf_.get();
}

// Reads up to `limit` body bytes into prefix_ (fewer when the body is shorter).
awaitable<Session::BodyOutcome> Session::readBodyPrefix(uint64_t limit, size_t& got) {
  // Only as much room as this body can use: a small JSON POST does not cost the whole limit.
  if (const auto cl = reqParser_->content_length()) {
    limit = std::min(limit, *cl);
  }
  if (prefix_.size() < limit) {
    prefix_.resize(limit);
  }
  co_return co_await readBody(std::span(prefix_.data(), limit), got, true);
}

// Decodes request body bytes into `out`: what cbuf_ holds, then more from the client, until
// `out` is full or the body ends (`fill`), or until some payload arrived (streaming). Every
// wait for the client is bounded by the body timeout.
awaitable<Session::BodyOutcome> Session::readBody(std::span<char> out, size_t& got, bool fill) {
  error_code ec;
  got = 0;
  for (;;) {
    if (cbuf_.size() > 0) {
      const auto st = body_.decode(view(cbuf_), out.subspan(got));
      cbuf_.consume(st.consumed);
      stats().request_bytes_total.inc(st.consumed);
      got += st.produced;
      if (body_.error() != http1::BodyDecoder::Error::None) {
        co_return BodyOutcome::ClientError;
      }
      if (body_.done() || got == out.size() || (!fill && got > 0)) {
        co_return BodyOutcome::Done;
      }
    }
    arm(TimeoutKind::body, to_.body);
    const size_t n = co_await client_.async_read_some(cbuf_.prepare(kReadChunk), BW_EC);
    if (ec) {
      co_return expired_ ? BodyOutcome::ClientTimeout : BodyOutcome::ClientGone;
    }
    cbuf_.commit(n);
  }
}

awaitable<void> Session::answerBodyFailure(BodyOutcome b) {
  if (b == BodyOutcome::ClientError) {
    using E = http1::BodyDecoder::Error;
    const E e = body_.error();
    if (e == E::BodyTooLarge) {
      co_await sendError(413, "request body too large");
      co_return;
    }
    const http1::HeadError reason = e == E::TrailerTooLarge ? http1::HeadError::TrailerTooLarge
                                    : e == E::BadTrailer    ? http1::HeadError::BadTrailer
                                                            : http1::HeadError::BadChunk;
    stats().badRequest(reason);
    kLog.info("request body refused", {{"conn", std::to_string(id_)},
                                       {"request_id", requestId_},
                                       {"client", peerIp_},
                                       {"reason", std::string(http1::bodyErrorLabel(e))}});
    co_await sendError(http1::headErrorStatus(reason), http1::bodyErrorLabel(e));
  } else if (b == BodyOutcome::ClientTimeout) {
    stats().timeout(TimeoutKind::body);
    co_await sendError(408, "request body not received in time");
  }
}

// Streams the request body to the app in bounded pieces, re-framed (chunked stays chunked;
// chunk extensions and trailer fields are not forwarded).
awaitable<Session::BodyOutcome> Session::relayRequestBody(bool chunked) {
  error_code ec;
  char* buf = bodyBuffer();
  while (!body_.done()) {
    size_t n = 0;
    const BodyOutcome b = co_await readBody(std::span(buf, kBodyBufferSize), n, false);
    if (b != BodyOutcome::Done) {
      co_return b;
    }
    const bool last = body_.done();
    if (n == 0 && !(last && chunked)) {
      continue;
    }
    arm(TimeoutKind::upstream, to_.upstreamRead);
    co_await writeFramed(upstream_, {}, buf, n, chunked, last && chunked, ec);
    if (ec) {
      co_return BodyOutcome::UpstreamFailed;
    }
  }
  co_return BodyOutcome::Done;
}

// Writes [prefix][chunk-size CRLF]data[CRLF][0 CRLF CRLF] in one gather write.
awaitable<void> Session::writeFramed(tcp::socket& to, std::string_view prefix, const char* data,
                                     size_t n, bool chunked, bool terminate, error_code& ec) {
  char sizeLine[24];
  std::array<asio::const_buffer, 5> bufs;
  size_t count = 0;
  if (!prefix.empty()) {
    bufs[count++] = asio::buffer(prefix);
  }
  if (chunked && n > 0) {
    const int len = std::snprintf(sizeLine, sizeof sizeLine, "%zx\r\n", n);
    bufs[count++] = asio::buffer(sizeLine, static_cast<size_t>(len));
  }
  if (n > 0) {
    bufs[count++] = asio::buffer(data, n);
  }
  if (chunked && n > 0) {
    bufs[count++] = asio::buffer("\r\n", 2);
  }
  if (terminate) {
    bufs[count++] = asio::buffer("0\r\n\r\n", 5);
  }
  if (count == 0) {
    co_return;
  }
  co_await asio::async_write(to, std::span(bufs.data(), count), BW_EC);
}

// Forwards interim responses, then the final one: head rewritten for this hop, body streamed.
// The response body towards the client, after `head`: the proxy's own bounded decoder (a
// trailer section over the limit from the app is a bad response, not an exception); trailer
// fields from the app are not forwarded. Returns false when the client connection must close.
awaitable<bool> Session::relayResponseBody(std::string_view head, bool bodyless, bool chunkedOut,
                                           bool& upstreamUsable) {
  error_code ec;
  if (bodyless) {
    resBody_ = http1::BodyDecoder::none();
  } else if (resParser_->chunked()) {
    resBody_ = http1::BodyDecoder::chunked(
        {.maxLine = 4096, .maxTrailerBytes = kUpstreamHeadLimit, .maxTrailers = 100});
  } else if (const auto cl = resParser_->content_length()) {
    resBody_ = http1::BodyDecoder::length(*cl);
  } else {
    resBody_ = http1::BodyDecoder::untilClose();
  }
  char* buf = resBody_.done() ? nullptr : bodyBuffer();
  std::string_view pendingHead = head;
  for (;;) {
    size_t n = 0;
    if (ubuf_.size() > 0 && !resBody_.done()) {
      const auto st = resBody_.decode(view(ubuf_), std::span(buf, kBodyBufferSize));
      ubuf_.consume(st.consumed);
      n = st.produced;
      if (resBody_.error() != http1::BodyDecoder::Error::None) {
        // Close, so the client sees a truncated response rather than a wrong one.
        stats().upstreamError(UpstreamError::bad_response);
        kLog.warn("malformed response body from the app; connection closed",
                  {{"conn", std::to_string(id_)},
                   {"request_id", requestId_},
                   {"reason", std::string(http1::bodyErrorLabel(resBody_.error()))}});
        closeUpstream();
        if (!pendingHead.empty()) {
          co_await sendError(502, "app sent a malformed response body");
        }
        co_return false;
      }
    } else if (!resBody_.done()) {
      if (!pendingHead.empty()) {
        // About to wait for the app: send the head now (streaming responses must not stall).
        arm(TimeoutKind::send, to_.send);
        co_await asio::async_write(client_, asio::buffer(pendingHead), BW_EC);
        stats().response_bytes_total.inc(pendingHead.size());
        pendingHead = {};
        if (ec) {
          closeUpstream();
          co_return false;
        }
      }
      arm(TimeoutKind::upstream, to_.upstreamRead);
      const size_t got = co_await upstream_.async_read_some(ubuf_.prepare(kBodyBufferSize), BW_EC);
      if (ec == asio::error::eof && resBody_.framing() == http1::BodyDecoder::Framing::UntilClose) {
        resBody_.endOfInput();
        upstreamUsable = false;
      } else if (ec) {
        // The head (and maybe part of the body) is gone already: all we can do is close.
        if (expired_) {
          stats().timeout(TimeoutKind::upstream);
        }
        stats().upstreamError(expired_ ? UpstreamError::timeout : UpstreamError::closed);
        closeUpstream();
        co_return false;
      } else {
        ubuf_.commit(got);
        continue;
      }
    }
    const bool last = resBody_.done();
    if (n > 0 || last || !pendingHead.empty()) {
      arm(TimeoutKind::send, to_.send);
      co_await writeFramed(client_, pendingHead, buf, n, chunkedOut, last && chunkedOut, ec);
      stats().response_bytes_total.inc(pendingHead.size() + n);
      pendingHead = {};
      if (ec) {
        if (expired_) {
          stats().timeout(TimeoutKind::send);
        }
        closeUpstream();
        co_return false;
      }
    }
    if (last) {
      co_return true;
    }
  }
}

} // namespace bulwark::filter

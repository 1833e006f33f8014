// Whole-session fuzz target: a real ProxyServer (one worker thread, loopback) between a client
// driven by the fuzzer bytes and a scripted upstream in the same process.
//
// Each input is sent on a fresh client connection (optionally split into several writes at
// points taken from the input), the client half-closes and reads until the proxy closes. The
// invariants, each a __builtin_trap() when broken:
//   - no crash (ASan/UBSan, and an exception reaching std::terminate aborts the process);
//   - no hang: the proxy closes the client connection within kClientDeadline;
//   - the proxy keeps serving: a fresh GET afterwards is answered 200 by the upstream;
//   - every upstream connection carries a sequence of well-framed HTTP/1.1 requests (strict
//     request line, field syntax, one framing: Content-Length or chunked, never both). Only the
//     last request may be incomplete, and only when the proxy then closes the connection (a body
//     the client never finished); it may not stay pending longer than kStallLimit;
//   - a request the client was answered 4xx for never reached the upstream complete (matched by
//     the X-Request-Id the proxy puts on both; the input's own "request-id" names are neutralised
//     so every id is the proxy's);
//   - what the client receives is a sequence of well-framed HTTP/1.1 responses (one framing
//     each; nothing after a Connection: close answer; no 1xx to an HTTP/1.0 client), and each
//     answer from the app is the one for the request whose X-Request-Id it shows (the upstream
//     echoes the id it received as X-Echo-Id: no stale or swapped answer, e.g. from a pooled
//     connection left with unread bytes);
//   - smuggling-safe forms only: origin-form
//     targets (or "*" for OPTIONS), exactly one Host per HTTP/1.1 request and a valid authority,
//     no Transfer_Encoding / Content_Length lookalike names, no "Upgrade: h2c".
// BULWARK_SESSION_FUZZ_FRAMING_ONLY=1 keeps only the crash, hang, liveness and framing checks
// (to look for deeper faults while a known smuggling-form or id finding is open).
//
// Environment: BULWARK_SESSION_FUZZ_MODE=off|block (default block: the detection engine with the
// build-time databases inspects every request).
//
// Only ProxyServer::create/start and the configuration API are used, so the target follows the
// proxy's internals as they change (create takes a FilterStore snapshot where snapshot.h exists).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bulwark/common/log.h"
#include "bulwark/detect/engine.h"
#include "bulwark/filter/config.h"
#include "bulwark/filter/policy.h"
#include "bulwark/filter/proxy.h"
#if __has_include("bulwark/filter/snapshot.h")
// The proxy takes one reloadable snapshot {policy, engine, limits} instead of engine + policies.
#include "bulwark/filter/snapshot.h"
#define BW_SESSION_FUZZ_SNAPSHOT 1
#else
#define BW_SESSION_FUZZ_SNAPSHOT 0
#endif

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kClientDeadline = 2500ms; // > every proxy timeout below plus a margin
constexpr auto kStallLimit = 4000ms;     // an incomplete request pending at the upstream
constexpr size_t kMaxUpstreamBuffer = 1 << 20;

bool framingOnly() {
  const char* v = std::getenv("BULWARK_SESSION_FUZZ_FRAMING_ONLY");
  return v != nullptr && std::string_view(v) == "1";
}

[[noreturn]] void fail(const char* what, std::string_view bytes = {}) {
  std::fprintf(stderr, "session_fuzz: invariant broken: %s\n", what);
  if (!bytes.empty()) {
    std::fprintf(stderr, "  bytes (%zu): ", bytes.size());
    for (size_t i = 0; i < bytes.size() && i < 2048; ++i) {
      const auto c = static_cast<unsigned char>(bytes[i]);
      if (c >= 0x20 && c < 0x7f && c != '\\') {
        std::fputc(c, stderr);
      } else {
        std::fprintf(stderr, "\\x%02x", c);
      }
    }
    std::fputc('\n', stderr);
  }
  __builtin_trap();
}

// Closes a socket whose peer has closed already without leaving it in TIME_WAIT (an RST ends
// the peer's FIN_WAIT): at hundreds of connections a second, TIME_WAIT entries would use up the
// loopback's ephemeral ports within a minute and connect() would fail for that reason alone.
void closeAfterPeer(int fd) {
  const linger abort{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  ::close(fd);
}

// ---------------------------------------------------------------------------------------------
// Strict request checker (what a careful HTTP/1.1 server accepts, RFC 9110/9112).
// ---------------------------------------------------------------------------------------------

bool isTchar(unsigned char c) {
  return std::isalnum(c) != 0 || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}
bool isFieldVchar(unsigned char c) { return (c >= 0x21 && c != 0x7f) || c == ' ' || c == '\t'; }
// Visible ASCII and, as most servers accept it, obs-text; never a space, CTL or DEL.
bool isTargetChar(unsigned char c) { return c >= 0x21 && c != 0x7f; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string_view trimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  return v;
}

// A Content-Length value: 1 to 18 digits (no sign, no list).
std::optional<uint64_t> contentLengthValue(std::string_view v) {
  if (v.empty() || v.size() > 18 ||
      !std::all_of(v.begin(), v.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    return std::nullopt;
  }
  return std::stoull(std::string(v));
}

// `name ":" value` with a token name and field-vchar/OWS value; returns the colon's offset.
std::optional<size_t> fieldLineColon(std::string_view line) {
  const size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) {
    return std::nullopt;
  }
  for (size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (i < colon ? !isTchar(c) : (i > colon && !isFieldVchar(c))) {
      return std::nullopt;
    }
  }
  return colon;
}

// A Host value: reg-name / IPv4 / [IPv6] with an optional :port.
bool validAuthority(std::string_view h) {
  if (h.empty()) {
    return false;
  }
  std::string_view host = h;
  std::string_view port;
  if (h.front() == '[') {
    const size_t close = h.find(']');
    if (close == std::string_view::npos) {
      return false;
    }
    for (char c : h.substr(1, close - 1)) {
      if (std::isxdigit(static_cast<unsigned char>(c)) == 0 && c != ':' && c != '.') {
        return false;
      }
    }
    const std::string_view rest = h.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return false;
      }
      port = rest.substr(1);
    }
    host = {};
  } else if (const size_t colon = h.rfind(':'); colon != std::string_view::npos) {
    host = h.substr(0, colon);
    port = h.substr(colon + 1);
    if (host.empty()) {
      return false;
    }
  }
  for (char c : host) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) == 0 && std::strchr("-._~!$&'()*+;=%", c) == nullptr) {
      return false; // no ',', ' ', '@', '/', ':' ...
    }
  }
  for (char c : port) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
      return false;
    }
  }
  return port.size() <= 5;
}

struct Parsed {
  enum Kind { Complete, NeedMore, Invalid } kind = NeedMore;
  size_t length = 0;     // bytes of a complete request
  std::string requestId; // X-Request-Id once the head is complete
  bool headComplete = false;
  const char* why = "";
};

// Parses the chunked body starting at `p`; returns the end offset, 0 when more bytes are
// needed, or sets `why` and returns SIZE_MAX when invalid.
size_t parseChunked(std::string_view s, size_t p, const char*& why) {
  for (;;) {
    // chunk-size
    size_t q = p;
    while (q < s.size() && std::isxdigit(static_cast<unsigned char>(s[q])) != 0) {
      ++q;
    }
    if (q == s.size()) {
      return q - p > 16 ? (why = "chunk size too long", SIZE_MAX) : 0;
    }
    if (q == p || q - p > 16) {
      why = "bad chunk size";
      return SIZE_MAX;
    }
    uint64_t size = 0;
    for (size_t i = p; i < q; ++i) {
      const char c = s[i];
      size = size * 16 + static_cast<uint64_t>(std::isdigit(static_cast<unsigned char>(c)) != 0
                                                   ? c - '0'
                                                   : std::tolower(c) - 'a' + 10);
    }
    // chunk-ext: *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )
    for (;;) {
      while (q < s.size() && (s[q] == ' ' || s[q] == '\t')) {
        ++q;
      }
      if (q == s.size()) {
        return 0;
      }
      if (s[q] != ';') {
        break;
      }
      ++q;
      while (q < s.size() && (s[q] == ' ' || s[q] == '\t')) {
        ++q;
      }
      const size_t n0 = q;
      while (q < s.size() && isTchar(static_cast<unsigned char>(s[q]))) {
        ++q;
      }
      if (q == s.size()) {
        return 0;
      }
      if (q == n0) {
        why = "bad chunk extension name";
        return SIZE_MAX;
      }
      size_t r = q;
      while (r < s.size() && (s[r] == ' ' || s[r] == '\t')) {
        ++r;
      }
      if (r == s.size()) {
        return 0;
      }
      if (s[r] != '=') {
        continue;
      }
      q = r + 1;
      while (q < s.size() && (s[q] == ' ' || s[q] == '\t')) {
        ++q;
      }
      if (q == s.size()) {
        return 0;
      }
      if (s[q] == '"') {
        ++q;
        for (;;) {
          if (q >= s.size()) {
            return 0;
          }
          const auto c = static_cast<unsigned char>(s[q]);
          if (c == '"') {
            ++q;
            break;
          }
          if (c == '\\') {
            q += 2;
            continue;
          }
          if (c == '\r' || c == '\n' || (c < 0x20 && c != '\t') || c == 0x7f) {
            why = "unterminated quoted chunk extension";
            return SIZE_MAX;
          }
          ++q;
        }
      } else {
        const size_t v0 = q;
        while (q < s.size() && isTchar(static_cast<unsigned char>(s[q]))) {
          ++q;
        }
        if (q == s.size()) {
          return 0;
        }
        if (q == v0) {
          why = "bad chunk extension value";
          return SIZE_MAX;
        }
      }
    }
    if (s.size() - q < 2) {
      return (s.size() - q == 1 && s[q] != '\r') ? (why = "bad chunk line end", SIZE_MAX) : 0;
    }
    if (s[q] != '\r' || s[q + 1] != '\n') {
      why = "bad chunk line end";
      return SIZE_MAX;
    }
    p = q + 2;
    if (size == 0) {
      break;
    }
    if (s.size() - p < size) {
      return 0;
    }
    p += size;
    if (s.size() - p < 2) {
      return (s.size() - p == 1 && s[p] != '\r') ? (why = "no CRLF after chunk data", SIZE_MAX)
                                                 : 0;
    }
    if (s[p] != '\r' || s[p + 1] != '\n') {
      why = "no CRLF after chunk data";
      return SIZE_MAX;
    }
    p += 2;
  }
  // trailer section
  for (;;) {
    const size_t eol = s.find("\r\n", p);
    if (eol == std::string_view::npos) {
      for (size_t i = p; i < s.size(); ++i) {
        if (s[i] == '\n' || (s[i] == '\r' && i + 1 < s.size())) {
          why = "bare CR/LF in trailer";
          return SIZE_MAX;
        }
      }
      return 0;
    }
    if (eol == p) {
      return p + 2;
    }
    const std::string_view line = s.substr(p, eol - p);
    if (!fieldLineColon(line)) {
      why = "bad trailer field";
      return SIZE_MAX;
    }
    p = eol + 2;
  }
}

Parsed parseRequest(std::string_view s, bool strict) {
  Parsed out;
  auto invalid = [&](const char* why) {
    out.kind = Parsed::Invalid;
    out.why = why;
    return out;
  };
  // Request line, checked byte by byte so an invalid prefix is seen before the line ends.
  size_t p = 0;
  while (p < s.size() && isTchar(static_cast<unsigned char>(s[p]))) {
    ++p;
  }
  if (p == s.size()) {
    return out;
  }
  if (p == 0 || s[p] != ' ') {
    return invalid("bad method");
  }
  const std::string_view method = s.substr(0, p);
  const size_t t0 = ++p;
  while (p < s.size() && isTargetChar(static_cast<unsigned char>(s[p]))) {
    ++p;
  }
  if (p == s.size()) {
    return out;
  }
  if (p == t0 || s[p] != ' ') {
    return invalid("bad request target");
  }
  const std::string_view target = s.substr(t0, p - t0);
  ++p;
  const std::string_view want = "HTTP/1.";
  for (size_t i = 0; i < want.size() + 3; ++i, ++p) {
    if (p == s.size()) {
      return out;
    }
    const char c = s[p];
    const bool ok = i < want.size()    ? c == want[i]
                    : i == want.size() ? (c == '0' || c == '1')
                    : i == want.size() + 1 ? c == '\r'
                                           : c == '\n';
    if (!ok) {
      return invalid("bad HTTP version / request line end");
    }
  }
  const bool http11 = s[p - 3] == '1';
  if (strict) {
    const bool origin = target.front() == '/';
    const bool asterisk = target == "*" && method == "OPTIONS";
    if (!origin && !asterisk) {
      return invalid("request target not in origin-form");
    }
  }
  // Fields.
  int cl = 0;
  int te = 0;
  int hosts = 0;
  bool chunked = false;
  bool badHost = false;
  uint64_t contentLength = 0;
  for (;;) {
    const size_t eol = s.find("\r\n", p);
    if (eol == std::string_view::npos) {
      for (size_t i = p; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\n' || (c == '\r' && i + 1 < s.size()) || c == 0 || (c < 0x20 && c != '\t' && c != '\r')) {
          return invalid("bad byte in field line");
        }
      }
      return out;
    }
    if (eol == p) {
      p += 2;
      break;
    }
    const std::string_view line = s.substr(p, eol - p);
    const std::optional<size_t> colon = fieldLineColon(line);
    if (!colon) {
      return invalid("bad field line");
    }
    const std::string name = lower(line.substr(0, *colon));
    const std::string_view value = trimOws(line.substr(*colon + 1));
    if (name == "content-length") {
      ++cl;
      const std::optional<uint64_t> n = contentLengthValue(value);
      if (!n) {
        return invalid("bad Content-Length");
      }
      contentLength = *n;
    } else if (name == "transfer-encoding") {
      ++te;
      chunked = lower(value) == "chunked";
    } else if (name == "host") {
      ++hosts;
      badHost = badHost || !validAuthority(value);
    } else if (name == "x-request-id") {
      out.requestId = std::string(value);
    }
    if (strict) {
      std::string folded = name;
      std::replace(folded.begin(), folded.end(), '_', '-');
      if (folded != name &&
          (folded == "content-length" || folded == "transfer-encoding" || folded == "host")) {
        return invalid("framing header lookalike with '_'");
      }
      if (name == "upgrade" && lower(value).find("h2c") != std::string::npos) {
        return invalid("Upgrade: h2c forwarded");
      }
    }
    p = eol + 2;
  }
  out.headComplete = true;
  if (cl > 1 || te > 1 || (cl != 0 && te != 0) || (te != 0 && !chunked)) {
    return invalid("ambiguous framing (CL/TE)");
  }
  if (strict && http11 && (hosts != 1 || badHost)) {
    return invalid("Host missing, repeated or not a valid authority");
  }
  if (te != 0) {
    const char* why = "";
    const size_t end = parseChunked(s, p, why);
    if (end == SIZE_MAX) {
      return invalid(why);
    }
    if (end == 0) {
      return out;
    }
    p = end;
  } else if (cl != 0) {
    if (s.size() - p < contentLength) {
      return out;
    }
    p += contentLength;
  }
  out.kind = Parsed::Complete;
  out.length = p;
  return out;
}

// ---------------------------------------------------------------------------------------------
// What the client receives: a sequence of well-framed HTTP/1.1 responses (RFC 9112 section 6).
// The checker does not know which requests were HEAD, so a response that announces a body may
// also be read without one; the stream is valid when some reading of it is. It may end in the
// middle of a response (the proxy closes a connection it cannot finish). Each answer from the
// app carries X-Echo-Id, the id of the request it answers, which must be the X-Request-Id the
// proxy shows for it; nothing may follow a response that says Connection: close.
// ---------------------------------------------------------------------------------------------

class ResponseStream {
public:
  // wasHead: whether the request with a given id (as echoed by the app) was a HEAD, when known.
  using HeadLookup = std::function<std::optional<bool>(const std::string&)>;
  ResponseStream(std::string_view s, HeadLookup wasHead) : s_(s), wasHead_(std::move(wasHead)) {}
  bool valid() { return from(0); }
  const char* why() const { return why_; }
  bool sawInterim() const { return interim_; }

private:
  bool from(size_t p) {
    if (p == s_.size()) {
      return true;
    }
    if (failed_.count(p) != 0) {
      return false;
    }
    const bool ok = one(p);
    if (!ok) {
      failed_.insert(p);
    }
    return ok;
  }

  bool bad(const char* why) {
    why_ = why;
    return false;
  }

  // One response at `p`, then the rest of the stream under each reading of its body.
  bool one(size_t p) {
    constexpr std::string_view kVersion = "HTTP/1.1 ";
    size_t q = p;
    for (const char c : kVersion) {
      if (q == s_.size()) {
        return true;
      }
      if (s_[q++] != c) {
        return bad("client received bytes that are not an HTTP/1.1 status line");
      }
    }
    unsigned status = 0;
    for (int i = 0; i < 3; ++i, ++q) {
      if (q == s_.size()) {
        return true;
      }
      if (std::isdigit(static_cast<unsigned char>(s_[q])) == 0) {
        return bad("bad status code");
      }
      status = status * 10 + static_cast<unsigned>(s_[q] - '0');
    }
    // reason-phrase and fields, as far as they arrived
    int cl = 0;
    bool chunked = false;
    bool te = false;
    bool close = false;
    uint64_t length = 0;
    std::string id;
    std::string echo;
    size_t headEnd = 0;
    for (bool statusLine = true;; statusLine = false) {
      const size_t eol = s_.find("\r\n", q);
      const std::string_view line =
          s_.substr(q, eol == std::string_view::npos ? std::string_view::npos : eol - q);
      for (size_t i = 0; i < line.size(); ++i) {
        const auto c = static_cast<unsigned char>(line[i]);
        if (!isFieldVchar(c) && !(eol == std::string_view::npos && i + 1 == line.size() &&
                                  c == '\r')) {
          return bad("bad byte in a response head");
        }
      }
      if (eol == std::string_view::npos) {
        return true; // the head was cut short
      }
      q = eol + 2;
      if (statusLine) {
        if (!line.empty() && line.front() != ' ') {
          return bad("bad status line");
        }
        continue;
      }
      if (line.empty()) {
        headEnd = q;
        break;
      }
      const size_t colon = line.find(':');
      if (colon == 0 || colon == std::string_view::npos ||
          !std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon),
                       [](char c) { return isTchar(static_cast<unsigned char>(c)); })) {
        return bad("bad response field line");
      }
      const std::string name = lower(line.substr(0, colon));
      const std::string_view value = trimOws(line.substr(colon + 1));
      if (name == "content-length") {
        ++cl;
        const std::optional<uint64_t> n = contentLengthValue(value);
        if (!n) {
          return bad("bad Content-Length in a response");
        }
        length = *n;
      } else if (name == "transfer-encoding") {
        te = true;
        chunked = lower(value) == "chunked";
      } else if (name == "connection") {
        close = close || lower(value).find("close") != std::string::npos;
      } else if (name == "x-request-id") {
        id = std::string(value);
      } else if (name == "x-echo-id") {
        echo = std::string(value);
      }
    }
    if (cl > 1 || (cl != 0 && te) || (te && !chunked)) {
      return bad("response with ambiguous framing (CL/TE)");
    }
    if (!echo.empty() && echo != id) {
      return bad("the app's answer to one request was given to another (X-Echo-Id)");
    }
    if (status == 101) {
      return true; // the rest is the upgraded protocol
    }
    interim_ = interim_ || status < 200;
    // An answer says which request it is for (the app's by X-Echo-Id, the proxy's own by
    // X-Request-Id): when that request reached the app, whether a body follows is known (RFC
    // 9110 9.3.2: no content in an answer to HEAD, the proxy's error replies included).
    const std::optional<bool> head = wasHead_(echo.empty() ? id : echo);
    std::vector<size_t> next;
    if (status < 200 || status == 204 || status == 304 || head == true) {
      next.push_back(headEnd);
    } else {
      if (chunked) {
        const char* why = "";
        const size_t end = parseChunked(s_, headEnd, why);
        if (end == 0) {
          return true; // body cut short
        }
        if (end != SIZE_MAX) {
          next.push_back(end);
        }
      } else if (cl != 0) {
        if (s_.size() - headEnd < length) {
          return true;
        }
        next.push_back(headEnd + length);
      } else {
        return true; // close-delimited: the rest is its body
      }
      if (!head.has_value()) {
        next.push_back(headEnd); // maybe the answer to a HEAD
      }
    }
    for (const size_t n : next) {
      if (close && n != s_.size()) {
        why_ = "bytes after a response that says Connection: close";
        continue;
      }
      if (from(n)) {
        return true;
      }
    }
    return false;
  }

  std::string_view s_;
  HeadLookup wasHead_;
  std::set<size_t> failed_;
  const char* why_ = "";
  bool interim_ = false;
};

// ---------------------------------------------------------------------------------------------
// Scripted upstream: a blocking loopback server, one thread per connection.
// ---------------------------------------------------------------------------------------------

struct UpstreamConn {
  std::string pending;       // bytes of the request being received
  Clock::time_point since{}; // when `pending` became non-empty
};

class Upstream {
public:
  explicit Upstream(bool strict) : strict_(strict) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 128) != 0) {
      fail("upstream bind/listen");
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    std::thread([this] {
      // libFuzzer's -timeout runs on SIGALRM; the upstream's blocking calls (and the threads it
      // starts, which inherit the mask) are not to be interrupted by it.
      sigset_t alarm;
      sigemptyset(&alarm);
      sigaddset(&alarm, SIGALRM);
      pthread_sigmask(SIG_BLOCK, &alarm, nullptr);
      acceptLoop();
    }).detach();
  }
  uint16_t port() const { return port_; }

  bool reachedComplete(const std::string& id) {
    std::lock_guard lock(mu_);
    return completeIds_.count(id) != 0;
  }

  // Whether the request with this id was a HEAD (unknown: it never reached the upstream).
  std::optional<bool> wasHead(const std::string& id) {
    std::lock_guard lock(mu_);
    const auto it = completeIds_.find(id);
    return it == completeIds_.end() ? std::nullopt : std::optional<bool>(it->second);
  }

  // Traps when a request has been pending (incomplete) at the upstream for too long.
  void checkStalls() {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    for (const auto* c : conns_) {
      if (!c->pending.empty() && now - c->since > kStallLimit) {
        fail("upstream holds an incomplete request past every proxy timeout (stalled)",
             c->pending);
      }
    }
  }

private:
  void acceptLoop() {
    for (;;) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        continue;
      }
      std::thread([this, c] { serve(c); }).detach();
    }
  }

  static bool sendAll(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The answer to a complete request. A target containing "/_rD/N" picks a response shape D
  // (N: a size), so the fuzzer also drives the proxy's response path:
  //   1 chunked with an N-byte trailer field    2 an N-byte response header field
  //   3 "100 Continue" before the 200             4 close-delimited body
  //   5 chunked with chunk extensions             otherwise Content-Length: 2 "ok"
  static std::string responseFor(std::string_view req, const std::string& id, bool head,
                                 bool& close) {
    const std::string_view line = req.substr(0, req.find("\r\n"));
    char shape = '0';
    size_t n = 0;
    if (const size_t at = line.find("/_r"); at != std::string_view::npos && at + 3 < line.size()) {
      shape = line[at + 3];
      for (size_t i = at + 5; i < line.size() && i < at + 11 &&
                              std::isdigit(static_cast<unsigned char>(line[i])) != 0;
           ++i) {
        n = n * 10 + static_cast<size_t>(line[i] - '0');
      }
      n = std::min<size_t>(n, 300000);
    }
    // The request's id comes back on the answer: the client checks that every answer it gets
    // is the one for the request the proxy says it answers (no stale answer from a pooled
    // connection, no answer handed to the wrong request).
    const std::string echo = id.empty() ? std::string() : "X-Echo-Id: " + id + "\r\n";
    const std::string conn = echo + (close ? "Connection: close\r\n" : "");
    const std::string body = head ? "" : "ok";
    switch (shape) {
    case '1':
      return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\nX-Upstream: 1\r\n" +
             conn + "\r\n" +
             (head ? "" : "2\r\nok\r\n0\r\nX-T: " + std::string(n, 't') + "\r\n\r\n");
    case '2':
      return "HTTP/1.1 200 OK\r\nX-Big: " + std::string(n, 'h') +
             "\r\nContent-Length: 2\r\nX-Upstream: 1\r\n" + conn + "\r\n" + body;
    case '3':
      return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Upstream: 1\r\n" +
             conn + "\r\n" + body;
    case '4':
      close = true;
      return "HTTP/1.1 200 OK\r\nX-Upstream: 1\r\n" + echo + "Connection: close\r\n\r\n" + body;
    case '5':
      return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Upstream: 1\r\n" + conn + "\r\n" +
             (head ? "" : "2;a=\"b;c\"\r\nok\r\n0;z\r\n\r\n");
    default:
      return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Upstream: 1\r\n" + conn + "\r\n" + body;
    }
  }

  void serve(int fd) {
    UpstreamConn conn;
    {
      std::lock_guard lock(mu_);
      conns_.insert(&conn);
    }
    char buf[16384];
    bool open = true;
    bool peerClosed = false;
    while (open) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      std::unique_lock lock(mu_);
      if (n <= 0) {
        peerClosed = true;
        // The proxy closed: an incomplete request is a body it aborted; its bytes so far must
        // still be a valid prefix (checked on every arrival below).
        break;
      }
      if (conn.pending.empty()) {
        conn.since = Clock::now();
      }
      conn.pending.append(buf, static_cast<size_t>(n));
      if (conn.pending.size() > kMaxUpstreamBuffer) {
        fail("upstream request larger than 1 MiB", conn.pending);
      }
      while (!conn.pending.empty()) {
        const Parsed r = parseRequest(conn.pending, strict_);
        if (r.kind == Parsed::Invalid) {
          std::fprintf(stderr, "session_fuzz: upstream received: %s\n", r.why);
          fail("upstream received bytes that are not a well-framed HTTP/1.1 request",
               conn.pending);
        }
        if (r.kind == Parsed::NeedMore) {
          break;
        }
        // A copy: `pending` is erased below, before the answer is chosen from the request line.
        const std::string req = conn.pending.substr(0, r.length);
        const bool head = req.substr(0, 5) == "HEAD ";
        const bool close = lower(req.substr(0, req.find("\r\n\r\n"))).find("connection: close") !=
                           std::string::npos;
        if (!r.requestId.empty()) {
          if (completeIds_.size() > 100000) {
            completeIds_.clear();
          }
          completeIds_[r.requestId] = head;
        }
        conn.pending.erase(0, r.length);
        conn.since = Clock::now();
        lock.unlock();
        bool closeAfter = close;
        const std::string resp = responseFor(req, r.requestId, head, closeAfter);
        if (!sendAll(fd, resp) || closeAfter) {
          open = false;
        }
        lock.lock();
      }
    }
    {
      std::lock_guard lock(mu_);
      conns_.erase(&conn);
    }
    if (peerClosed) {
      closeAfterPeer(fd);
    } else {
      ::close(fd); // after a Connection: close answer: an RST could cut the answer short
    }
  }

  bool strict_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::set<UpstreamConn*> conns_;
  std::map<std::string, bool> completeIds_; // id -> the request was HEAD
};

// ---------------------------------------------------------------------------------------------
// The proxy under test and the client side.
// ---------------------------------------------------------------------------------------------

uint16_t freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    fail("bind port 0");
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Harness {
  std::unique_ptr<Upstream> upstream;
#if BW_SESSION_FUZZ_SNAPSHOT
  std::unique_ptr<bulwark::filter::FilterStore> store;
#else
  std::unique_ptr<bulwark::filter::PolicyStore> policies;
#endif
  std::unique_ptr<bulwark::filter::ProxyServer> server;
  uint16_t port = 0;
};

Harness& harness() {
  static Harness* h = [] {
    using namespace bulwark;
    std::signal(SIGPIPE, SIG_IGN);
    log::setLevel(log::Level::Error);
    // Attack events go to stdout: keep the fuzzer's output readable.
    if (const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC); devnull >= 0) {
      ::dup2(devnull, STDOUT_FILENO);
      ::close(devnull);
    }
    auto* out = new Harness;
    out->upstream = std::make_unique<Upstream>(!framingOnly());
    const char* modeEnv = std::getenv("BULWARK_SESSION_FUZZ_MODE");
    const std::string mode = modeEnv != nullptr ? modeEnv : "block";
    for (int attempt = 0; attempt < 5 && !out->server; ++attempt) {
      out->port = freePort();
      const std::string json =
          R"({"listen":["127.0.0.1:)" + std::to_string(out->port) + R"("],"upstream":"127.0.0.1:)" +
          std::to_string(out->upstream->port()) + R"(","mode":")" + mode +
          R"(","threads":1,"log_level":"error","non_http":"close","source_address":"",)"
          R"("limits":{"max_request_line":4096,"max_header_bytes":16384,"max_headers":64},)"
          R"("timeouts":{"header_ms":300,"idle_ms":200,"body_ms":300,"send_ms":500,)"
          R"("upstream_connect_ms":500,"upstream_read_ms":500,"tunnel_idle_ms":500,"drain_ms":0},)"
          R"("policy":{"inspect_body_bytes":4096}})";
      filter::ProxyConfig cfg;
      if (auto st = filter::applyConfigJson(json, cfg); !st) {
        fail("session_fuzz config does not apply");
      }
#if BW_SESSION_FUZZ_SNAPSHOT
      auto snapshot = filter::buildSnapshot(cfg);
      if (!snapshot) {
        fail("session_fuzz snapshot does not build");
      }
      out->store = std::make_unique<filter::FilterStore>(*snapshot);
      auto server = filter::ProxyServer::create(cfg, *out->store);
#else
      auto policy = filter::buildPolicy(cfg);
      if (!policy) {
        fail("session_fuzz policy does not build");
      }
      detect::EnginePtr engine;
      if (mode != "off") {
        detect::EngineConfig ec;
        ec.maxBodyBytes = (*policy)->inspectBodyBytes;
        auto e = detect::Engine::create(ec);
        if (!e) {
          fail("engine does not build");
        }
        engine = *e;
      }
      out->policies = std::make_unique<filter::PolicyStore>(*policy);
      auto server = filter::ProxyServer::create(cfg, engine, *out->policies);
#endif
      if (server) {
        out->server = std::move(*server);
      }
    }
    if (!out->server) {
      fail("ProxyServer::create failed on five free ports");
    }
    out->server->start();
    return out;
  }();
  return *h;
}

int connectTo(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (rc != 0 && errno == EINTR) {
    // Interrupted (libFuzzer's SIGALRM): the connection goes on; wait for its outcome.
    pollfd p{fd, POLLOUT, 0};
    while (::poll(&p, 1, 5000) < 0 && errno == EINTR) {
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    rc = (p.revents & POLLOUT) != 0 && err == 0 ? 0 : -1;
    errno = err != 0 ? err : ETIMEDOUT;
  }
  if (rc != 0) {
    const int err = errno;
    ::close(fd);
    std::fprintf(stderr, "session_fuzz: connect: %s\n", std::strerror(err));
    return -1;
  }
  return fd;
}

// Reads until the peer closes (true) or the deadline passes (false).
bool readUntilClose(int fd, std::string& out, Clock::time_point deadline) {
  char buf[16384];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) {
      continue;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return true; // EOF or reset: closed
    }
    if (out.size() < (1u << 20)) {
      out.append(buf, static_cast<size_t>(n));
    }
  }
}

void sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return; // the proxy may close early (400): not an error
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// X-Request-Id values of the 4xx responses in what the client received.
std::vector<std::string> rejectedIds(const std::string& got) {
  std::vector<std::string> ids;
  size_t pos = 0;
  while ((pos = got.find("HTTP/1.", pos)) != std::string::npos) {
    const bool lineStart = pos == 0 || (pos >= 2 && got.compare(pos - 2, 2, "\r\n") == 0);
    const bool is4xx = pos + 10 <= got.size() && got[pos + 8] == ' ' && got[pos + 9] == '4';
    const size_t headEnd = got.find("\r\n\r\n", pos);
    if (lineStart && is4xx) {
      const std::string head = lower(got.substr(pos, headEnd == std::string::npos
                                                          ? std::string::npos
                                                          : headEnd - pos));
      const size_t h = head.find("\r\nx-request-id:");
      if (h != std::string::npos) {
        const size_t v = h + 15;
        const size_t e = head.find("\r\n", v);
        // the id as sent (the proxy's ids are lower-case hex or the client's, neutralised)
        ids.emplace_back(trimOws(std::string_view(got).substr(
            pos + v, (e == std::string::npos ? head.size() : e) - v)));
      }
    }
    pos += 7;
  }
  return ids;
}

void checkAlive(Harness& h) {
  const int fd = connectTo(h.port);
  if (fd < 0) {
    fail("proxy refuses connections after the input");
  }
  sendAll(fd, "GET /alive HTTP/1.1\r\nHost: fuzz.local\r\nConnection: close\r\n\r\n");
  std::string got;
  const bool closed = readUntilClose(fd, got, Clock::now() + kClientDeadline);
  if (closed) {
    closeAfterPeer(fd);
  } else {
    ::close(fd);
  }
  if (!closed || got.rfind("HTTP/1.1 200", 0) != 0 || got.find("X-Upstream: 1") == std::string::npos) {
    fail("proxy no longer serves a plain GET after the input", got);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Harness& h = harness();
  h.upstream->checkStalls();
  // Layout: byte 0 = number of extra write boundaries (0..3), then 2 bytes per boundary, then
  // the bytes the client sends.
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<size_t> cuts;
  if (!in.empty()) {
    const size_t k = static_cast<unsigned char>(in[0]) % 4;
    in.remove_prefix(1);
    for (size_t i = 0; i < k && in.size() >= 2; ++i) {
      cuts.push_back(static_cast<unsigned char>(in[0]) | (static_cast<size_t>(static_cast<unsigned char>(in[1])) << 8));
      in.remove_prefix(2);
    }
  }
  std::string payload(in);
  // Every X-Request-Id must be the proxy's own, so the 4xx check can match ids.
  std::string low = lower(payload);
  for (size_t p = 0; (p = low.find("request-id", p)) != std::string::npos; p += 10) {
    payload[p + 9] = 'x';
  }
  for (auto& c : cuts) {
    c = payload.empty() ? 0 : c % payload.size();
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());

  const int fd = connectTo(h.port);
  if (fd < 0) {
    fail("proxy refuses a connection");
  }
  size_t at = 0;
  for (size_t c : cuts) {
    if (c > at) {
      sendAll(fd, std::string_view(payload).substr(at, c - at));
      at = c;
      std::this_thread::sleep_for(2ms);
    }
  }
  sendAll(fd, std::string_view(payload).substr(at));
  ::shutdown(fd, SHUT_WR);
  std::string got;
  const bool closed = readUntilClose(fd, got, Clock::now() + kClientDeadline);
  if (closed) {
    closeAfterPeer(fd);
  } else {
    ::close(fd);
  }
  if (!closed) {
    fail("the proxy kept the client connection open past every timeout", payload);
  }
  if (!got.empty() && got.size() < (1u << 20)) {
    if (got.rfind("HTTP/", 0) != 0) {
      // Only the HTTP/2 preface is answered with something else (GOAWAY); other non-HTTP
      // input is closed (non_http: close) without a byte.
      if (payload.rfind("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0) != 0) {
        fail("client received bytes that are not an HTTP response", got);
      }
    } else if (ResponseStream rs(got, [&h](const std::string& id) {
                 return h.upstream->wasHead(id);
               });
               !rs.valid()) {
      std::fprintf(stderr, "session_fuzz: client received: %s\n", rs.why());
      std::fprintf(stderr, "session_fuzz: client sent (%zu bytes)\n", payload.size());
      fail("client received a response stream that is not well framed", got);
    } else if (rs.sawInterim() && payload.find("HTTP/1.1") == std::string::npos) {
      // RFC 9110 15.2: a server never sends a 1xx response to an HTTP/1.0 client.
      fail("an HTTP/1.0 client received a 1xx response", got);
    }
  }
  for (const auto& id : framingOnly() ? std::vector<std::string>{} : rejectedIds(got)) {
    if (h.upstream->reachedComplete(id)) {
      fail("a request answered 4xx reached the upstream complete", payload);
    }
  }
  checkAlive(h);
  return 0;
}

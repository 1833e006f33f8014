#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "bulwark/filter/config.h"

namespace bulwark::filter::http1 {

// Why a request head was refused. Each reason is also a metric label value, so the set is
// bounded; `status()` maps it to the answer (400, or 505 for the version).
#define BW_HEAD_ERRORS(X)                                                                        \
  X(None, "none")                                                                                \
  X(BadRequestLine, "bad_request_line")                                                          \
  X(BadVersion, "bad_version")                                                                   \
  X(RequestLineTooLong, "request_line_too_long")                                                 \
  X(HeadTooLarge, "head_too_large")                                                              \
  X(TooManyHeaders, "too_many_headers")                                                          \
  X(BareLineEnding, "bare_cr_lf")                                                                \
  X(ObsFold, "obs_fold")                                                                         \
  X(BadHeaderName, "bad_header_name")                                                            \
  X(BadHeaderValue, "bad_header_value")                                                          \
  X(BadContentLength, "bad_content_length")                                                      \
  X(DuplicateContentLength, "duplicate_content_length")                                          \
  X(BadTransferEncoding, "bad_transfer_encoding")                                                \
  X(DuplicateTransferEncoding, "duplicate_transfer_encoding")                                    \
  X(TransferEncodingWithContentLength, "te_cl")                                                  \
  X(TransferEncodingInHttp10, "te_http10")                                                       \
  X(MissingHost, "missing_host")                                                                 \
  X(DuplicateHost, "duplicate_host")                                                             \
  X(BadChunk, "bad_chunk")                                                                       \
  X(FieldTooLarge, "field_too_large")                                                            \
  X(TrailerTooLarge, "trailer_too_large")                                                        \
  X(BadTrailer, "bad_trailer")                                                                   \
  X(BadAbsoluteForm, "bad_absolute_form")                                                        \
  X(BadHost, "bad_host")                                                                         \
  X(LookalikeHeaderName, "lookalike_header_name")                                                \
  X(DuplicateParsingHeader, "duplicate_parsing_header")                                          \
  X(Http2PriorKnowledge, "http2_prior_knowledge")

enum class HeadError : uint8_t {
#define BW_X(name, label) name,
  BW_HEAD_ERRORS(BW_X)
#undef BW_X
      Count
};

std::string_view headErrorLabel(HeadError e);
int headErrorStatus(HeadError e);

// The longest header field line (name, colon, value) accepted in a request. Larger fields are
// refused (431) before any parser stores them: Beast keeps field offsets in 16 bits.
constexpr size_t kMaxFieldLine = 65000;

// One field line of a checked head (a token name): views into the head's bytes.
struct HeadField {
  std::string_view name;  // as received
  std::string_view value; // without the blanks around it
  // The name as Beast's enum when the proxy reads or acts on it (Host, the framing and
  // hop-by-hop fields, Expect, Accept, HTTP2-Settings); unknown for any other name.
  boost::beast::http::field id = boost::beast::http::field::unknown;
};

// What the proxy must know about a valid head to frame and forward the request.
struct HeadInfo {
  size_t length = 0;     // bytes of the head including the final empty line
  std::string_view method; // views into the head
  std::string_view target;
  int versionMinor = 1;  // HTTP/1.<minor>
  bool chunked = false;  // Transfer-Encoding: chunked
  std::optional<uint64_t> contentLength;
  bool expectContinue = false; // Expect: 100-continue
  bool expectOther = false;    // an Expect value the proxy does not implement (417)
  // Absolute-form target (RFC 9112 3.2.2): forwarded in origin-form with the authority as Host.
  bool absoluteForm = false;
  std::string authority;    // host[:port] of an absolute-form target
  std::string originTarget; // its path and query ("/" when empty)
  bool upgradeH2c = false;  // Upgrade lists h2c or is not a protocol list: never forwarded
  // Field lines whose name is not a token ("GET /x: y", "X(a): b"): inspected, never forwarded.
  // `keptHead` is then the head without them (what is parsed and forwarded); empty otherwise.
  std::vector<std::pair<std::string, std::string>> droppedFields;
  std::string keptHead;
};

struct HeadCheck {
  HeadError error = HeadError::None;
  HeadInfo info;
};

// Result of looking for the end of a head in the bytes received so far.
struct HeadScan {
  enum class State { NeedMore, Complete, Invalid } state = State::NeedMore;
  size_t length = 0;      // Complete: head length including CRLFCRLF
  size_t scanned = 0;     // resume offset for the next call
  HeadError error = HeadError::None;
};

// Scans `data` (starting at a request line) for CRLFCRLF; refuses a bare LF as soon as it is seen
// and a request line or head over the limits, so a hostile client cannot make the proxy wait for
// bytes it will refuse anyway.
HeadScan scanHead(std::string_view data, size_t resumeFrom, const Limits& limits);

// Strict validation of a complete request head (request line + fields + empty line). Closes the
// request-smuggling ambiguities: CL+TE, duplicate/invalid CL, TE other than a single "chunked",
// TE on HTTP/1.0, obs-fold, bare CR/LF, invalid names, whitespace before ':', control characters
// in values, missing/duplicate Host on HTTP/1.1, oversize line/head, too many fields.
HeadCheck checkRequestHead(std::string_view head, const Limits& limits);
// The same; a valid head's field lines with a token name (those forwarded) are also put in
// `fields` (replaced), the lines of one name together in the order received, as Beast's field
// container keeps them: the order in which they are inspected and forwarded.
HeadCheck checkRequestHead(std::string_view head, const Limits& limits,
                           std::vector<HeadField>& fields);

// The request a session serves: a checked head and its field list (views into both).
struct Request {
  std::string_view method;
  boost::beast::http::verb verb = boost::beast::http::verb::unknown;
  std::string_view target;
  std::span<const HeadField> fields;
  std::optional<uint64_t> contentLength;
  bool keepAlive = true;
  bool connectionUpgrade = false; // Connection (or Proxy-Connection) lists "upgrade"

  // The first field of that name (names compare case-insensitively), or nullptr. `id` is one
  // of those HeadField::id names.
  const HeadField* find(boost::beast::http::field id) const;
  const HeadField* find(std::string_view name) const;
  // The first field's value, or empty.
  std::string_view operator[](boost::beast::http::field id) const {
    const HeadField* f = find(id);
    return f ? f->value : std::string_view();
  }
};

// Fills `req` from a valid head: the method, the target, the fields and what the Connection and
// Proxy-Connection fields say (keep-alive as Beast's parser reads them). False when one of those
// is not a token list, a head Beast's parser refuses.
bool readRequest(const HeadInfo& info, std::span<const HeadField> fields, Request& req);

// A Host value (or the authority of an absolute-form target): reg-name or IP literal, optional
// port. No userinfo, no commas, spaces, slashes or controls; empty is invalid.
bool validHost(std::string_view host);

// Protocol detection on the first bytes of a connection.
enum class Sniff { NeedMore, Http, Http2Preface, Tls, Unknown };
Sniff sniffProtocol(std::string_view data, const Limits& limits);

bool isTchar(unsigned char c);

} // namespace bulwark::filter::http1

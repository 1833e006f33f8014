#include "bulwark/filter/http_head.h"

#include "head_fields.h"
#include "http_bytes.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace bulwark::filter::http1 {
namespace {

constexpr auto kTchar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();


std::string_view trimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Header names that mean framing, routing or identity to some back-end once '_' is read as '-'
// (CGI and several frameworks fold them into the real header).
constexpr std::array<std::string_view, 12> kLookalikeTargets = {
    "transfer-encoding", "content-length", "host",     "connection",
    "upgrade",           "te",             "trailer",  "content-type",
    "content-encoding",  "expect",         "x-forwarded-for", "x-forwarded-host"};

bool isLookalike(std::string_view name) {
  if (name.find('_') == std::string_view::npos) {
    return false;
  }
  for (auto target : kLookalikeTargets) {
    if (target.size() != name.size()) {
      continue;
    }
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      char c = name[i] == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
      same = c == target[i];
    }
    if (same) {
      return true;
    }
  }
  return false;
}

// Why a field name that is not a token cannot simply be dropped: whitespace before the colon
// (RFC 9112 5.1), a control byte, or a name that some parser could read as a framing or routing
// header once separators are ignored ("Content Length", "Transfer-Encoding\"").
HeadError invalidNameError(std::string_view name) {
  if (name.back() == ' ' || name.back() == '\t') {
    return HeadError::BadHeaderName;
  }
  std::string letters;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      return HeadError::BadHeaderName;
    }
    if (isAlpha(c) || isDigit(c)) {
      letters += static_cast<char>(std::tolower(u));
    }
  }
  for (auto target : kLookalikeTargets) {
    std::string bare;
    for (char c : target) {
      if (c != '-') bare += c;
    }
    if (letters == bare) {
      return HeadError::LookalikeHeaderName;
    }
  }
  return HeadError::None;
}

// Whether a comma-separated token list (Upgrade) names `token`.
// A value that names h2c anywhere, also inside a longer token ("h2cT", "x-h2c"): apps match
// protocol names loosely, so such an upgrade is never forwarded.
bool mentionsH2c(std::string_view list) {
  for (size_t i = 0; i + 3 <= list.size(); ++i) {
    if (iequals(list.substr(i, 3), "h2c")) {
      return true;
    }
  }
  return false;
}

// Upgrade = 1#protocol, protocol = token [ "/" token ]. A value with anything else (obs-text,
// "h2c\xff") is not forwarded: an app may read a protocol name out of it its own way.
bool validProtocolList(std::string_view list) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = trimOws(list.substr(0, comma));
    list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
    const size_t slash = item.find('/');
    for (const std::string_view part :
         {item.substr(0, slash),
          slash == std::string_view::npos ? std::string_view("x") : item.substr(slash + 1)}) {
      if (part.empty() || !std::all_of(part.begin(), part.end(), [](char c) {
            return isTchar(static_cast<unsigned char>(c));
          })) {
        return false;
      }
    }
  }
  return true;
}

// absolute-form = scheme "://" authority path-abempty [ "?" query ]; only http and https.
bool parseAbsoluteForm(std::string_view target, HeadInfo& info) {
  size_t p = 0;
  while (p < target.size() && (isAlpha(target[p]) || (p > 0 && (isDigit(target[p]) ||
                                                               target[p] == '+' ||
                                                               target[p] == '-' ||
                                                               target[p] == '.')))) {
    ++p;
  }
  const std::string_view scheme = target.substr(0, p);
  if (target.substr(p, 3) != "://" || !(iequals(scheme, "http") || iequals(scheme, "https"))) {
    return false;
  }
  std::string_view rest = target.substr(p + 3);
  const size_t end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  if (!validHost(authority) || rest.find('#') != std::string_view::npos) {
    return false;
  }
  info.absoluteForm = true;
  info.authority = std::string(authority);
  info.originTarget = rest.empty() || rest.front() == '?' ? "/" + std::string(rest)
                                                           : std::string(rest);
  return true;
}

} // namespace

bool isTchar(unsigned char c) { return kTchar[c]; }

bool validHost(std::string_view host) {
  if (host.empty()) {
    return false;
  }
  size_t p = 0;
  if (host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos || close < 3) {
      return false;
    }
    for (p = 1; p < close; ++p) {
      const char c = host[p];
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) {
        return false;
      }
    }
    p = close + 1;
  } else {
    // reg-name / IPv4: unreserved and pct-encoded only (no sub-delims such as ',' or '@').
    while (p < host.size() && host[p] != ':') {
      const char c = host[p];
      if (!(isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            c == '%')) {
        return false;
      }
      ++p;
    }
    if (p == 0) {
      return false;
    }
  }
  if (p == host.size()) {
    return true;
  }
  if (host[p] != ':' || host.size() - p - 1 > 5) {
    return false;
  }
  uint32_t port = 0;
  for (++p; p < host.size(); ++p) {
    if (!isDigit(host[p])) {
      return false;
    }
    port = port * 10 + static_cast<uint32_t>(host[p] - '0');
  }
  return port <= 65535;
}

std::string_view headErrorLabel(HeadError e) {
  static constexpr std::string_view kLabels[] = {
#define BW_X(name, label) label,
      BW_HEAD_ERRORS(BW_X)
#undef BW_X
  };
  return kLabels[static_cast<size_t>(e)];
}

int headErrorStatus(HeadError e) {
  switch (e) {
  case HeadError::BadVersion:
    return 505;
  case HeadError::FieldTooLarge:
  case HeadError::TrailerTooLarge:
    return 431;
  default:
    return 400;
  }
}

HeadScan scanHead(std::string_view data, size_t resumeFrom, const Limits& limits) {
  HeadScan out;
  size_t i = resumeFrom;
  const size_t lineEnd = data.find('\n');
  if (lineEnd == std::string_view::npos) {
    if (data.size() > limits.maxRequestLine) {
      out.state = HeadScan::State::Invalid;
      out.error = HeadError::RequestLineTooLong;
      return out;
    }
  } else if (lineEnd > limits.maxRequestLine) {
    out.state = HeadScan::State::Invalid;
    out.error = HeadError::RequestLineTooLong;
    return out;
  }
  // memchr jumps from one LF to the next (the bytes between are not looked at here).
  for (; i < data.size(); ++i) {
    const void* lf = std::memchr(data.data() + i, '\n', data.size() - i);
    if (lf == nullptr) {
      break;
    }
    i = static_cast<size_t>(static_cast<const char*>(lf) - data.data());
    if (i == 0 || data[i - 1] != '\r') {
      out.state = HeadScan::State::Invalid;
      out.error = HeadError::BareLineEnding;
      return out;
    }
    if (i >= 3 && data[i - 2] == '\n' && data[i - 3] == '\r') {
      out.state = HeadScan::State::Complete;
      out.length = i + 1;
      return out;
    }
  }
  if (data.size() >= limits.maxHeaderBytes) {
    out.state = HeadScan::State::Invalid;
    out.error = HeadError::HeadTooLarge;
    return out;
  }
  out.scanned = data.size();
  return out;
}

namespace {

HeadCheck check(std::string_view head, const Limits& limits, std::vector<HeadField>* fieldList) {
  namespace http = boost::beast::http;
  HeadCheck out;
  auto fail = [&out](HeadError e) {
    out.error = e;
    return out;
  };
  if (head.size() > limits.maxHeaderBytes) {
    return fail(HeadError::HeadTooLarge);
  }
  // Request line: method SP request-target SP HTTP-version CRLF
  const size_t eol = findCrlf(head, 0);
  if (eol == std::string_view::npos) {
    return fail(HeadError::BadRequestLine);
  }
  if (eol > limits.maxRequestLine) {
    return fail(HeadError::RequestLineTooLong);
  }
  const std::string_view line = head.substr(0, eol);
  size_t p = 0;
  while (p < line.size() && isTchar(static_cast<unsigned char>(line[p]))) ++p;
  if (p == 0 || p >= line.size() || line[p] != ' ') {
    return fail(HeadError::BadRequestLine);
  }
  size_t t = ++p;
  p = endOfTarget(line, p);
  if (p == t || p >= line.size() || line[p] != ' ') {
    return fail(HeadError::BadRequestLine);
  }
  const std::string_view version = line.substr(p + 1);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return fail(HeadError::BadRequestLine);
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    return fail(HeadError::BadVersion);
  }
  out.info.versionMinor = version[7] - '0';
  const std::string_view target = line.substr(t, p - t);
  const std::string_view method = line.substr(0, t - 1);
  out.info.method = method;
  out.info.target = target;
  if (target == "*" && method != "OPTIONS") {
    // Asterisk-form belongs to OPTIONS alone; "PRI *" over HTTP/1.x is an HTTP/2 preface an
    // HTTP/1 app may mistake for something else, and any other "X *" has no meaning.
    return fail(HeadError::BadRequestLine);
  }
  if (target.front() != '/' && target != "*") {
    if (target.find("://") != std::string_view::npos) {
      if (!parseAbsoluteForm(target, out.info)) {
        return fail(HeadError::BadAbsoluteForm);
      }
    } else if (method != "CONNECT") { // authority-form: CONNECT only (answered 405)
      // Neither origin-form, absolute-form nor "*" ("?x", "index.html"): an app would resolve it
      // its own way, so it is never forwarded.
      return fail(HeadError::BadRequestLine);
    }
  }

  // Header fields.
  size_t pos = eol + 2;
  uint32_t fields = 0;
  int hosts = 0;
  int contentLengths = 0;
  int transferEncodings = 0;
  int contentTypes = 0;
  std::string_view firstContentType; // a repeat with the same value is not ambiguous
  int contentEncodings = 0;
  while (true) {
    const size_t end = findCrlf(head, pos);
    if (end == std::string_view::npos) {
      return fail(HeadError::BareLineEnding);
    }
    const std::string_view f = head.substr(pos, end - pos);
    pos = end + 2;
    if (f.empty()) {
      break; // end of head
    }
    if (f.front() == ' ' || f.front() == '\t') {
      return fail(HeadError::ObsFold);
    }
    if (++fields > limits.maxHeaders) {
      return fail(HeadError::TooManyHeaders);
    }
    if (f.size() > kMaxFieldLine) {
      return fail(HeadError::FieldTooLarge);
    }
    size_t n = 0;
    while (n < f.size() && isTchar(static_cast<unsigned char>(f[n]))) ++n;
    const size_t colon = f.find(':');
    if (colon == 0 || colon == std::string_view::npos) {
      return fail(HeadError::BadHeaderName);
    }
    const std::string_view raw = f.substr(colon + 1);
    if (const size_t bad = firstNonValueChar(raw); bad != raw.size()) {
      return fail(raw[bad] == '\r' ? HeadError::BareLineEnding : HeadError::BadHeaderValue);
    }
    if (n != colon) {
      // A name that is not a token. Whitespace before the colon, a control byte, or a spelling
      // of a framing or routing header stays refused; any other such line is dropped.
      const HeadError why = invalidNameError(f.substr(0, colon));
      if (why != HeadError::None) {
        return fail(why);
      }
      if (out.info.droppedFields.empty()) {
        out.info.keptHead.assign(head.substr(0, pos - f.size() - 2));
      }
      out.info.droppedFields.emplace_back(f.substr(0, colon), trimOws(raw));
      continue;
    }
    if (!out.info.droppedFields.empty()) {
      out.info.keptHead.append(f).append("\r\n");
    }
    const std::string_view name = f.substr(0, n);
    const std::string_view value = trimOws(raw);
    if (isLookalike(name)) {
      return fail(HeadError::LookalikeHeaderName);
    }
    const http::field id = fieldIdOf(name); // names compare case-insensitively

    if (fieldList != nullptr) {
      addField(*fieldList, {name, value, id});
    }
    if (id == http::field::host) {
      ++hosts;
      if (!validHost(value)) {
        return fail(HeadError::BadHost);
      }
    } else if (id == http::field::content_type) {
      if (++contentTypes == 1) {
        firstContentType = value;
      } else if (!iequals(value, firstContentType)) {
        return fail(HeadError::DuplicateParsingHeader);
      }
    } else if (id == http::field::content_encoding) {
      if (++contentEncodings > 1) {
        return fail(HeadError::DuplicateParsingHeader);
      }
    } else if (id == http::field::upgrade) {
      out.info.upgradeH2c =
          out.info.upgradeH2c || mentionsH2c(value) || !validProtocolList(value);
    } else if (id == http::field::content_length) {
      if (++contentLengths > 1) {
        return fail(HeadError::DuplicateContentLength);
      }
      uint64_t v = 0;
      if (value.empty() || value.size() > 18) {
        return fail(HeadError::BadContentLength);
      }
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || ptr != value.data() + value.size() || value.front() == '+' ||
          value.front() == '-') {
        return fail(HeadError::BadContentLength);
      }
      out.info.contentLength = v;
    } else if (id == http::field::transfer_encoding) {
      if (++transferEncodings > 1) {
        return fail(HeadError::DuplicateTransferEncoding);
      }
      if (!iequals(value, "chunked")) {
        return fail(HeadError::BadTransferEncoding);
      }
      out.info.chunked = true;
    } else if (id == http::field::expect) {
      if (iequals(value, "100-continue")) {
        out.info.expectContinue = true;
      } else {
        out.info.expectOther = true;
      }
    }
  }
  if (pos != head.size()) {
    return fail(HeadError::BadRequestLine); // caller passed more than one head
  }
  if (!out.info.droppedFields.empty()) {
    out.info.keptHead.append("\r\n");
  }
  if (transferEncodings > 0 && contentLengths > 0) {
    return fail(HeadError::TransferEncodingWithContentLength);
  }
  if (transferEncodings > 0 && out.info.versionMinor == 0) {
    return fail(HeadError::TransferEncodingInHttp10);
  }
  if (hosts > 1) {
    return fail(HeadError::DuplicateHost);
  }
  if (hosts == 0 && out.info.versionMinor == 1 && !out.info.absoluteForm) {
    return fail(HeadError::MissingHost);
  }
  out.info.length = head.size();
  return out;
}

} // namespace

HeadCheck checkRequestHead(std::string_view head, const Limits& limits) {
  return check(head, limits, nullptr);
}

HeadCheck checkRequestHead(std::string_view head, const Limits& limits,
                           std::vector<HeadField>& fields) {
  fields.clear();
  return check(head, limits, &fields);
}

} // namespace bulwark::filter::http1

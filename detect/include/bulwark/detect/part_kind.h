#pragma once

#include <cstdint>
#include <string_view>

// Where in a request a value was found. Detectors declare the part kinds they apply to, and the
// score weighs their evidence by it: CR/LF matters where a value can reach a response header,
// SSRF where a server could fetch the value, a URL in Referer is only a URL.
namespace bulwark::detect {

// label: the prefix of Finding::part and of the event's part field (bounded set).
#define BW_PART_KINDS(X)                                                                           \
  X(Path, "path")                         /* the decoded request path */                          \
  X(PathSegment, "path.segment")          /* one path segment or matrix parameter, as a value */  \
  X(QueryName, "query-name")              /* a query argument's name */                           \
  X(QueryValue, "query")                  /* a query argument's value */                          \
  X(FormName, "body.form-name")           /* urlencoded body: name */                             \
  X(FormValue, "body.form")               /* urlencoded body: value */                            \
  X(JsonKey, "body.json-key")             /* a JSON object key */                                 \
  X(JsonString, "body.json")              /* a JSON string value */                               \
  X(XmlName, "body.xml-name")             /* an XML element or attribute name */                  \
  X(XmlText, "body.xml")                  /* XML text, attribute value, CDATA, comment, PI */     \
  X(XmlDoctype, "body.xml-doctype")       /* the DOCTYPE with its internal subset */              \
  X(MultipartName, "body.multipart-name") /* a multipart part's name */                           \
  X(MultipartValue, "body.multipart")     /* a multipart field's value */                         \
  X(MultipartHeaders, "body.multipart-headers") /* a part's header lines */                       \
  X(FileContent, "body.file")             /* an uploaded file's content */                        \
  X(Filename, "filename")                 /* an upload's file name (part or X-Filename header) */ \
  X(BodyText, "body")                     /* a body inspected as one text value */                \
  X(CookieName, "cookie-name")            /* a cookie's name */                                   \
  X(CookieValue, "cookie")                /* a cookie's value */                                  \
  X(Header, "header")                     /* any other header value, by name */                   \
  X(StructuredHeader, "header.structured") /* Accept*, Host, Authorization, Sec-*, ... */         \
  X(UserAgent, "header.user-agent")       /* User-Agent */                                        \
  X(RefererOrigin, "header.referer")      /* Referer, Origin: a URL the browser sends */          \
  X(ContentType, "header.content-type")   /* Content-Type */

enum class PartKind : uint8_t {
#define BW_X(name, label) name,
  BW_PART_KINDS(BW_X)
#undef BW_X
      Count
};

constexpr std::string_view partKindName(PartKind k) {
  switch (k) {
#define BW_X(name, label)                                                                          \
  case PartKind::name:                                                                             \
    return label;
    BW_PART_KINDS(BW_X)
#undef BW_X
  case PartKind::Count:
    break;
  }
  return "unknown";
}

// A set of part kinds (a detector's or rule's applicability).
using PartMask = uint32_t;
static_assert(static_cast<unsigned>(PartKind::Count) <= 32);

constexpr PartMask partBit(PartKind k) { return PartMask{1} << static_cast<unsigned>(k); }

template <typename... K> constexpr PartMask parts(K... k) { return (partBit(k) | ...); }

// Names of arguments: a name is data for the application, never a place for a statement.
constexpr PartMask kNameParts = parts(PartKind::QueryName, PartKind::FormName, PartKind::JsonKey,
                                      PartKind::XmlName, PartKind::MultipartName,
                                      PartKind::CookieName);

// Values an application reads as parameters (a database, shell, template or URL fetcher may
// get them).
constexpr PartMask kParamParts =
    parts(PartKind::QueryValue, PartKind::FormValue, PartKind::JsonString, PartKind::XmlText,
          PartKind::MultipartValue, PartKind::CookieValue, PartKind::PathSegment);

// Where a CR/LF can be copied into a response header (a redirect's Location, a Set-Cookie):
// the path, query, headers and cookies. JSON/XML strings and text bodies carry line breaks as
// data.
constexpr PartMask kResponseHeaderReach =
    parts(PartKind::Path, PartKind::PathSegment, PartKind::QueryName, PartKind::QueryValue, PartKind::FormValue,
          PartKind::CookieName, PartKind::CookieValue, PartKind::Header,
          PartKind::StructuredHeader, PartKind::UserAgent, PartKind::MultipartValue);

// Free text written by browsers and clients, not by an application's user: the request line's
// peers (Referer/Origin are URLs of the page, User-Agent is a product list).
constexpr PartMask kClientText = parts(PartKind::UserAgent, PartKind::RefererOrigin,
                                       PartKind::StructuredHeader, PartKind::ContentType);

// Bodies that are documents rather than parameters.
constexpr PartMask kDocumentParts = parts(PartKind::BodyText, PartKind::FileContent);

constexpr bool inMask(PartMask m, PartKind k) { return (m & partBit(k)) != 0; }

// An argument name whose value is a URL: url, uri, href, link, callback, webhook, redirect,
// return, dest, src, ref and their *_url / *Uri / *-link compounds (last path component of a
// JSON path; any case).
constexpr bool isUrlParameterName(std::string_view name) {
  if (const size_t dot = name.find_last_of(".]"); dot != std::string_view::npos) {
    name = name.substr(dot + 1);
  }
  if (name.size() > 40) {
    return false;
  }
  char buf[40] = {};
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
  }
  const std::string_view low(buf, name.size());
  constexpr std::string_view kWords[] = {"url",  "uri",      "href",     "link", "callback",
                                         "webhook", "redirect", "return", "dest", "src",
                                         "referer", "referrer", "origin"};
  for (const auto w : kWords) {
    if (low.starts_with(w) || low.ends_with(w)) {
      return true;
    }
  }
  return low == "ref" || low == "next" || low == "target" || low == "continue" || low == "goto";
}

} // namespace bulwark::detect

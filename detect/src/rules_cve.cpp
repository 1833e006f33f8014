#include "rules_cve.h"

#include <algorithm>
#include <array>
#include <string>

#include "bulwark/detect/normalize.h"
#include "transforms/transforms.h"

#include "detectors.h"

namespace bulwark::detect::internal {
namespace {

using C = AttackClass;

bool has(std::string_view s, std::string_view needle) {
  return s.find(needle) != std::string_view::npos;
}

bool icontainsAscii(std::string_view hay, std::string_view needle) {
  if (needle.empty()) {
    return true;
  }
  if (needle.size() > hay.size()) {
    return false;
  }
  // iequals' fold (| 0x20): the bytes that fold to the needle's first byte are `first` and
  // `first` without 0x20. Candidates are found with memchr, one search per spelling.
  const char first = static_cast<char>(needle[0] | 0x20);
  const char other = static_cast<char>(first & ~0x20);
  const size_t last = hay.size() - needle.size(); // the last start position
  size_t a = hay.find(first);
  size_t b = hay.find(other);
  while (true) {
    const size_t i = std::min(a, b);
    if (i == std::string_view::npos || i > last) {
      return false;
    }
    if (iequals(hay.substr(i, needle.size()), needle)) {
      return true;
    }
    if (i == a) {
      a = hay.find(first, i + 1);
    } else {
      b = hay.find(other, i + 1);
    }
  }
}

bool endsWith(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

// The trigram slots (TrigramSet::slot) of fixed literals, computed at compile time so that the
// per-request filter only tests bits: literal i's slots are slots[first[i], first[i + 1]).
template <size_t N, size_t Total> struct LiteralSlots {
  std::array<uint16_t, Total> slots{};
  std::array<uint16_t, N + 1> first{};
  std::span<const uint16_t> of(size_t i) const {
    return std::span<const uint16_t>(slots.data() + first[i], first[i + 1] - first[i]);
  }
};

constexpr size_t trigramCount(std::string_view s) { return s.size() >= 3 ? s.size() - 2 : 0; }

template <size_t Total, size_t N, typename T, typename Literal>
constexpr LiteralSlots<N, Total> literalSlots(const std::array<T, N>& items, Literal literal) {
  LiteralSlots<N, Total> t{};
  size_t k = 0;
  for (size_t i = 0; i < N; ++i) {
    t.first[i] = static_cast<uint16_t>(k);
    const std::string_view s = literal(items[i]);
    for (size_t j = 0; j + 3 <= s.size(); ++j) {
      t.slots[k++] = static_cast<uint16_t>(TrigramSet::slot(static_cast<unsigned char>(s[j]),
                                                            static_cast<unsigned char>(s[j + 1]),
                                                            static_cast<unsigned char>(s[j + 2])));
    }
  }
  t.first[N] = static_cast<uint16_t>(k);
  return t;
}

template <size_t N, typename T, typename Literal>
constexpr size_t totalTrigrams(const std::array<T, N>& items, Literal literal) {
  size_t n = 0;
  for (const auto& item : items) {
    n += trigramCount(literal(item));
  }
  return n;
}

// The query and the body: where request parameters live.
bool inParams(const CveRequest& r, std::string_view needle) {
  if (r.paramTrigrams != nullptr && !r.paramTrigrams->mayContain(needle)) {
    return false;
  }
  return has(r.query, needle) || has(r.bodyLow, needle);
}

// An OGNL / EL expression: an opener followed (within the expression) by OGNL's member access,
// a static call, or an assignment to a '#' variable.
bool ognl(std::string_view s) {
  for (const std::string_view open : {"%{", "${"}) {
    for (size_t k = s.find(open); k != std::string_view::npos; k = s.find(open, k + 2)) {
      const std::string_view e = s.substr(k + 2, 400);
      if (has(e, "#_memberaccess") || has(e, "@java.") || has(e, "@org.") ||
          has(e, "@ognl") || has(e, "(#") || has(e, "#context") || has(e, "getruntime") ||
          has(e, "#a=") || has(e, ".exec(") || has(e, "processbuilder")) {
        return true;
      }
    }
  }
  return false;
}

// A dot-segment ("..") spelled with at least one encoded dot in the raw path.
bool encodedDotSegment(std::string_view rawLow) {
  for (const std::string_view dd : {".%2e/", "%2e./", "%2e%2e/", "%%32%65", "%252e", ".%2e%2f",
                                    "%2e%2e%2f", ".%%32%65"}) {
    if (has(rawLow, dd)) {
      return true;
    }
  }
  return false;
}

// --- the rules: each returns the part carrying the exploit, or {} ---

std::string_view strutsContentType(const CveRequest& r) {
  // CVE-2017-5638: Jakarta multipart parser evaluates OGNL in an invalid Content-Type.
  return ognl(r.contentType) || (has(r.contentType, "%{") && has(r.contentType, "#"))
             ? "header:Content-Type"
             : std::string_view{};
}

std::string_view ognlInPath(const CveRequest& r) {
  // CVE-2018-11776 (Struts namespace) and CVE-2022-26134 (Confluence): the URI itself is
  // evaluated as an OGNL expression.
  return ognl(r.path) ? "path" : std::string_view{};
}

std::string_view confluenceTemplate(const CveRequest& r) {
  // CVE-2023-22527: Velocity templates under /template/aui/ rendered directly, with OGNL in
  // their parameters.
  return has(r.path, "/template/aui/") && endsWith(r.path, ".vm") ? "path" : std::string_view{};
}

std::string_view confluenceQueryString(const CveRequest& r) {
  // CVE-2021-26084: a .action parameter that closes the string and opens an OGNL expression.
  if (!endsWith(r.path, ".action") && !has(r.path, ".action;") && !endsWith(r.path, ".vm")) {
    return {};
  }
  return inParams(r, "'+{") || inParams(r, "\\u0027+{") || inParams(r, "'+#") ? "query"
                                                                               : std::string_view{};
}

std::string_view confluenceSetup(const CveRequest& r) {
  // CVE-2023-22515: a parameter name that walks into the setup state of the application.
  return inParams(r, "bootstrapstatusprovider.applicationconfig") ? "query" : std::string_view{};
}

std::string_view spring4Shell(const CveRequest& r) {
  // CVE-2022-22965: data binding walks class.module.classLoader into Tomcat's access log.
  for (const std::string_view p :
       {"class.module.classloader", "class.classloader", "class[module][classloader]",
        "class['module']", "[class][classloader]"}) {
    if (inParams(r, p)) {
      return "query";
    }
  }
  return {};
}

std::string_view springCloudFunction(const CveRequest& r) {
  // CVE-2022-22963: the routing expression header is evaluated as SpEL.
  return r.header("spring.cloud.function.routing-expression").empty() &&
                 r.header("spring.cloud.function.definition").find("t(") == std::string_view::npos
             ? std::string_view{}
             : "header:spring.cloud.function.routing-expression";
}

std::string_view springGatewayRoute(const CveRequest& r) {
  // CVE-2022-22947: a gateway route definition carrying a SpEL expression.
  return has(r.path, "/actuator/gateway/routes") && has(r.bodyLow, "#{") ? "body"
                                                                         : std::string_view{};
}

std::string_view apacheEncodedDots(const CveRequest& r) {
  // CVE-2021-41773 / CVE-2021-42013: Apache 2.4.49/50 normalised the path before decoding
  // '%2e', so an encoded dot-segment walks out of an alias (cgi-bin, icons).
  return encodedDotSegment(r.rawPath) ? "path" : std::string_view{};
}

std::string_view citrixVpns(const CveRequest& r) {
  // CVE-2019-19781: /vpns/ scripts reached by traversal, templates written through NSC_USER.
  if (has(r.path, "/vpns/") && has(r.path, "..")) {
    return "path";
  }
  return has(r.header("nsc_user"), "../") ? "header:NSC_USER" : std::string_view{};
}

std::string_view f5Tmui(const CveRequest& r) {
  // CVE-2020-5902: Tomcat's "..;" path parameter climbs out of the TMUI login page.
  return has(r.path, "/tmui/") && has(r.path, "..;") ? "path" : std::string_view{};
}

std::string_view f5HopByHopAuth(const CveRequest& r) {
  // CVE-2022-1388: an authentication header listed in Connection is dropped by the front end
  // and the back end trusts the request.
  const std::string_view conn = r.header("connection");
  if (conn.empty()) {
    return {};
  }
  for (size_t i = 0; i < conn.size();) {
    size_t e = conn.find(',', i);
    if (e == std::string_view::npos) {
      e = conn.size();
    }
    std::string_view tok = conn.substr(i, e - i);
    while (!tok.empty() && tok.front() == ' ') {
      tok.remove_prefix(1);
    }
    while (!tok.empty() && tok.back() == ' ') {
      tok.remove_suffix(1);
    }
    if (iequals(tok, "x-f5-auth-token") || iequals(tok, "authorization") ||
        iequals(tok, "x-forwarded-user") || iequals(tok, "cookie")) {
      return "header:Connection";
    }
    i = e + 1;
  }
  return {};
}

std::string_view proxyShell(const CveRequest& r) {
  // CVE-2021-34473 (ProxyShell), CVE-2022-41040 (ProxyNotShell): autodiscover.json with an
  // "email" that routes the request to a back-end path.
  if (!has(r.path, "/autodiscover/autodiscover.json") &&
      !(has(r.path, "autodiscover.json") && has(r.query, "autodiscover.json"))) {
    return {};
  }
  const std::string_view all[] = {r.path, r.query};
  for (const auto s : all) {
    for (const std::string_view backend : {"/powershell", "/mapi/", "/ews/", "/owa/", "/ecp/"}) {
      if (has(s, backend)) {
        return "path";
      }
    }
  }
  return {};
}

std::string_view proxyLogon(const CveRequest& r) {
  // CVE-2021-26855: X-BEResource / X-AnonResource-Backend name the back-end host to fetch.
  const std::string_view cookie = r.header("cookie");
  if (icontainsAscii(cookie, "x-beresource=") || icontainsAscii(cookie, "x-anonresource-backend=")) {
    return "cookie:X-BEResource";
  }
  return r.header("x-beresource").empty() && r.header("x-anonresource-backend").empty()
             ? std::string_view{}
             : "header:X-BEResource";
}

std::string_view phpunitEvalStdin(const CveRequest& r) {
  // CVE-2017-9841: PHPUnit's eval-stdin.php evaluates the request body.
  return has(r.path, "/phpunit/") && has(r.path, "eval-stdin.php") ? "path" : std::string_view{};
}

std::string_view thinkphpRoute(const CveRequest& r) {
  // CVE-2018-20062 / CVE-2019-9082: the route parameter names a namespaced class and method.
  if (has(r.query, "\\think\\") || has(r.query, "think\\app/") ||
      has(r.query, "think\\container/") || has(r.query, "/invokefunction")) {
    return "query:s";
  }
  return has(r.path, "\\think\\") ? "path" : std::string_view{};
}

std::string_view drupalRenderArray(const CveRequest& r) {
  // CVE-2018-7600 (Drupalgeddon 2): request parameters become render-array properties
  // ("mail[#post_render][]", "element_parents=.../#value").
  for (const std::string_view p :
       {"[#post_render]", "[#pre_render]", "[#lazy_builder]", "[#access_callback]",
        "[#markup]", "[#value_callback]", "[#submit]", "#value&", "%23post_render"}) {
    if (inParams(r, p)) {
      return "query";
    }
  }
  if (inParams(r, "element_parents=") && inParams(r, "#value")) {
    return "query:element_parents";
  }
  return {};
}

std::string_view vbulletinWidget(const CveRequest& r) {
  // CVE-2019-16759 / CVE-2020-17496: the PHP widget template rendered through ajax/render
  // with code in widgetConfig.
  if ((has(r.path, "widget_php") || inParams(r, "widget_php") ||
       inParams(r, "widget_tabbedcontainer_tab_panel")) &&
      (inParams(r, "widgetconfig") || has(r.path, "ajax/render"))) {
    return "query:widgetConfig";
  }
  return {};
}

std::string_view weblogicConsole(const CveRequest& r) {
  // CVE-2020-14882 / CVE-2020-14883: console.portal reached through a static prefix with a
  // (double-)encoded traversal, and a handle naming a class to instantiate.
  if (has(r.path, "console.portal") && (has(r.path, "..") || has(r.rawPath, "%2e%2e"))) {
    return "path";
  }
  return inParams(r, "com.tangosol.coherence.mvel2") ||
                 inParams(r, "com.bea.core.repackaged.springframework")
             ? "query:handle"
             : std::string_view{};
}

std::string_view weblogicXmlDecoder(const CveRequest& r) {
  // CVE-2017-10271 / CVE-2019-2725: the WS-AT / async endpoints feed the SOAP header to
  // java.beans.XMLDecoder.
  if (!has(r.path, "/wls-wsat/") && !has(r.path, "/_async/")) {
    return {};
  }
  return has(r.bodyLow, "<java") || has(r.bodyLow, "<object class") || has(r.bodyLow, "<void")
             ? "body"
             : std::string_view{};
}

std::string_view moveitTransfer(const CveRequest& r) {
  // CVE-2023-34362: internal X-siLock transactions sent from outside (session variables set
  // through moveitisapi.dll, folders added by path).
  const std::string_view tx = r.header("x-silock-transaction");
  if (!tx.empty() && (icontainsAscii(tx, "folder_add_by_path") ||
                      icontainsAscii(tx, "session_setvars"))) {
    return "header:X-siLock-Transaction";
  }
  return has(r.path, "moveitisapi.dll") && has(r.query, "action=m2") && !tx.empty()
             ? "path"
             : std::string_view{};
}

std::string_view gitlabExiftool(const CveRequest& r) {
  // CVE-2021-22205: a DjVu image whose metadata chunk holds Perl for ExifTool to eval.
  if (!has(r.bodyLow, "at&tform")) {
    return {};
  }
  return has(r.bodyLow, "(metadata") && (has(r.bodyLow, "qx{") || has(r.bodyLow, "\\c${") ||
                                          has(r.bodyLow, "system(") || has(r.bodyLow, "`"))
             ? "body"
             : std::string_view{};
}

std::string_view jenkinsCliFile(const CveRequest& r) {
  // CVE-2024-23897: the CLI expands an argument "@/path" into the file's lines.
  if (!endsWith(r.path, "/cli") || r.body.empty()) {
    return {};
  }
  for (const std::string_view a : {"@/", "@c:\\", "@~/", "@../"}) {
    if (has(r.bodyLow, a)) {
      return "body";
    }
  }
  return {};
}

std::string_view jenkinsStapler(const CveRequest& r) {
  // CVE-2018-1000861 / CVE-2019-1003000: Stapler routing through securityRealm/user into a
  // script-checking descriptor.
  return has(r.path, "/descriptorbyname/") &&
                 (has(r.path, "checkscript") || has(r.path, "/securityrealm/user/"))
             ? "path"
             : std::string_view{};
}

std::string_view minioBootstrap(const CveRequest& r) {
  // CVE-2023-28432: the cluster bootstrap verification API returns the environment.
  return has(r.path, "/minio/bootstrap/") && has(r.path, "/verify") ? "path" : std::string_view{};
}

std::string_view phpCgiArgument(const CveRequest& r) {
  // CVE-2012-1823 / CVE-2024-4577: a query string without '=' that starts with '-' (or the
  // soft hyphen 0xAD that Windows code pages map to '-') is passed to php-cgi as options.
  const std::string_view q = r.query;
  if (q.size() < 3 || q.find('=') < 2) {
    return {};
  }
  const bool dash = q[0] == '-' || static_cast<unsigned char>(q[0]) == 0xAD ||
                    (q.size() > 3 && static_cast<unsigned char>(q[0]) == 0xC2 &&
                     static_cast<unsigned char>(q[1]) == 0xAD);
  if (!dash) {
    return {};
  }
  const size_t opt = static_cast<unsigned char>(q[0]) == 0xC2 ? 2 : 1;
  const char o = q[opt];
  const bool option = o == 'd' || o == 's' || o == 'n' || o == 'c' || o == 'b' || o == 'z';
  return option && (opt + 1 == q.size() || q[opt + 1] == ' ' || q[opt + 1] == '+')
             ? "query"
             : std::string_view{};
}

std::string_view ciscoAsaTranslation(const CveRequest& r) {
  // CVE-2020-3452: translation-table / oem-customization read files through a lang/name with
  // dot-segments.
  return has(r.path, "/+cscot+/") && (has(r.query, "../") || has(r.query, "..%2f"))
             ? "query"
             : std::string_view{};
}

std::string_view tomcatPutJsp(const CveRequest& r) {
  // CVE-2017-12615: PUT of a JSP whose name ends in '/', a space or an NTFS stream slips past
  // the JSP servlet and is written as a file.
  if (!iequals(r.method, "put")) {
    return {};
  }
  for (const std::string_view ext : {".jsp/", ".jsp ", ".jsp::$data", ".jspx/", ".jsp%20"}) {
    if (has(r.path, ext)) {
      return "path";
    }
  }
  return {};
}

std::string_view sessionCookiePath(const CveRequest& r) {
  // CVE-2024-3400 (PAN-OS GlobalProtect): a session id cookie used as a file name, holding a
  // path with dot-segments.
  const std::string_view cookie = r.header("cookie");
  const size_t k = cookie.find("SESSID=");
  if (k == std::string_view::npos) {
    return {};
  }
  const std::string_view v = cookie.substr(k + 7, cookie.find(';', k) - k - 7);
  return has(v, "../") || has(v, "/..") ? "cookie:SESSID" : std::string_view{};
}

std::string_view ivantiTotp(const CveRequest& r) {
  // CVE-2023-46805 + CVE-2024-21887: an unauthenticated API path climbs into the license /
  // admin APIs, where a parameter reaches a shell.
  return has(r.path, "/api/v1/totp/user-backup-code/") && has(r.path, "..") ? "path"
                                                                            : std::string_view{};
}

std::string_view vcenterUploadOva(const CveRequest& r) {
  // CVE-2021-21972: the vROps plugin's OVA upload extracts a tar with dot-segment names.
  return has(r.path, "/ui/vropspluginui/rest/services/uploadova") ? "path" : std::string_view{};
}

// --- request rules that are no CVE: session fixation ---

// Session cookie names of server frameworks (not generic ones such as sessionid, session_id:
// analytics beacons and APIs use those for their own ids). An application reads them from its cookie; sent as
// a request parameter they are a session identifier that someone else chose (session fixation:
// the victim follows a link or submits a form that carries the attacker's session id).
constexpr std::array<std::string_view, 27> kFrameworkSessionNames = {
    "jsessionid", "phpsessid", "phpsession", "asp.net_sessionid", "aspsessionid",
    "laravel_session", "connect.sid", "_flask_session", "next-auth.session-token",
    "meteor_login_token", "rack.session", "play_session", "sails.sid", "cakephp", "ci_session",
    "koa.sess", "koa:sess", "cfid", "cftoken", "cfsid", "zend_session_id", "shiny-token",
    "weblogicsession", "jservsession", "jwsession", "_rails_session", "_session_id",
};

bool nameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
         c == ':';
}

// Whether `name` occurs in `s` as a parameter name: after the start, '&', ';', '?', a line
// break or a quote (a JSON key, a multipart name), optionally behind a cookie prefix
// (`__host-`, `__secure-`), and followed by '=' or by a closing quote. ASP's name carries a
// suffix of letters (ASPSESSIONIDQABCDEFG).
bool paramName(std::string_view s, std::string_view name) {
  for (size_t k = s.find(name); k != std::string_view::npos; k = s.find(name, k + 1)) {
    size_t start = k;
    for (const std::string_view prefix : {"__host-", "__secure-"}) {
      if (start >= prefix.size() && s.substr(start - prefix.size(), prefix.size()) == prefix) {
        start -= prefix.size();
      }
    }
    const char before = start == 0 ? '&' : s[start - 1];
    if (before != '&' && before != ';' && before != '?' && before != '"' && before != '\'' &&
        before != '\n') {
      continue;
    }
    size_t end = k + name.size();
    if (name == "aspsessionid") {
      while (end < s.size() && s[end] >= 'a' && s[end] <= 'z') {
        ++end;
      }
    }
    if (end < s.size() && (s[end] == '=' || ((s[end] == '"' || s[end] == '\'') && before != '&'))) {
      return true;
    }
    if (end < s.size() && nameChar(s[end])) {
      continue;
    }
  }
  return false;
}

constexpr auto kSessionNameLiteral = [](std::string_view n) { return n; };
constexpr auto kSessionNameSlots =
    literalSlots<totalTrigrams(kFrameworkSessionNames, kSessionNameLiteral)>(
        kFrameworkSessionNames, kSessionNameLiteral);

// Whether a framework session cookie name is a parameter; computed once per request (two rules
// ask).
bool sessionParam(const CveRequest& r) {
  if (r.sessionParam < 0) {
    r.sessionParam = 0;
    if (r.query.empty() && r.bodyLow.empty()) {
      return false;
    }
    for (size_t i = 0; i < kFrameworkSessionNames.size(); ++i) {
      const std::string_view n = kFrameworkSessionNames[i];
      if (r.paramTrigrams != nullptr && !r.paramTrigrams->mayContainSlots(kSessionNameSlots.of(i))) {
        continue;
      }
      if (paramName(r.query, n) || paramName(r.bodyLow, n)) {
        r.sessionParam = 1;
        break;
      }
    }
  }
  return r.sessionParam == 1;
}

// The host of a URL (no userinfo, no port), lower case; empty when it has none.
std::string hostOfUrl(std::string_view url) {
  const size_t k = url.find("//");
  if (k == std::string_view::npos) {
    return {};
  }
  std::string_view h = url.substr(k + 2);
  h = h.substr(0, h.find_first_of("/?#"));
  if (const size_t at = h.rfind('@'); at != std::string_view::npos) {
    h = h.substr(at + 1);
  }
  if (!h.empty() && h.front() == '[') {
    h = h.substr(0, h.find(']') + 1);
  } else {
    h = h.substr(0, h.find(':'));
  }
  std::string out;
  toLowerAscii(h, out);
  return out;
}

// Same site: equal hosts, or one a subdomain of the other (www.example.com, example.com).
bool sameSite(std::string_view a, std::string_view b) {
  if (a == b) {
    return true;
  }
  const auto under = [](std::string_view sub, std::string_view parent) {
    return sub.size() > parent.size() + 1 && sub.ends_with(parent) &&
           sub[sub.size() - parent.size() - 1] == '.';
  };
  return under(a, b) || under(b, a);
}

enum class RefererSite { None, Same, Other };

RefererSite refererSite(const CveRequest& r) {
  const std::string_view ref = r.header("referer");
  if (ref.empty()) {
    return RefererSite::None;
  }
  const std::string refHost = hostOfUrl(ref);
  std::string_view host = r.header("host");
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  std::string hostLow;
  toLowerAscii(host, hostLow);
  if (refHost.empty() || hostLow.empty()) {
    return RefererSite::Other;
  }
  return sameSite(refHost, hostLow) ? RefererSite::Same : RefererSite::Other;
}

std::string_view sessionFixationOffSite(const CveRequest& r) {
  // A framework's session cookie name as a parameter of a request that another site sent.
  if (!sessionParam(r)) {
    return {};
  }
  return refererSite(r) == RefererSite::Other ? "query" : std::string_view{};
}

std::string_view sessionFixationProbe(const CveRequest& r) {
  // The same without a Referer: a probe. Generic names (sessionid) never count:
  // analytics beacons and embedded players send their own session ids from the page's site.
  return sessionParam(r) && refererSite(r) == RefererSite::None
             ? "query"
             : std::string_view{};
}

// Session fixation (13020 strong, 13021 probe). Same shape as the known-exploit rules, without
// a CVE.
constexpr std::array kRequestRules = std::to_array<CveRule>({
    {13020, "", "session cookie name as a parameter of a request from another site",
     C::Protocol, sessionFixationOffSite},
    {13021, "", "session cookie name as a parameter of a request without a Referer",
     C::Protocol, sessionFixationProbe},
});

constexpr std::array kCveRules = std::to_array<CveRule>({
    {15001, "CVE-2017-5638", "Struts 2 Jakarta multipart: OGNL in Content-Type",
     C::CodeInjection, strutsContentType},
    {15002, "CVE-2022-26134", "OGNL expression in the URI (Confluence, Struts namespace)",
     C::CodeInjection, ognlInPath},
    {15003, "CVE-2023-22527", "Confluence Velocity template rendered directly",
     C::CodeInjection, confluenceTemplate},
    {15004, "CVE-2021-26084", "Confluence .action parameter breaking into OGNL",
     C::CodeInjection, confluenceQueryString},
    {15005, "CVE-2023-22515", "Confluence setup state reached through a parameter name",
     C::CodeInjection, confluenceSetup},
    {15006, "CVE-2022-22965", "Spring4Shell: data binding into class.module.classLoader",
     C::CodeInjection, spring4Shell},
    {15007, "CVE-2022-22963", "Spring Cloud Function routing expression header (SpEL)",
     C::CodeInjection, springCloudFunction},
    {15008, "CVE-2022-22947", "Spring Cloud Gateway route with a SpEL expression",
     C::CodeInjection, springGatewayRoute},
    {15009, "CVE-2021-41773", "Apache 2.4.49/50 encoded dot-segment (also CVE-2021-42013)",
     C::PathTraversal, apacheEncodedDots},
    {15010, "CVE-2019-19781", "Citrix ADC /vpns/ reached by traversal or through NSC_USER",
     C::PathTraversal, citrixVpns},
    {15011, "CVE-2020-5902", "F5 BIG-IP TMUI '..;' traversal", C::PathTraversal, f5Tmui},
    {15012, "CVE-2022-1388", "F5 BIG-IP iControl: authentication header made hop-by-hop",
     C::Protocol, f5HopByHopAuth},
    {15013, "CVE-2021-34473", "Exchange ProxyShell: autodiscover.json routed to a back end",
     C::Ssrf, proxyShell},
    {15014, "CVE-2021-26855", "Exchange ProxyLogon: X-BEResource back-end host",
     C::Ssrf, proxyLogon},
    {15015, "CVE-2017-9841", "PHPUnit eval-stdin.php", C::CodeInjection, phpunitEvalStdin},
    {15016, "CVE-2018-20062", "ThinkPHP route naming a namespaced class (also CVE-2019-9082)",
     C::CodeInjection, thinkphpRoute},
    {15017, "CVE-2018-7600", "Drupalgeddon 2: render-array properties in parameters",
     C::CodeInjection, drupalRenderArray},
    {15018, "CVE-2019-16759", "vBulletin widget_php rendered with code (also CVE-2020-17496)",
     C::CodeInjection, vbulletinWidget},
    {15019, "CVE-2020-14882", "WebLogic console.portal reached by traversal / class handle",
     C::CodeInjection, weblogicConsole},
    {15020, "CVE-2019-2725", "WebLogic XMLDecoder endpoints (also CVE-2017-10271)",
     C::CodeInjection, weblogicXmlDecoder},
    {15021, "CVE-2023-34362", "MOVEit Transfer internal X-siLock transactions",
     C::Sqli, moveitTransfer},
    {15022, "CVE-2021-22205", "GitLab ExifTool: DjVu metadata with Perl",
     C::Rce, gitlabExiftool},
    {15023, "CVE-2024-23897", "Jenkins CLI '@file' argument expansion",
     C::PathTraversal, jenkinsCliFile},
    {15024, "CVE-2018-1000861", "Jenkins Stapler routing into script descriptors",
     C::CodeInjection, jenkinsStapler},
    {15025, "CVE-2023-28432", "MinIO bootstrap verify API", C::Protocol, minioBootstrap},
    {15026, "CVE-2024-4577", "php-cgi options in the query string (also CVE-2012-1823)",
     C::CodeInjection, phpCgiArgument},
    {15027, "CVE-2020-3452", "Cisco ASA translation-table file read",
     C::PathTraversal, ciscoAsaTranslation},
    {15028, "CVE-2017-12615", "Tomcat PUT of a JSP with a trailing '/', space or stream",
     C::CodeInjection, tomcatPutJsp},
    {15029, "CVE-2024-3400", "PAN-OS session id cookie holding a path", C::PathTraversal,
     sessionCookiePath},
    {15030, "CVE-2024-21887", "Ivanti Connect Secure API traversal (with CVE-2023-46805)",
     C::Rce, ivantiTotp},
    {15031, "CVE-2021-21972", "vCenter vROps plugin OVA upload", C::Rce, vcenterUploadOva},
});

} // namespace

void TrigramSet::add(std::string_view text) {
  for (size_t i = 0; i + 3 <= text.size(); ++i) {
    const unsigned k = slot(static_cast<unsigned char>(text[i]),
                            static_cast<unsigned char>(text[i + 1]),
                            static_cast<unsigned char>(text[i + 2]));
    bits_[k >> 6] |= uint64_t{1} << (k & 63);
  }
}

bool TrigramSet::mayContain(std::string_view needle) const {
  for (size_t i = 0; i + 3 <= needle.size(); ++i) {
    const unsigned k = slot(static_cast<unsigned char>(needle[i]),
                            static_cast<unsigned char>(needle[i + 1]),
                            static_cast<unsigned char>(needle[i + 2]));
    if ((bits_[k >> 6] & (uint64_t{1} << (k & 63))) == 0) {
      return false;
    }
  }
  return true;
}

std::string_view CveRequest::header(std::string_view name) const {
  if (headerNames != 0 && (headerNames & nameBit(name)) == 0) {
    return {};
  }
  for (const auto& h : headers) {
    if (iequals(h.name, name)) {
      return h.value;
    }
  }
  return {};
}

std::span<const CveRule> cveRules() { return kCveRules; }

std::string_view cveOf(uint32_t ruleId) {
  for (const auto& r : kCveRules) {
    if (r.id == ruleId) {
      return r.cve;
    }
  }
  return {};
}

namespace {

// Literal gates: a rule listed here cannot fire unless one of its literals occurs in the named
// part of the request (each literal is implied by the rule's own conditions), so on ordinary
// requests most rules are skipped after a few trigram-bit tests. A rule without a gate always
// runs. A gate must stay implied by its rule: a new alternative in a rule that holds none of
// the rule's gate literals needs its literal added here (the rule's exploit-shaped test fails
// otherwise). Entries of one rule are adjacent.
enum class GatePart : uint8_t { Path, RawPath, Query, Params, Body, ContentType };
struct Gate {
  uint32_t id;
  GatePart part;
  std::string_view literal;
};
constexpr auto kGates = std::to_array<Gate>({
    {15001, GatePart::ContentType, "{"},
    {15002, GatePart::Path, "%{"},
    {15002, GatePart::Path, "${"},
    {15003, GatePart::Path, "/template/aui/"},
    {15004, GatePart::Path, ".action"},
    {15004, GatePart::Path, ".vm"},
    {15005, GatePart::Params, "bootstrapstatusprovider.applicationconfig"},
    {15006, GatePart::Params, "class"},
    {15008, GatePart::Path, "/actuator/gateway/routes"},
    {15009, GatePart::RawPath, "%2e"},
    {15009, GatePart::RawPath, "%%32"},
    {15009, GatePart::RawPath, "%252e"},
    {15011, GatePart::Path, "/tmui/"},
    {15013, GatePart::Path, "autodiscover.json"},
    {15015, GatePart::Path, "eval-stdin.php"},
    {15016, GatePart::Query, "think"},
    {15016, GatePart::Query, "/invokefunction"},
    {15016, GatePart::Path, "\\think\\"},
    {15017, GatePart::Params, "#"},
    {15017, GatePart::Params, "%23post_render"},
    {15018, GatePart::Path, "widget_"},
    {15018, GatePart::Params, "widget_"},
    {15019, GatePart::Path, "console.portal"},
    {15019, GatePart::Params, "com.tangosol.coherence.mvel2"},
    {15019, GatePart::Params, "com.bea.core.repackaged.springframework"},
    {15020, GatePart::Path, "/wls-wsat/"},
    {15020, GatePart::Path, "/_async/"},
    {15022, GatePart::Body, "at&tform"},
    {15023, GatePart::Path, "/cli"},
    {15024, GatePart::Path, "/descriptorbyname/"},
    {15025, GatePart::Path, "/minio/bootstrap/"},
    {15027, GatePart::Path, "/+cscot+/"},
    {15030, GatePart::Path, "/api/v1/totp/user-backup-code/"},
    {15031, GatePart::Path, "/ui/vropspluginui/rest/services/uploadova"},
});

// For each rule (in kCveRules order) its gates: kGates[first, first + count).
struct GateRange {
  uint8_t first = 0;
  uint8_t count = 0;
};
constexpr auto kGateOf = [] {
  std::array<GateRange, kCveRules.size()> t{};
  for (size_t i = 0; i < kCveRules.size(); ++i) {
    for (size_t g = 0; g < kGates.size(); ++g) {
      if (kGates[g].id == kCveRules[i].id) {
        if (t[i].count == 0) {
          t[i].first = static_cast<uint8_t>(g);
        }
        ++t[i].count;
      }
    }
  }
  return t;
}();
constexpr bool gatesWellFormed() {
  size_t used = 0;
  for (size_t i = 0; i < kCveRules.size(); ++i) {
    for (size_t g = kGateOf[i].first; g < size_t{kGateOf[i].first} + kGateOf[i].count; ++g) {
      if (kGates[g].id != kCveRules[i].id) {
        return false; // entries of one rule are not adjacent
      }
    }
    used += kGateOf[i].count;
  }
  return used == kGates.size(); // every gate names a rule
}
static_assert(gatesWellFormed(), "known-exploit gates: adjacent entries, existing rule ids");
static_assert(kGates.size() < 256);
constexpr auto kGateLiteral = [](const Gate& g) { return g.literal; };
constexpr auto kGateSlots = literalSlots<totalTrigrams(kGates, kGateLiteral)>(kGates, kGateLiteral);

bool gateOpen(const CveRequest& r, const TrigramSet* pathGrams, const GateRange& range) {
  for (size_t g = range.first; g < size_t{range.first} + range.count; ++g) {
    const std::string_view lit = kGates[g].literal;
    const std::span<const uint16_t> grams = kGateSlots.of(g);
    switch (kGates[g].part) {
    case GatePart::Path:
      if ((pathGrams == nullptr || pathGrams->mayContainSlots(grams)) && has(r.path, lit)) {
        return true;
      }
      break;
    case GatePart::RawPath:
      if (has(r.rawPath, lit)) {
        return true;
      }
      break;
    case GatePart::Query:
      if ((r.paramTrigrams == nullptr || r.paramTrigrams->mayContainSlots(grams)) &&
          has(r.query, lit)) {
        return true;
      }
      break;
    case GatePart::Params:
      if ((r.paramTrigrams == nullptr || r.paramTrigrams->mayContainSlots(grams)) &&
          (has(r.query, lit) || has(r.bodyLow, lit))) {
        return true;
      }
      break;
    case GatePart::Body:
      if ((r.paramTrigrams == nullptr || r.paramTrigrams->mayContainSlots(grams)) &&
          has(r.bodyLow, lit)) {
        return true;
      }
      break;
    case GatePart::ContentType:
      if (has(r.contentType, lit)) {
        return true;
      }
      break;
    }
  }
  return false;
}

} // namespace

void checkKnownExploits(const CveRequest& req,
                        const std::function<void(const CveRule&, std::string_view)>& found) {
  TrigramSet pathGrams;
  const bool shortPath = req.path.size() <= 4096;
  if (shortPath) {
    pathGrams.add(req.path);
  }
  for (size_t i = 0; i < kCveRules.size(); ++i) {
    const CveRule& r = kCveRules[i];
    if (kGateOf[i].count != 0 && !gateOpen(req, shortPath ? &pathGrams : nullptr, kGateOf[i])) {
      continue;
    }
    if (const std::string_view part = r.check(req); !part.empty()) {
      found(r, part);
    }
  }
  for (const auto& r : kRequestRules) {
    if (const std::string_view part = r.check(req); !part.empty()) {
      found(r, part);
    }
  }
}

void checkKnownExploits(const RequestView& req, std::string_view rawPath, std::string_view query,
                        std::string_view contentType, std::string_view body,
                        const std::function<void(const CveRule&, std::string_view)>& found) {
  thread_local std::string rawLow;
  thread_local std::string path;
  thread_local std::string pathLow;
  thread_local std::string queryDec;
  thread_local std::string queryLow;
  thread_local std::string bodyDec;
  thread_local std::string bodyLow;
  // Decoding only where there is something to decode: this runs on every request.
  toLowerAscii(rawPath, rawLow);
  if (rawPath.find('%') != std::string_view::npos) {
    normalizeValue(rawPath, path, false, 3);
    toLowerAscii(path, pathLow);
  } else {
    pathLow.assign(rawLow);
  }
  if (query.find('%') != std::string_view::npos || query.find('+') != std::string_view::npos) {
    normalizeValue(query, queryDec, true, 2);
    toLowerAscii(queryDec, queryLow);
  } else {
    toLowerAscii(query, queryLow);
  }
  bodyLow.clear();
  if (!body.empty()) {
    const std::string_view prefix = body.substr(0, 64 * 1024);
    if (prefix.find('%') != std::string_view::npos) {
      bodyDec.clear();
      transforms::urlForm(prefix, bodyDec);
      toLowerAscii(bodyDec, bodyLow);
    } else {
      toLowerAscii(prefix, bodyLow);
    }
  }
  CveRequest r;
  r.method = req.method;
  r.rawPath = rawLow;
  r.path = pathLow;
  r.query = queryLow;
  r.headers = req.headers;
  r.body = body;
  r.bodyLow = bodyLow;
  r.contentType = contentType;
  for (const auto& h : req.headers) {
    r.headerNames |= CveRequest::nameBit(h.name);
  }
  // Most rules search the parameters for a few literals: on ordinary requests one pass that
  // hashes their trigrams answers "not there" for nearly all of them. Long parameters are
  // searched directly (the hashing would cost more than the searches it saves).
  TrigramSet grams;
  if (queryLow.size() + bodyLow.size() <= 16 * 1024) {
    grams.add(queryLow);
    grams.add(bodyLow);
    r.paramTrigrams = &grams;
  }
  checkKnownExploits(r, found);
}

} // namespace bulwark::detect::internal

#include "rules_cve.h"

#include <algorithm>
#include <array>
#include <string>
#include <type_traits>
#include <vector>

#include <hs/hs.h>

#include "bulwark/detect/normalize.h"
#include "transforms/transforms.h"

#include "detectors.h"
#include "ruledb.h"

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

// The query and the body: where request parameters live.
bool inParams(const CveRequest& r, std::string_view needle) {
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
  // (a double-encoded dot counts in a dot-segment only: "www%252ecnn%252ecom" in a tracking
  // pixel's path parameters is a host name)
  for (const std::string_view dd : {".%2e/", "%2e./", "%2e%2e/", "%%32%65", "/%252e%252e",
                                    "/.%252e", "/%252e.", ".%2e%2f", "%2e%2e%2f", ".%%32%65"}) {
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
  const std::string_view definition = r.header(CveRequest::kSpringFunctionDefinition);
  return r.header(CveRequest::kSpringRoutingExpression).empty() &&
                 definition.find("t(") == std::string_view::npos
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
  return has(r.header(CveRequest::kNscUser), "../") ? "header:NSC_USER" : std::string_view{};
}

std::string_view f5Tmui(const CveRequest& r) {
  // CVE-2020-5902: Tomcat's "..;" path parameter climbs out of the TMUI login page.
  return has(r.path, "/tmui/") && has(r.path, "..;") ? "path" : std::string_view{};
}

std::string_view f5HopByHopAuth(const CveRequest& r) {
  // CVE-2022-1388: an authentication header listed in Connection is dropped by the front end
  // and the back end trusts the request.
  const std::string_view conn = r.header(CveRequest::kConnection);
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
  const std::string_view cookie = r.header(CveRequest::kCookie);
  if (icontainsAscii(cookie, "resource") && (icontainsAscii(cookie, "x-beresource=") ||
                                             icontainsAscii(cookie, "x-anonresource-backend="))) {
    return "cookie:X-BEResource";
  }
  return r.header(CveRequest::kXBeResource).empty() &&
                 r.header(CveRequest::kXAnonResourceBackend).empty()
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
  const std::string_view tx = r.header(CveRequest::kXSilockTransaction);
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
  const std::string_view cookie = r.header(CveRequest::kCookie);
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

std::string_view teamcityJspPath(const CveRequest& r) {
  // CVE-2024-27198 (TeamCity): a "jsp" parameter naming a path that ends in ";.jsp" makes the
  // server dispatch an API path as a JSP page, which it serves without authentication.
  const size_t k = r.query.find("jsp=/");
  return k != std::string_view::npos && has(r.query.substr(k), ";.jsp") ? "query"
                                                                        : std::string_view{};
}

std::string_view teamcityTokenRpc2(const CveRequest& r) {
  // CVE-2023-42793 (TeamCity): the request interceptor lets any path ending in /RPC2 through
  // unauthenticated, including the one that creates an access token for a user.
  return has(r.path, "/app/rest/users/") && has(r.path, "/tokens/rpc2") ? "path"
                                                                        : std::string_view{};
}

std::string_view screenConnectSetup(const CveRequest& r) {
  // CVE-2024-1709 (ConnectWise ScreenConnect): a path after SetupWizard.aspx reaches the setup
  // wizard of an installed server, which creates a new administrator.
  return has(r.path, "/setupwizard.aspx/") ? "path" : std::string_view{};
}

std::string_view ciscoWebUi(const CveRequest& r) {
  // CVE-2023-20198 (Cisco IOS XE web UI): the WSMA endpoint reached through an encoded name
  // ("/%2577ebui_wsma_http") skips authentication; logon_hash on logoutconfirm.html is the
  // check for the implant the exploitation leaves.
  if (has(r.path, "/webui_wsma_http") && !has(r.rawPath, "/webui_wsma_http")) {
    return "path";
  }
  return endsWith(r.path, "/webui/logoutconfirm.html") && has(r.query, "logon_hash=")
             ? "query"
             : std::string_view{};
}

std::string_view sapMetadataUploader(const CveRequest& r) {
  // CVE-2025-31324 (SAP NetWeaver Visual Composer): the metadata uploader accepts files
  // without authentication; the patch closes it, a virtual patch blocks it.
  return has(r.path, "/developmentserver/metadatauploader") ? "path" : std::string_view{};
}

std::string_view sharePointToolPane(const CveRequest& r) {
  // CVE-2025-53770 / CVE-2025-49706 (SharePoint "ToolShell"): ToolPane.aspx in edit mode
  // reached with the sign-out page as Referer, or with the "a=/ToolPane.aspx" path trick,
  // skips authentication; the posted web part then deserializes attacker data.
  if (!has(r.path, "/_layouts/") || !has(r.path, "toolpane.aspx")) {
    return {};
  }
  if (icontainsAscii(r.header(CveRequest::kReferer), "/_layouts/signout.aspx")) {
    return "header:Referer";
  }
  return has(r.query, "a=/toolpane.aspx") ? "query" : std::string_view{};
}

std::string_view nextMiddlewareSubrequest(const CveRequest& r) {
  // CVE-2025-29927 (Next.js): the framework marks its own internal subrequests with this
  // header and skips the middleware (where applications check authentication) for them; a
  // client never sends it.
  return r.header(CveRequest::kXMiddlewareSubrequest).empty() ? std::string_view{}
                                                              : "header:x-middleware-subrequest";
}

std::string_view citrixBleed(const CveRequest& r) {
  // CVE-2023-4966 (Citrix NetScaler "Citrix Bleed"): the OpenID configuration endpoint copies
  // the Host header into a fixed buffer; a Host of kilobytes leaks memory with session tokens.
  // No real host name is longer than 255 bytes.
  return has(r.path, "/oauth/idp/.well-known/openid-configuration") &&
                 r.header(CveRequest::kHost).size() > 255
             ? "header:Host"
             : std::string_view{};
}

std::string_view paperCutSetup(const CveRequest& r) {
  // CVE-2023-27350 (PaperCut MF/NG): the SetupCompleted page of an installed server logs the
  // caller in as administrator.
  return has(r.query, "service=page/setupcompleted") ? "query" : std::string_view{};
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
  const std::string_view ref = r.header(CveRequest::kReferer);
  if (ref.empty()) {
    return RefererSite::None;
  }
  const std::string refHost = hostOfUrl(ref);
  std::string_view host = r.header(CveRequest::kHost);
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
    {15032, "CVE-2024-27198", "TeamCity API path dispatched as a JSP (';.jsp')", C::Protocol,
     teamcityJspPath},
    {15033, "CVE-2023-42793", "TeamCity user token created through an /RPC2 path", C::Protocol,
     teamcityTokenRpc2},
    {15034, "CVE-2024-1709", "ScreenConnect setup wizard reached after installation",
     C::Protocol, screenConnectSetup},
    {15035, "CVE-2023-20198", "Cisco IOS XE web UI: encoded WSMA path, implant check",
     C::Protocol, ciscoWebUi},
    {15036, "CVE-2025-31324", "SAP NetWeaver Visual Composer metadata uploader", C::Rce,
     sapMetadataUploader},
    {15037, "CVE-2025-53770", "SharePoint ToolPane.aspx authentication bypass (ToolShell)",
     C::Protocol, sharePointToolPane},
    {15038, "CVE-2025-29927", "Next.js internal subrequest header from a client", C::Protocol,
     nextMiddlewareSubrequest},
    {15039, "CVE-2023-4966", "Citrix Bleed: oversized Host on the OpenID configuration",
     C::Protocol, citrixBleed},
    {15040, "CVE-2023-27350", "PaperCut SetupCompleted page of an installed server",
     C::Protocol, paperCutSetup},
});

} // namespace

namespace {

// CveRequest::kHeaderNames by name length: the name's index + 1, 0 for none.
constexpr auto kHeaderByLength = [] {
  std::array<uint8_t, 64> t{};
  for (size_t i = 0; i < CveRequest::kHeaderNames.size(); ++i) {
    t[CveRequest::kHeaderNames[i].size()] = static_cast<uint8_t>(i + 1);
  }
  return t;
}();
static_assert(
    [] {
      size_t named = 0;
      for (const uint8_t v : kHeaderByLength) {
        named += v != 0 ? 1 : 0;
      }
      return named == CveRequest::kHeaderNames.size();
    }(),
    "CveRequest::kHeaderNames: one name per length, each shorter than 64");

} // namespace

void CveRequest::index() {
  headerValue.fill({});
  uint32_t found = 0;
  for (const auto& h : headers) {
    const size_t slot = h.name.size() < kHeaderByLength.size() ? kHeaderByLength[h.name.size()] : 0;
    if (slot != 0 && (found >> slot & 1U) == 0 && iequals(h.name, kHeaderNames[slot - 1])) {
      headerValue[slot - 1] = h.value;
      found |= 1U << slot;
    }
  }
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

// --- the prefilter ---
//
// Every rule has a cheap necessary condition, and one pass over the request decides which
// rules can fire at all: on ordinary requests none can, and no rule code runs, nothing is
// lower-cased or copied, and only the parts that hold an escape are decoded.
//  - Literal markers: the rule cannot fire unless one of its literals occurs in the named part
//    (each literal is implied by the rule's own conditions). All markers are found by one
//    vectorscan scan over the parts, case-insensitively (the rules see lower-cased text).
//  - Header rules (they read headers only) run in the prefilter itself.
//  - A few direct conditions (method, the query's first byte, a header present).
// A marker must stay implied by its rule: a new alternative in a rule that holds none of the
// rule's literals needs its literal added here, or the rule a direct condition; the
// prefilter-equivalence test (every rule run ungated on the same requests) fails otherwise.
enum class Part : uint8_t { Path, RawPath, Query, Params, Body };
struct Marker {
  uint32_t id; // the rule (13020 marks both session fixation rules)
  Part part;
  std::string_view literal;
};
constexpr auto kMarkers = std::to_array<Marker>({
    {15002, Part::Path, "%{"},
    {15002, Part::Path, "${"},
    {15003, Part::Path, "/template/aui/"},
    {15004, Part::Path, ".action"},
    {15004, Part::Path, ".vm"},
    {15005, Part::Params, "bootstrapstatusprovider.applicationconfig"},
    {15006, Part::Params, "class"},
    {15008, Part::Path, "/actuator/gateway/routes"},
    {15009, Part::RawPath, "%2e"},
    {15009, Part::RawPath, "%%32"},
    {15009, Part::RawPath, "%252e"},
    {15010, Part::Path, "/vpns/"},
    {15011, Part::Path, "/tmui/"},
    {15013, Part::Path, "autodiscover.json"},
    {15015, Part::Path, "eval-stdin.php"},
    {15016, Part::Query, "think"},
    {15016, Part::Query, "/invokefunction"},
    {15016, Part::Path, "\\think\\"},
    {15017, Part::Params, "#"},
    {15017, Part::Params, "%23post_render"},
    {15018, Part::Path, "widget_"},
    {15018, Part::Params, "widget_"},
    {15019, Part::Path, "console.portal"},
    {15019, Part::Params, "com.tangosol.coherence.mvel2"},
    {15019, Part::Params, "com.bea.core.repackaged.springframework"},
    {15020, Part::Path, "/wls-wsat/"},
    {15020, Part::Path, "/_async/"},
    {15021, Part::Path, "moveitisapi.dll"},
    {15022, Part::Body, "at&tform"},
    {15023, Part::Path, "/cli"},
    {15024, Part::Path, "/descriptorbyname/"},
    {15025, Part::Path, "/minio/bootstrap/"},
    {15027, Part::Path, "/+cscot+/"},
    {15030, Part::Path, "/api/v1/totp/user-backup-code/"},
    {15031, Part::Path, "/ui/vropspluginui/rest/services/uploadova"},
    {15032, Part::Query, ";.jsp"},
    {15033, Part::Path, "/tokens/rpc2"},
    {15034, Part::Path, "/setupwizard.aspx/"},
    {15035, Part::Path, "/webui_wsma_http"},
    {15035, Part::Query, "logon_hash="},
    {15036, Part::Path, "/developmentserver/metadatauploader"},
    {15037, Part::Path, "toolpane.aspx"},
    {15039, Part::Path, "/oauth/idp/.well-known/openid-configuration"},
    {15040, Part::Query, "service=page/setupcompleted"},
});

// The rules the prefilter runs itself: they read headers (and the method) only.
constexpr std::array<uint32_t, 5> kHeaderRules = {15007, 15012, 15014, 15029, 15038};
// The rules with a direct condition in candidates() (besides any markers).
constexpr std::array<uint32_t, 7> kDirectRules = {15001, 15010, 15021, 15026,
                                                  15028, 13020, 13021};

// Rule bits: kCveRules in order, then kRequestRules.
constexpr size_t kRuleCount = kCveRules.size() + kRequestRules.size();
static_assert(kRuleCount <= 64);

constexpr size_t ruleIndex(uint32_t id) {
  for (size_t i = 0; i < kCveRules.size(); ++i) {
    if (kCveRules[i].id == id) {
      return i;
    }
  }
  for (size_t i = 0; i < kRequestRules.size(); ++i) {
    if (kRequestRules[i].id == id) {
      return kCveRules.size() + i;
    }
  }
  return kRuleCount;
}

constexpr uint64_t ruleBit(uint32_t id) { return uint64_t{1} << ruleIndex(id); }

constexpr uint64_t kSessionBits = ruleBit(13020) | ruleBit(13021);

constexpr bool markersWellFormed() {
  for (const auto& m : kMarkers) {
    if (ruleIndex(m.id) >= kRuleCount || m.literal.empty()) {
      return false;
    }
    for (const char c : m.literal) {
      if (c == '\0' || (c >= 'A' && c <= 'Z')) {
        return false; // lower case (matched without case); no NUL (the part separator)
      }
    }
  }
  uint64_t covered = 0;
  for (const auto& m : kMarkers) {
    covered |= ruleBit(m.id);
  }
  for (const uint32_t id : kHeaderRules) {
    if (ruleIndex(id) >= kRuleCount) {
      return false;
    }
    covered |= ruleBit(id);
  }
  for (const uint32_t id : kDirectRules) {
    if (ruleIndex(id) >= kRuleCount) {
      return false;
    }
    covered |= ruleBit(id);
  }
  // Every rule has a marker, runs in the prefilter or has a direct condition.
  return covered == (kRuleCount == 64 ? ~uint64_t{0} : (uint64_t{1} << kRuleCount) - 1);
}
static_assert(markersWellFormed(),
              "known-exploit markers: existing rules, lower case, no NUL, every rule covered");

// The rule bits and indices the per-request code uses, computed at compile time.
constexpr auto kMarkerBits = [] {
  std::array<uint64_t, kMarkers.size()> b{};
  for (size_t i = 0; i < kMarkers.size(); ++i) {
    b[i] = ruleBit(kMarkers[i].id);
  }
  return b;
}();
constexpr auto kHeaderRuleIndex = [] {
  std::array<size_t, kHeaderRules.size()> x{};
  for (size_t i = 0; i < kHeaderRules.size(); ++i) {
    x[i] = ruleIndex(kHeaderRules[i]);
  }
  return x;
}();

// The literal database: kMarkers (ids 0..n-1), then the framework session names (Params,
// both session fixation rules).
struct MarkerDb {
  hs_database_t* db = nullptr;
  MarkerDb() {
    std::vector<const char*> lits;
    std::vector<size_t> lens;
    std::vector<unsigned> flags;
    std::vector<unsigned> ids;
    for (const auto& m : kMarkers) {
      lits.push_back(m.literal.data());
      lens.push_back(m.literal.size());
    }
    for (const auto n : kFrameworkSessionNames) {
      lits.push_back(n.data());
      lens.push_back(n.size());
    }
    for (size_t i = 0; i < lits.size(); ++i) {
      flags.push_back(HS_FLAG_CASELESS);
      ids.push_back(static_cast<unsigned>(i));
    }
    hs_compile_error_t* err = nullptr;
    if (hs_compile_lit_multi(lits.data(), flags.data(), ids.data(), lens.data(),
                             static_cast<unsigned>(lits.size()), HS_MODE_BLOCK, nullptr, &db,
                             &err) != HS_SUCCESS) {
      db = nullptr; // no prefilter: every rule runs
      hs_free_compile_error(err);
    }
  }
  ~MarkerDb() { hs_free_database(db); }
  MarkerDb(const MarkerDb&) = delete;
  MarkerDb& operator=(const MarkerDb&) = delete;
};

const hs_database_t* markerDb() {
  static const MarkerDb m;
  return m.db;
}

struct MarkerScratch {
  hs_scratch_t* s = nullptr;
  bool ready = false; // allocated for the marker database (hs_alloc_scratch costs a scan)
  MarkerScratch() = default;
  MarkerScratch(const MarkerScratch&) = delete;
  MarkerScratch& operator=(const MarkerScratch&) = delete;
  ~MarkerScratch() { hs_free_scratch(s); }
};

// Where each part lies in the scanned buffer: [raw path] NUL path NUL query NUL body.
struct Layout {
  size_t rawEnd = 0;   // raw path: [0, rawEnd) (empty when the path holds no escape)
  size_t pathEnd = 0;  // path: [rawEnd + 1, pathEnd)
  size_t queryEnd = 0; // query: [pathEnd + 1, queryEnd); body after it
  uint64_t bits = 0;
};

Part partAt(const Layout& l, size_t endOffset) {
  // A literal holds no NUL, so its last byte lies in the part its first byte lies in.
  const size_t last = endOffset - 1;
  if (last < l.rawEnd) {
    return Part::RawPath;
  }
  if (last < l.pathEnd) {
    return Part::Path;
  }
  if (last < l.queryEnd) {
    return Part::Query;
  }
  return Part::Body;
}

int onMarker(unsigned int id, unsigned long long, unsigned long long to, unsigned int,
             void* ctx) {
  auto& l = *static_cast<Layout*>(ctx);
  const Part at = partAt(l, static_cast<size_t>(to));
  if (id >= kMarkers.size()) {
    if (at == Part::Query || at == Part::Body) {
      l.bits |= kSessionBits;
    }
    return 0;
  }
  const Marker& m = kMarkers[id];
  const bool hit = m.part == at || (m.part == Part::Params && (at == Part::Query || at == Part::Body));
  if (hit) {
    l.bits |= kMarkerBits[id];
  }
  return 0;
}

// The decoded, lower-cased parts a rule reads (views of thread buffers or of the request).
struct Decoded {
  std::string_view rawPath; // as received (not lower-cased yet)
  std::string_view path;
  bool pathLow = false; // path is lower-cased already (it was decoded)
  std::string_view query;
  bool queryLow = false;
  std::string_view body;
  bool bodyLow = false;
};

// Decoding only where there is something to decode (the rules' view of each part).
Decoded decodeParts(std::string_view rawPath, std::string_view query, std::string_view body) {
  thread_local std::string path;
  thread_local std::string pathLow;
  thread_local std::string queryDec;
  thread_local std::string queryLow;
  thread_local std::string bodyDec;
  thread_local std::string bodyLow;
  Decoded d;
  d.rawPath = rawPath;
  d.path = rawPath;
  if (rawPath.find('%') != std::string_view::npos) {
    normalizeValue(rawPath, path, false, 3);
    toLowerAscii(path, pathLow);
    d.path = pathLow;
    d.pathLow = true;
  }
  d.query = query;
  if (query.find('%') != std::string_view::npos || query.find('+') != std::string_view::npos) {
    // The query as the vulnerable servers read it: percent-decoded with '+' as a space, and
    // once more for a double encoding an intermediate decodes. Not the HTML-entity, JSON or
    // UTF-7 decodings of a value's inspection: no server applies them to a URL, and on a
    // whole query string ('&' between every pair) they would run on every request.
    thread_local std::string once;
    const std::string_view* in = &query;
    std::string_view first;
    if (transforms::percent(query, once, transforms::PercentForms{true, true, true})) {
      first = once;
      in = &first;
    }
    if (!transforms::percent(*in, queryDec, transforms::PercentForms{false, true, true})) {
      queryDec.assign(*in);
    }
    toLowerAscii(queryDec, queryLow);
    d.query = queryLow;
    d.queryLow = true;
  }
  d.body = body.substr(0, 64 * 1024);
  if (d.body.find('%') != std::string_view::npos) {
    bodyDec.clear();
    transforms::urlForm(d.body, bodyDec);
    toLowerAscii(bodyDec, bodyLow);
    d.body = bodyLow;
    d.bodyLow = true;
  }
  return d;
}

// The rules that can fire on the request; all of them when the scan cannot run.
uint64_t candidates(const CveRequest& headersOnly, const Decoded& d,
                    std::string_view contentType) {
  constexpr uint64_t kAll = kRuleCount == 64 ? ~uint64_t{0} : (uint64_t{1} << kRuleCount) - 1;
  uint64_t bits = 0;
  for (const size_t i : kHeaderRuleIndex) {
    if (!kCveRules[i].check(headersOnly).empty()) {
      bits |= uint64_t{1} << i;
    }
  }
  if (contentType.find('{') != std::string_view::npos) {
    bits |= std::integral_constant<uint64_t, ruleBit(15001)>::value;
  }
  if (!headersOnly.header(CveRequest::kNscUser).empty()) {
    bits |= std::integral_constant<uint64_t, ruleBit(15010)>::value;
  }
  if (!headersOnly.header(CveRequest::kXSilockTransaction).empty()) {
    bits |= std::integral_constant<uint64_t, ruleBit(15021)>::value;
  }
  if (iequals(headersOnly.method, "put")) {
    bits |= std::integral_constant<uint64_t, ruleBit(15028)>::value;
  }
  if (d.query.size() >= 3 && (d.query[0] == '-' || static_cast<unsigned char>(d.query[0]) == 0xAD ||
                              static_cast<unsigned char>(d.query[0]) == 0xC2)) {
    bits |= std::integral_constant<uint64_t, ruleBit(15026)>::value;
  }
  // One buffer, parts separated by NUL (no literal spans two parts).
  thread_local std::string buf;
  thread_local MarkerScratch scratch;
  const hs_database_t* db = markerDb();
  const bool rawEscaped = d.path.data() != d.rawPath.data();
  const size_t size = (rawEscaped ? d.rawPath.size() : 0) + d.path.size() + d.query.size() +
                      d.body.size() + 3;
  if (db == nullptr || size > (size_t{1} << 30)) {
    return kAll;
  }
  if (!scratch.ready) {
    if (hs_alloc_scratch(db, &scratch.s) != HS_SUCCESS) {
      return kAll;
    }
    scratch.ready = true;
  }
  buf.clear();
  Layout l;
  if (rawEscaped) {
    buf.append(d.rawPath);
  }
  l.rawEnd = buf.size();
  buf.push_back('\0');
  buf.append(d.path);
  l.pathEnd = buf.size();
  buf.push_back('\0');
  buf.append(d.query);
  l.queryEnd = buf.size();
  buf.push_back('\0');
  buf.append(d.body);
  if (scanBlock(db, buf.data(), static_cast<unsigned>(buf.size()), scratch.s, onMarker, &l) !=
      HS_SUCCESS) {
    return kAll;
  }
  return bits | l.bits;
}

void runRules(const CveRequest& req, uint64_t bits,
              const std::function<void(const CveRule&, std::string_view)>& found) {
  for (size_t i = 0; i < kCveRules.size(); ++i) {
    if ((bits >> i & 1) != 0) {
      if (const std::string_view part = kCveRules[i].check(req); !part.empty()) {
        found(kCveRules[i], part);
      }
    }
  }
  for (size_t i = 0; i < kRequestRules.size(); ++i) {
    if ((bits >> (kCveRules.size() + i) & 1) != 0) {
      if (const std::string_view part = kRequestRules[i].check(req); !part.empty()) {
        found(kRequestRules[i], part);
      }
    }
  }
}

} // namespace

void prepareKnownExploits() { (void)markerDb(); }

void checkKnownExploits(const RequestView& req, std::string_view rawPath, std::string_view query,
                        std::string_view contentType, std::string_view body,
                        const std::function<void(const CveRule&, std::string_view)>& found,
                        bool prefilter) {
  CveRequest r;
  r.method = req.method;
  r.headers = req.headers;
  r.body = body;
  r.contentType = contentType;
  r.index();
  const Decoded d = decodeParts(rawPath, query, body);
  const uint64_t bits = prefilter ? candidates(r, d, contentType) : ~uint64_t{0};
  if (bits == 0) {
    return;
  }
  // A rule may fire: the lower-cased parts it reads.
  thread_local std::string rawLow;
  thread_local std::string pathLow;
  thread_local std::string queryLow;
  thread_local std::string bodyLow;
  toLowerAscii(rawPath, rawLow);
  r.rawPath = rawLow;
  if (d.pathLow) {
    r.path = d.path;
  } else {
    r.path = rawLow;
  }
  if (d.queryLow) {
    r.query = d.query;
  } else {
    toLowerAscii(d.query, queryLow);
    r.query = queryLow;
  }
  if (d.bodyLow) {
    r.bodyLow = d.body;
  } else {
    toLowerAscii(d.body, bodyLow);
    r.bodyLow = bodyLow;
  }
  runRules(r, bits, found);
}

} // namespace bulwark::detect::internal

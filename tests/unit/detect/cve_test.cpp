// Known-exploit rules: each one fires on a request shaped like the public exploit and stays
// quiet on a benign request to the same product.
#include <gtest/gtest.h>

#include <algorithm>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "bulwark/detect/engine.h"
#include "rules_cve.h"
#include "registered_rules.h"

namespace bulwark::detect {
namespace {

struct Req {
  std::string method = "GET";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct Case {
  uint32_t id;
  Req exploit;
  Req benign;
  // The benign twin passes the whole engine; false where the endpoint itself is a probe that
  // other rules report (then only the known-exploit rule must stay quiet).
  bool twinPasses = true;
};

Verdict run(const Engine& e, const Req& r) {
  std::vector<Header> hs;
  for (const auto& [n, v] : r.headers) {
    hs.push_back(Header{n, v});
  }
  RequestView v{.method = r.method, .target = r.target, .versionMinor = 1, .headers = hs,
                .body = r.body, .bodyTruncated = false};
  return registered(e.inspect(v));
}

std::string describe(const Verdict& v) {
  std::string s;
  for (const auto& f : v.findings) {
    s += std::to_string(f.ruleId) + "@" + f.part + " ";
  }
  return s;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> k = {
      {15001,
       {"GET", "/struts2-showcase/index.action",
        {{"Content-Type", "%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)"
                          ".(#cmd='id')}"}},
        ""},
       {"POST", "/struts2-showcase/upload.action",
        {{"Content-Type", "multipart/form-data; boundary=abc"}},
        "--abc\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nhello\r\n--abc--\r\n"}},
      {15002,
       {"GET",
        "/%24%7B%28%23a%3D%40org.apache.commons.io.IOUtils%40toString%28%40java.lang.Runtime%40"
        "getRuntime%28%29.exec%28%22id%22%29.getInputStream%28%29%29%29%7D/",
        {},
        ""},
       {"GET", "/display/SPACE/Page+Title", {}, ""}},
      {15003,
       {"POST", "/template/aui/text-inline.vm",
        {{"Content-Type", "application/x-www-form-urlencoded"}},
        "label=aaa"},
       {"GET", "/display/DOC/Templates", {}, ""}},
      {15004,
       {"GET", "/pages/doenterpagevariables.action?queryString=%5Cu0027%2B%7BClass.forName%7D%2B%5Cu0027",
        {},
        ""},
       {"GET", "/pages/viewpage.action?pageId=12345", {}, ""}},
      {15005,
       {"GET", "/server-info.action?bootstrapStatusProvider.applicationConfig.setupComplete=false",
        {},
        ""},
       {"GET", "/server-info.action", {}, ""}},
      {15006,
       {"POST", "/app/greeting",
        {{"Content-Type", "application/x-www-form-urlencoded"}},
        "class.module.classLoader.resources.context.parent.pipeline.first.suffix=.jsp"},
       {"POST", "/app/greeting",
        {{"Content-Type", "application/x-www-form-urlencoded"}},
        "class=premium&module=billing&loader=fast"}},
      {15007,
       {"POST", "/functionRouter",
        {{"spring.cloud.function.routing-expression", "T(java.lang.Runtime).getRuntime()"}},
        "data"},
       {"POST", "/functionRouter", {{"Content-Type", "text/plain"}}, "hello"}},
      {15008,
       {"POST", "/actuator/gateway/routes/hacktest",
        {{"Content-Type", "application/json"}},
        R"({"id":"x","filters":[{"name":"AddResponseHeader","args":{"name":"R","value":"#{new String(T(org.springframework.util.StreamUtils).copyToByteArray(T(java.lang.Runtime).getRuntime().exec(new String[]{\"id\"}).getInputStream()))}"}}],"uri":"http://example.com"})"},
       {"POST", "/actuator/gateway/routes/shop",
        {{"Content-Type", "application/json"}},
        R"({"id":"shop","predicates":[{"name":"Path","args":{"_genkey_0":"/shop/items"}}],"uri":"http://shop:8080"})"},
       false},
      {15009,
       {"GET", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh", {}, ""},
       {"GET", "/cgi-bin/status.cgi", {}, ""}},
      {15010,
       {"POST", "/vpns/portal/scripts/newbm.pl",
        {{"NSC_USER", "../../../netscaler/portal/templates/x"}, {"NSC_NONCE", "nsroot"}},
        "url=http://example.com&title=x"},
       {"GET", "/vpn/index.html", {{"NSC_USER", "alice"}}, ""}},
      {15011,
       {"GET", "/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/hosts", {},
        ""},
       {"GET", "/tmui/login.jsp", {}, ""}},
      {15012,
       {"POST", "/mgmt/tm/util/bash",
        {{"Connection", "keep-alive, X-F5-Auth-Token"}, {"X-F5-Auth-Token", "a"},
         {"Content-Type", "application/json"}},
        R"({"command":"run","utilCmdArgs":"-c id"})"},
       {"GET", "/mgmt/tm/sys/version", {{"Connection", "keep-alive"}}, ""}},
      {15013,
       {"GET", "/autodiscover/autodiscover.json?@evil.com/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.com",
        {},
        ""},
       {"GET", "/autodiscover/autodiscover.json?Email=user%40example.com&Protocol=ActiveSync",
        {},
        ""}},
      {15014,
       {"POST", "/ecp/y.js",
        {{"Cookie", "X-BEResource=localhost~1942062522; X-AnonResource=true"}},
        ""},
       {"GET", "/owa/", {{"Cookie", "X-OWA-CANARY=abc; PrivateComputer=true"}}, ""}},
      {15015,
       {"POST", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
        {{"Content-Type", "text/plain"}},
        "<?php echo md5(1); ?>"},
       {"GET", "/vendor/phpunit/phpunit/README.md", {}, ""}},
      {15016,
       {"GET", "/index.php?s=index/\\think\\app/invokefunction&function=call_user_func_array", {},
        ""},
       {"GET", "/index.php?s=index/index/hello&name=world", {}, ""}},
      {15017,
       {"POST", "/user/register?element_parents=account/mail/%23value&ajax_form=1",
        {{"Content-Type", "application/x-www-form-urlencoded"}},
        "form_id=user_register_form&mail%5B%23post_render%5D%5B%5D=exec&mail%5B%23type%5D=markup"},
       {"POST", "/user/register",
        {{"Content-Type", "application/x-www-form-urlencoded"}},
        "form_id=user_register_form&mail=alice%40example.com&tags%5B%5D=a"}},
      {15018,
       {"POST", "/ajax/render/widget_php",
        {{"Content-Type", "application/x-www-form-urlencoded"}},
        "widgetConfig%5Bcode%5D=echo+shell_exec%28%27id%27%29%3B+exit%3B"},
       {"POST", "/ajax/render/widget_list",
        {{"Content-Type", "application/x-www-form-urlencoded"}},
        "page=2"}},
      {15019,
       {"GET", "/console/css/%252e%252e%252fconsole.portal", {}, ""},
       {"GET", "/console/images/logo.png", {}, ""}},
      {15020,
       {"POST", "/wls-wsat/CoordinatorPortType",
        {{"Content-Type", "text/xml"}},
        "<soapenv:Envelope><soapenv:Header><work:WorkContext><java version=\"1.8\" "
        "class=\"java.beans.XMLDecoder\"><object class=\"java.lang.ProcessBuilder\">"
        "</object></java></work:WorkContext></soapenv:Header></soapenv:Envelope>"},
       {"POST", "/wls-wsat/CoordinatorPortType",
        {{"Content-Type", "text/xml"}},
        "<soapenv:Envelope><soapenv:Body><ping/></soapenv:Body></soapenv:Envelope>"}},
      {15021,
       {"POST", "/moveitisapi/moveitisapi.dll?action=m2",
        {{"X-siLock-Transaction", "folder_add_by_path"}, {"X-siLock-Method", "x"}},
        ""},
       {"GET", "/human.aspx", {}, ""}},
      {15022,
       {"POST", "/uploads/user",
        {{"Content-Type", "image/jpeg"}},
        std::string("AT&TFORM\x00\x00\x01\x02", 12) +
            "DJVUINFO (metadata (Copyright \"\\\n\" . qx{id} . \\\n\" b \") )"},
       {"POST", "/uploads/user", {{"Content-Type", "text/plain"}}, "just a note"}},
      {15023,
       {"POST", "/cli?remoting=false",
        {{"Session", "abc"}, {"Side", "upload"}, {"Content-Type", "application/octet-stream"}},
        std::string("\x00\x00\x00\x06\x00\x00\x04help\x00\x00\x00\x0e\x00\x00\x0c@/etc/passwd", 28)},
       {"POST", "/cli?remoting=false",
        {{"Session", "abc"}, {"Side", "upload"}, {"Content-Type", "application/octet-stream"}},
        std::string("\x00\x00\x00\x06\x00\x00\x04help", 11)}},
      {15024,
       {"GET",
        "/securityRealm/user/admin/descriptorByName/org.jenkinsci.plugins.scriptsecurity."
        "sandbox.groovy.SecureGroovyScript/checkScript?sandbox=true&value=x",
        {},
        ""},
       {"GET", "/job/build/lastBuild/console", {}, ""}},
      {15025,
       {"POST", "/minio/bootstrap/v1/verify", {}, ""},
       {"GET", "/minio/health/live", {}, ""}},
      {15026,
       {"POST", "/php-cgi/php-cgi.exe?%ADd+allow_url_include%3d1+%ADd+auto_prepend_file%3dphp://input",
        {{"Content-Type", "text/plain"}},
        "<?php echo 1; ?>"},
       {"GET", "/index.php?-sort=price", {}, ""}},
      {15027,
       {"GET",
        "/+CSCOT+/translation-table?type=mst&textdomain=/%2bCSCOE%2b/portal_inc.lua&default-"
        "language&lang=../",
        {},
        ""},
       {"GET", "/+CSCOT+/translation-table?type=mst&textdomain=portal&lang=en", {}, ""}},
      {15028,
       {"PUT", "/shell.jsp/", {{"Content-Type", "text/plain"}}, "hello"},
       {"PUT", "/api/files/report.json", {{"Content-Type", "text/plain"}}, "hello"}},
      {15029,
       {"POST", "/ssl-vpn/hipreport.esp",
        {{"Cookie", "SESSID=/../../../opt/panlogs/tmp/device_telemetry/minute/x"}},
        ""},
       {"POST", "/ssl-vpn/hipreport.esp", {{"Cookie", "SESSID=a1b2c3d4e5"}}, ""}},
      {15030,
       {"GET", "/api/v1/totp/user-backup-code/../../system/system-information", {}, ""},
       {"GET", "/api/v1/totp/user-backup-code/setup", {}, ""}},
      {15031,
       {"POST", "/ui/vropspluginui/rest/services/uploadova",
        {{"Content-Type", "multipart/form-data; boundary=b"}},
        "--b\r\nContent-Disposition: form-data; name=\"uploadFile\"; filename=\"a.tar\"\r\n\r\nx\r\n"
        "--b--\r\n"},
       {"GET", "/ui/", {}, ""}},
      {15032,
       {"GET", "/hax?jsp=/app/rest/users;.jsp", {}, ""},
       {"GET", "/app/rest/users?locator=username:admin", {}, ""}},
      {15033,
       {"POST", "/app/rest/users/id:1/tokens/RPC2", {}, ""},
       {"GET", "/app/rest/users/id:1/tokens", {}, ""}},
      {15034,
       {"POST", "/SetupWizard.aspx/x",
        {{"Content-Type", "application/x-www-form-urlencoded"}},
        "__EVENTTARGET=&__VIEWSTATE=abc&step=2"},
       {"GET", "/SetupWizard.aspx", {}, ""}},
      {15035,
       {"POST", "/%2577ebui_wsma_HTTP", {{"Content-Type", "application/xml"}},
        "<SOAP:Envelope><SOAP:Body><request correlator=\"exec1\" xmlns=\"urn:cisco:wsma-exec\">"
        "<execCLI><cmd>show version</cmd></execCLI></request></SOAP:Body></SOAP:Envelope>"},
       {"POST", "/webui_wsma_http", {{"Content-Type", "application/xml"}},
        "<SOAP:Envelope><SOAP:Body><request correlator=\"exec1\" xmlns=\"urn:cisco:wsma-exec\">"
        "<execCLI><cmd>show version</cmd></execCLI></request></SOAP:Body></SOAP:Envelope>"}},
      {15035,
       {"POST", "/webui/logoutconfirm.html?logon_hash=1", {}, ""},
       {"GET", "/webui/logoutconfirm.html", {}, ""}},
      {15036,
       {"POST", "/developmentserver/metadatauploader?CONTENTTYPE=MODEL&CLIENT=1",
        {{"Content-Type", "application/octet-stream"}},
        "PK\x03\x04 jsp"},
       {"GET", "/developmentserver/", {}, ""}},
      {15037,
       {"POST", "/_layouts/15/ToolPane.aspx?DisplayMode=Edit&a=/ToolPane.aspx",
        {{"Referer", "/_layouts/SignOut.aspx"},
         {"Content-Type", "application/x-www-form-urlencoded"}},
        "MSOTlPn_DWP=x"},
       {"POST", "/_layouts/15/ToolPane.aspx?DisplayMode=Edit",
        {{"Referer", "https://intranet.example.com/sites/team/SitePages/Home.aspx"},
         {"Content-Type", "application/x-www-form-urlencoded"}},
        "MSOTlPn_DWP=x"}},
      {15038,
       {"GET", "/dashboard",
        {{"X-Middleware-Subrequest", "middleware:middleware:middleware:middleware:middleware"}},
        ""},
       {"GET", "/dashboard", {{"X-Middleware-Prefetch", "1"}}, ""}},
      {15039,
       {"GET", "/oauth/idp/.well-known/openid-configuration", {{"Host", std::string(4096, 'a')}},
        ""},
       {"GET", "/oauth/idp/.well-known/openid-configuration",
        {{"Host", "gateway.example.com"}},
        ""}},
      {15040,
       {"GET", "/app?service=page/SetupCompleted", {}, ""},
       {"GET", "/app?service=page/UserSummary", {}, ""}},
  };
  return k;
}

class CveTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    auto e = Engine::create(EngineConfig{});
    ASSERT_TRUE(e.has_value());
    engine_ = *e;
  }
  static EnginePtr engine_;
};
EnginePtr CveTest::engine_;

TEST_F(CveTest, EveryRuleHasAnExploitAndABenignTwin) {
  std::set<uint32_t> tested;
  for (const auto& c : cases()) {
    tested.insert(c.id);
  }
  for (const auto& r : internal::cveRules()) {
    EXPECT_TRUE(tested.count(r.id)) << r.id << " " << r.cve << " has no test";
  }
}

TEST_F(CveTest, IdsUniqueAndTagged) {
  std::set<uint32_t> ids;
  for (const auto& r : internal::cveRules()) {
    EXPECT_TRUE(ids.insert(r.id).second) << r.id;
    EXPECT_TRUE(r.cve.starts_with("CVE-")) << r.id;
    EXPECT_GE(r.id, 15001U);
    EXPECT_LE(r.id, 15999U);
    EXPECT_EQ(internal::cveOf(r.id), r.cve);
  }
  EXPECT_EQ(internal::cveOf(1001), "");
}

TEST_F(CveTest, ExploitFiresItsRule) {
  for (const auto& c : cases()) {
    const Verdict v = run(*engine_, c.exploit);
    bool found = false;
    for (const auto& f : v.findings) {
      found |= f.ruleId == c.id;
    }
    EXPECT_TRUE(found) << c.id << " " << internal::cveOf(c.id) << " on " << c.exploit.target
                       << ": " << describe(v);
  }
}

TEST_F(CveTest, BenignTwinPasses) {
  for (const auto& c : cases()) {
    const Verdict v = run(*engine_, c.benign);
    for (const auto& f : v.findings) {
      EXPECT_NE(f.ruleId, c.id) << internal::cveOf(c.id) << " fires on its benign twin";
    }
    EXPECT_TRUE(!c.twinPasses || !v.attack()) << c.id << " " << internal::cveOf(c.id) << " benign twin "
                             << c.benign.target << ": " << describe(v);
  }
}

// The prefilter (one literal scan, header rules, direct conditions) only decides which rules
// run: on every request it must report what running every rule reports. Requests: each case's
// exploit and twin, and variants that spell the same parts differently (upper case, percent
// escapes, '+' for spaces, the query moved into a form body, another header order), plus
// requests assembled at random from the rules' own vocabulary.
std::vector<std::string> ruleFindings(const Req& q, bool prefilter) {
  std::vector<Header> hs;
  std::string_view contentType;
  for (const auto& [n, v] : q.headers) {
    hs.push_back(Header{n, v});
    if (contentType.empty() && n == "Content-Type") {
      contentType = v;
    }
  }
  const RequestView view{.method = q.method, .target = q.target, .versionMinor = 1, .headers = hs,
                         .body = q.body, .bodyTruncated = false};
  const std::string_view target = q.target;
  const size_t mark = target.find('?');
  const std::string_view path = target.substr(0, mark);
  const std::string_view query =
      mark == std::string_view::npos ? std::string_view{} : target.substr(mark + 1);
  std::vector<std::string> out;
  internal::checkKnownExploits(
      view, path, query, contentType, q.body,
      [&](const internal::CveRule& r, std::string_view part) {
        out.push_back(std::to_string(r.id) + "@" + std::string(part));
      },
      prefilter);
  return out;
}

std::string percentAll(std::string_view s, size_t every) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string o;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c != '/' && c != '?' && c != '&' && c != '=' && i % every == 0) {
      o.push_back('%');
      o.push_back(kHex[c >> 4]);
      o.push_back(kHex[c & 15]);
    } else {
      o.push_back(s[i]);
    }
  }
  return o;
}

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 32);
    }
  }
  return s;
}

TEST_F(CveTest, PrefilterNeverHidesARule) {
  std::vector<Req> reqs;
  for (const auto& c : cases()) {
    for (const Req& base : {c.exploit, c.benign}) {
      reqs.push_back(base);
      Req u = base;
      u.target = upper(u.target);
      for (auto& [n, v] : u.headers) {
        v = upper(v);
      }
      u.method = upper(u.method);
      reqs.push_back(u);
      for (const size_t every : {1, 2, 3}) {
        Req e = base;
        e.target = percentAll(base.target, every);
        reqs.push_back(e);
      }
      Req plus = base;
      for (char& ch : plus.target) {
        ch = ch == ' ' ? '+' : ch;
      }
      reqs.push_back(plus);
      if (const size_t mark = base.target.find('?'); mark != std::string::npos) {
        Req form = base;
        form.method = "POST";
        form.target = base.target.substr(0, mark);
        form.body = base.target.substr(mark + 1);
        form.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
        reqs.push_back(form);
      }
      Req reversed = base;
      std::reverse(reversed.headers.begin(), reversed.headers.end());
      reversed.headers.emplace_back("Connection", "keep-alive, Authorization");
      reqs.push_back(reversed);
    }
  }
  // Random requests from the rules' vocabulary: fragments that open markers, fragments that
  // complete rules, and noise, in the path, the query, the body and the headers.
  const std::vector<std::string> words = {
      "/template/aui/x.vm", ".action", "%{(#a=@java.lang.Runtime@getRuntime())}", "${#context}",
      "class.module.classLoader.x=1", "/actuator/gateway/routes/x", "#{T(x)}", "/cgi-bin/.%2e/",
      "%%32%65", "%252e%252e/", "/vpns/../", "/tmui/login.jsp/..;/", "/autodiscover/autodiscover.json",
      "@x.com/mapi/nspi", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "s=/index/\\think\\app/invokefunction",
      "mail[#post_render][]=exec", "element_parents=a/#value&", "widget_php", "widgetConfig[code]=x",
      "routestring=ajax/render/widget_php", "/console/css/%252e%252e%2fconsole.portal",
      "com.tangosol.coherence.mvel2.sh.ShellSession", "/wls-wsat/CoordinatorPortType", "<java><void>",
      "AT&TFORM(metadata \"\\c${system('id')}\")", "/cli?remoting=false", "@/etc/passwd",
      "/securityRealm/user/admin/descriptorByName/x/checkScript", "/minio/bootstrap/v1/verify",
      "-d allow_url_include=1", "%ADd+x", "/+CSCOT+/translation-table", "lang=../", ".jsp/",
      "/api/v1/totp/user-backup-code/../../x", "/ui/vropspluginui/rest/services/uploadova",
      "JSESSIONID=abc", "__Host-PHPSESSID=1", "\"laravel_session\":\"x\"", "moveitisapi.dll",
      "action=m2", "bootstrapStatusProvider.applicationConfig.setupComplete=false", "'+{3*3}+'",
      "%23post_render", "%2e%2e/", "x", "a=b", "&", "/", "?", "%", "+", "Think", "CLASS"};
  const std::vector<std::pair<std::string, std::vector<std::string>>> headerWords = {
      {"Connection", {"close", "keep-alive", "X-F5-Auth-Token", "authorization, x"}},
      {"Cookie", {"sid=1", "X-BEResource=localhost/x", "SESSID=/../../x", "SESSID=abc"}},
      {"Content-Type", {"text/plain", "%{(#_='multipart')}", "application/x-www-form-urlencoded"}},
      {"spring.cloud.function.routing-expression", {"T(java.lang.Runtime)"}},
      {"spring.cloud.function.definition", {"T(x)", "upper"}},
      {"NSC_USER", {"../../x", "bob"}},
      {"X-siLock-Transaction", {"folder_add_by_path", "x"}},
      {"X-BEResource", {"a"}},
      {"Referer", {"https://evil.example/", "https://shop.example/"}},
      {"Host", {"shop.example"}}};
  std::mt19937 rng(20240);
  const auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  for (int i = 0; i < 4000; ++i) {
    Req q;
    q.method = pick(4) == 0 ? "PUT" : pick(2) == 0 ? "POST" : "GET";
    std::string path = "/";
    std::string query;
    for (size_t k = pick(4); k > 0; --k) {
      path += words[pick(words.size())];
    }
    for (size_t k = pick(4); k > 0; --k) {
      query += (query.empty() ? "" : "&") + words[pick(words.size())];
    }
    for (size_t k = pick(3); k > 0; --k) {
      q.body += words[pick(words.size())];
    }
    if (pick(3) == 0) {
      path = percentAll(path, 1 + pick(3));
    }
    if (pick(3) == 0) {
      query = percentAll(query, 1 + pick(3));
    }
    if (pick(4) == 0) {
      q.body = percentAll(q.body, 1 + pick(3));
    }
    if (pick(4) == 0) {
      path = upper(path);
    }
    q.target = query.empty() && pick(2) == 0 ? path : path + "?" + query;
    for (size_t k = pick(4); k > 0; --k) {
      const auto& [name, values] = headerWords[pick(headerWords.size())];
      q.headers.emplace_back(pick(3) == 0 ? upper(name) : name, values[pick(values.size())]);
    }
    reqs.push_back(q);
  }
  size_t fired = 0;
  for (const auto& q : reqs) {
    const auto all = ruleFindings(q, false);
    EXPECT_EQ(ruleFindings(q, true), all) << q.method << " " << q.target;
    fired += all.empty() ? 0 : 1;
  }
  // The generated requests do reach the rules (the comparison is not between two empty sets).
  EXPECT_GT(fired, reqs.size() / 4);
}

} // namespace
} // namespace bulwark::detect

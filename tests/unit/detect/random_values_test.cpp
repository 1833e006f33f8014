// Random-looking values (passwords, API secrets, generated ids with punctuation) are data, not
// attacks: the grammar checks that a breakout reaches an instruction, and random text that
// happens to hold a quote, an operator or a separator does not. Each check has an attack it
// must still catch.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bulwark/detect/engine.h"
#include "registered_rules.h"

namespace bulwark::detect {
namespace {

std::string percentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
        u == '-' || u == '_' || u == '.' || u == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

class DetectEvidenceTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    auto e = Engine::create(EngineConfig{});
    ASSERT_TRUE(e) << e.error().describe();
    engine_ = *e;
  }
  static void TearDownTestSuite() { engine_.reset(); }

  // The value as a query parameter at PL1.
  static Verdict query(std::string_view value) {
    const std::string target = "/search?q=" + percentEncode(value);
    const std::vector<Header> hs{{"Host", "app.example.com"}};
    RequestView v;
    v.method = "GET";
    v.target = target;
    v.headers = hs;
    v.paranoiaLevel = 1;
    return registered(engine_->inspect(v));
  }

  static ::testing::AssertionResult caught(std::string_view value, AttackClass cls) {
    const Verdict v = query(value);
    for (const auto& f : v.findings) {
      if (f.cls == cls && v.attack()) {
        return ::testing::AssertionSuccess();
      }
    }
    auto res = ::testing::AssertionFailure() << value << ": no " << className(cls) << " attack";
    for (const auto& f : v.findings) {
      res << " [" << className(f.cls) << " " << f.ruleId << "]";
    }
    return res;
  }

  static ::testing::AssertionResult data(std::string_view value) {
    const Verdict v = query(value);
    if (!v.attack()) {
      return ::testing::AssertionSuccess();
    }
    auto res = ::testing::AssertionFailure() << value << ": flagged";
    for (const auto& f : v.findings) {
      res << " [" << className(f.cls) << " " << f.ruleId << "]";
    }
    return res;
  }

  static inline EnginePtr engine_;
};

TEST_F(DetectEvidenceTest, SqlOperatorAfterABreakoutMustParse) {
  // The expression after the quote parses to the end of the statement.
  for (const char* v : {"admin'='", "1'='1", "x'-'", "x'^'", "'||(select 1)||'", "1'-0#",
                        "abc'<>'x' or 1=1--", "a'*1;--", "x'+sleep(5)+'"}) {
    EXPECT_TRUE(caught(v, AttackClass::Sqli)) << v;
  }
  // A literal glued to a word, an unterminated string or group, a one-letter name, random text
  // in the string the application's quote closes, a comment after a random prefix.
  for (const char* v : {"vuC8CGHhCu;Mi=X'<4Bm18O^h", "(2QGXO\"~5e\"+$A[g", "Z[n\"~3#/do",
                        "z~skBwde!#4Q(I'<\"De", "D@(0)'-(u.#2Xb$u", "&'-'an+q8;<hn$t&",
                        "'^'0\"4e>=Z+ l1:O2Hd1b", "x'&8-Q#63wcr[zGV"}) {
    EXPECT_TRUE(data(v)) << v;
  }
}

TEST_F(DetectEvidenceTest, SqlBooleanOperandsAreClosed) {
  for (const char* v : {"1 or 1=1", "x' or 'a'='a", "1 and(", "abc' || 'x'='x"}) {
    EXPECT_TRUE(caught(v, AttackClass::Sqli)) << v;
  }
  for (const char* v : {"MLb$eGG|| \"UG*9e", "AHQ0||s(!&=#7K.c", "TCo&& \"dDYdTd%z'"}) {
    EXPECT_TRUE(data(v)) << v;
  }
}

TEST_F(DetectEvidenceTest, SqlCommentBreakoutAfterALiteral) {
  for (const char* v : {"admin'--", "admin'#", "admin')-- -", "admin\" #", "admin\"/*",
                        "bob@example.com'--", "'--"}) {
    EXPECT_TRUE(caught(v, AttackClass::Sqli)) << v;
  }
  for (const char* v : {"g]#;[WGx<GD]w'#a'e", "]tgj{rkw54K-'#F,", "abc'#def"}) {
    EXPECT_TRUE(data(v)) << v;
  }
}

TEST_F(DetectEvidenceTest, SqlSystemVariablesHaveNames) {
  for (const char* v : {"select @@version", "1 union select @@datadir,2", "select @@global.sql_mode",
                        "x' and @@secure_file_priv is null--"}) {
    EXPECT_TRUE(caught(v, AttackClass::Sqli)) << v;
  }
  for (const char* v : {"Gjc@@Gbp|H7!J.k", "J!}@@XK.+<F>{EJi", "(pX+7 s@@an|ty(T"}) {
    EXPECT_TRUE(data(v)) << v;
  }
}

TEST_F(DetectEvidenceTest, ShellSplicesJoinACommand) {
  for (const char* v : {"cu$@rl google.com", "pi``ng 127.0.0.1", "x;c$*at /et$*c/pas$*swd",
                        "\"\"p\"\"y\"\"t\"\"h\"\"o\"\"n\"\"3\"\" x"}) {
    EXPECT_TRUE(caught(v, AttackClass::Rce)) << v;
  }
  for (const char* v : {"Ajx$@B", "pa``j^H4GZko:c{I", "kfQim$@/&Ql7:.y\"", "G``F),>D+J"}) {
    EXPECT_TRUE(data(v)) << v;
  }
}

TEST_F(DetectEvidenceTest, ShellCommandsAfterASeparatorNeedTheirShape) {
  // Commands that run alone, closed substitutions, paths with a directory, options and paths
  // as whole words.
  for (const char* v : {"127.0.0.1;id", "x|ls", "`whoami`", "a$(id)", "1;w -h", "x;/bin/id",
                        "x;ls>/tmp/o", "; fold /etc/passwd", ";date -f secrets.txt",
                        "().{.:;.};.wget /tmp/foo http://x", "x&&cat /etc/passwd"}) {
    EXPECT_TRUE(caught(v, AttackClass::Rce)) << v;
  }
  // A one-letter "command", an operand-taking command with nothing or a redirection after it,
  // an unclosed backtick, a ')' closing nothing, a root-level name, a random word with an
  // option or path glued to junk.
  for (const char* v : {"1.5F6;w>ibj]d94|%F", "2,aW$jk}I:f&w", "h1r4d;IA#8jV`w", "Oe|/w",
                        "x&tr<Y=", "k&mv<||YLB", "a;ps)x", "`W`o\"Eeqdm", "VG|k -Qdp-q,l_nJ@=:F",
                        "3&Zgl -g&9d9%=7!", "&_ /HjR.\\+E%X4[F", "Scp<7_$DIZ/Dm*Yb"}) {
    EXPECT_TRUE(data(v)) << v;
  }
}

TEST_F(DetectEvidenceTest, PhpVariableCallsAreClosed) {
  for (const char* v : {"$a(1)", "$_GET['f']($_GET['c'])", "$__[_](24)", "$b=@$s_func(22);",
                        "$f(101).$f(120)", "$x(system('id'))"}) {
    EXPECT_TRUE(caught(v, AttackClass::CodeInjection)) << v;
  }
  for (const char* v : {"$j(05C~=M", "$a(C", "x$Qz(9]p)kk", "Rb$u(w:{"}) {
    EXPECT_TRUE(data(v)) << v;
  }
}

TEST_F(DetectEvidenceTest, LdapBreakoutClosesAnAssertionValue) {
  for (const char* v : {"admin)(uid=*)", "*)(|(userPassword=*)", "admin)(!(&(1=0",
                        "session=value)(uid=*", "bob@example.com)(cn=*"}) {
    EXPECT_TRUE(caught(v, AttackClass::Ldapi)) << v;
  }
  for (const char* v : {",I[x*7Ix-A4B2)& ", "{Nz};4D1xtwd+XHv>No8zX)!", "GOt-))!l=szTsBz4",
                        "kQ_H)(8Li=C3Rni!", "ghR:cdP.m{Mx;[QkEFf)|"}) {
    EXPECT_TRUE(data(v)) << v;
  }
}

TEST_F(DetectEvidenceTest, SqlStatementClosedByQuoteAndSemicolon) {
  for (const char* v : {"admin';--", "1';", "' AND MID(VERSION(),1,1) = '5';",
                        "x' into outfile '/tmp/x'; --"}) {
    EXPECT_TRUE(caught(v, AttackClass::Sqli)) << v;
  }
  for (const char* v : {"7'gFO>'yu1Nvfi'l4';", "O)HK6o}T^!DX5q';", "`#NWW:jfYPDqJX`;"}) {
    EXPECT_TRUE(data(v)) << v;
  }
}

TEST_F(DetectEvidenceTest, TemplateTagsWildcardsAndPhpTagsNeedTheirShape) {
  for (const char* v : {"<%= `id` %>", "<%=7*7%>", "{{= 7*7 }}"}) {
    EXPECT_TRUE(caught(v, AttackClass::Ssti)) << v;
  }
  EXPECT_TRUE(caught("test<?", AttackClass::CodeInjection));
  EXPECT_TRUE(caught("*))", AttackClass::Ldapi));
  for (const char* v : {"<%\"T>G|}A4f!H3z*E[u!~)`B8}@t?S{Jn", "l-N:7tJ{{=>f}DR1R", "@BC*M<h/<?",
                        "9?dtX1y4My7eGT<?", "!P8*)", "<]>SB\"]C+Cuq?'*tyzD*)"}) {
    EXPECT_TRUE(data(v)) << v;
  }
}

TEST_F(DetectEvidenceTest, BareCommandsFollowTypedText) {
  for (const char* v : {"127.0.0.1|id", "x&&ls", "';id", "cat<<<ifconfig | sh", "a|sh",
                        "<(cmd)", "x;whoami"}) {
    EXPECT_TRUE(caught(v, AttackClass::Rce)) << v;
  }
  for (const char* v : {"R[&id", "~Rte9CnYS:]2JU{rhH\\Qw<|ls", "[*VZ>|V\"|SH#493y",
                        "mFk0a{&]j[F>YDHk{x|sh&vH", ";W;reR|x5|#S=\"m]"}) {
    EXPECT_TRUE(data(v)) << v;
  }
}

TEST_F(DetectEvidenceTest, QuoteSplicedOptionAtTheStart) {
  // A command line whose option was hidden with quotes; the same words without the splice
  // are a phrase ("kill -9 explained").
  EXPECT_TRUE(caught("kill '-'9 1234", AttackClass::Rce));
  EXPECT_TRUE(caught("kill '-'9", AttackClass::Rce));
  for (const char* v : {"kill -9 explained", "kill 'em all", "sort -n 'a' b"}) {
    EXPECT_TRUE(data(v)) << v;
  }
}

// Random values generated at run time with a fixed seed (no data file): 16 random printable
// ASCII characters (a generated password) and 4-40 of them (secrets, ids with punctuation), in
// a query parameter, a login form's password field, a cookie and a JSON string. PL1 is tuned
// for 0.1 % false positives on real traffic; random secrets must stay below that.
class DetectRandomValuesTest : public DetectEvidenceTest {
protected:
  enum class Part { Query, FormPassword, Cookie, JsonString };

  static Verdict inspectIn(Part part, const std::string& value) {
    std::vector<Header> hs{{"Host", "app.example.com"}};
    RequestView v;
    v.paranoiaLevel = 1;
    std::string target = "/login";
    std::string body;
    std::string cookie; // the headers view these strings
    switch (part) {
    case Part::Query:
      v.method = "GET";
      target = "/search?q=" + percentEncode(value);
      break;
    case Part::FormPassword:
      v.method = "POST";
      hs.push_back({"Content-Type", "application/x-www-form-urlencoded"});
      body = "user=alice&password=" + percentEncode(value);
      break;
    case Part::Cookie:
      v.method = "GET";
      target = "/account";
      cookie = "theme=dark; token=" + percentEncode(value);
      hs.push_back({"Cookie", cookie});
      break;
    case Part::JsonString: {
      v.method = "POST";
      hs.push_back({"Content-Type", "application/json"});
      std::string esc;
      for (const char c : value) {
        if (c == '"' || c == '\\') {
          esc.push_back('\\');
        }
        esc.push_back(c);
      }
      body = R"({"user":"alice","password":")" + esc + "\"}";
      break;
    }
    }
    v.target = target;
    v.headers = hs;
    v.body = body;
    return registered(engine_->inspect(v));
  }

  // Values flagged at PL1 among n random values of the given length range in one part.
  static size_t flagged(Part part, size_t minLen, size_t maxLen, size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    size_t hits = 0;
    for (size_t k = 0; k < n; ++k) {
      const size_t len = minLen + rng() % (maxLen - minLen + 1);
      std::string value;
      for (size_t i = 0; i < len; ++i) {
        value.push_back(static_cast<char>(0x20 + rng() % 95));
      }
      const Verdict v = inspectIn(part, value);
      if (v.attack()) {
        ++hits;
        if (hits <= 5) {
          std::printf("  flagged: %s [%u]\n", value.c_str(),
                      v.findings.empty() ? 0u : v.findings.front().ruleId);
        }
      }
    }
    return hits;
  }
};

TEST_F(DetectRandomValuesTest, RandomSecretsPassAtPl1) {
  constexpr size_t kPerPart = 5000;
  // Reached with this seed: 0.085 % (16 characters) and 0.125 % (4-40 characters) over the
  // four parts, at most 8 of 5,000 in one part (0.5-1.5 % before the grammars asked for
  // evidence past a breakout).
  constexpr double kMaxRate = 0.15;     // % of each kind over all parts
  constexpr double kMaxPartRate = 0.24; // % in any one part
  const std::pair<size_t, size_t> kinds[] = {{16, 16}, {4, 40}};
  uint32_t seed = 20240611;
  for (const auto& [minLen, maxLen] : kinds) {
    size_t total = 0;
    for (const Part part : {Part::Query, Part::FormPassword, Part::Cookie, Part::JsonString}) {
      const size_t hits = flagged(part, minLen, maxLen, kPerPart, seed++);
      const double rate = 100.0 * static_cast<double>(hits) / kPerPart;
      std::printf("random %zu-%zu chars, part %d: %zu of %zu flagged (%.3f %%)\n", minLen, maxLen,
                  static_cast<int>(part), hits, kPerPart, rate);
      EXPECT_LE(rate, kMaxPartRate) << "part " << static_cast<int>(part);
      total += hits;
    }
    const double rate = 100.0 * static_cast<double>(total) / (4 * kPerPart);
    std::printf("random %zu-%zu chars: %zu of %zu flagged (%.3f %%)\n", minLen, maxLen, total,
                4 * kPerPart, rate);
    EXPECT_LE(rate, kMaxRate) << minLen << "-" << maxLen << " chars";
  }
}

} // namespace
} // namespace bulwark::detect

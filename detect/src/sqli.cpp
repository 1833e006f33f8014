#include <array>
#include <cstddef>
#include <string>

#include "detectors.h"

namespace bulwark::detect::internal {
namespace {

enum class T : uint8_t {
  Str,
  Num,
  Word,
  Op,
  Cmp,
  Logic,
  LParen,
  RParen,
  Comma,
  Semi,
  Comment,
  Var,
  Other
};

// Word classes (only the ones the grammar cares about).
enum class K : uint8_t {
  None,
  Union,
  Select,
  From,
  Stmt,
  Value,
  All,
  Order,
  By,
  Clause,
  Into,
  Not,
  Where,
  SetOp
};

struct Tok {
  T type;
  K kw = K::None;
  std::string_view text;
};

constexpr size_t kMaxTokens = 128;

struct Word {
  std::string_view w;
  T type;
  K kw;
};

constexpr std::array<Word, 47> kWords{{
    {"union", T::Word, K::Union},
    {"except", T::Word, K::SetOp},
    {"intersect", T::Word, K::SetOp},
    {"minus", T::Word, K::SetOp},
    {"select", T::Word, K::Select},
    {"from", T::Word, K::From},
    {"where", T::Word, K::Where},
    {"and", T::Logic, K::None},
    {"or", T::Logic, K::None},
    {"xor", T::Logic, K::None},
    {"not", T::Op, K::Not},
    {"like", T::Cmp, K::None},
    {"rlike", T::Cmp, K::None},
    {"regexp", T::Cmp, K::None},
    {"is", T::Cmp, K::None},
    {"in", T::Cmp, K::None},
    {"between", T::Cmp, K::None},
    {"sounds", T::Cmp, K::None},
    {"glob", T::Cmp, K::None},
    {"mod", T::Op, K::None},
    {"null", T::Num, K::Value},
    {"true", T::Num, K::Value},
    {"false", T::Num, K::Value},
    {"all", T::Word, K::All},
    {"distinct", T::Word, K::All},
    {"order", T::Word, K::Order},
    {"group", T::Word, K::Order},
    {"by", T::Word, K::By},
    {"having", T::Word, K::Clause},
    {"procedure", T::Word, K::Clause},
    {"limit", T::Word, K::Clause},
    {"into", T::Word, K::Into},
    {"insert", T::Word, K::Stmt},
    {"update", T::Word, K::Stmt},
    {"delete", T::Word, K::Stmt},
    {"drop", T::Word, K::Stmt},
    {"create", T::Word, K::Stmt},
    {"alter", T::Word, K::Stmt},
    {"exec", T::Word, K::Stmt},
    {"execute", T::Word, K::Stmt},
    {"truncate", T::Word, K::Stmt},
    {"declare", T::Word, K::Stmt},
    {"shutdown", T::Word, K::Stmt},
    {"waitfor", T::Word, K::Stmt},
    {"grant", T::Word, K::Stmt},
    {"rename", T::Word, K::Stmt},
    {"handler", T::Word, K::Stmt},
}};

// Functions that only SQL (and SQL injection) use.
constexpr std::array<std::string_view, 38> kSqlFunctions{{
    "sleep",
    "benchmark",
    "pg_sleep",
    "load_file",
    "extractvalue",
    "updatexml",
    "group_concat",
    "concat_ws",
    "make_set",
    "elt",
    "utl_inaddr.get_host_address",
    "utl_http.request",
    "dbms_pipe.receive_message",
    "dbms_lock.sleep",
    "ctxsys.drithsx.sn",
    "xp_cmdshell",
    "sp_executesql",
    "sp_oacreate",
    "openrowset",
    "opendatasource",
    "pg_read_file",
    "lo_import",
    "version",
    "database",
    "user",
    "current_user",
    "system_user",
    "schema",
    "@@version",
    "char",
    "chr",
    "ascii",
    "ord",
    "hex",
    "unhex",
    "substring",
    "substr",
    "mid",
}};

bool isWordChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
         (c >= 0x80 && c != 0xA0);
}

bool isSpaceLike(unsigned char c) { return c <= ' ' || c == 0xA0 || c == 0x7F; }

bool keyword(std::string_view w) {
  for (const auto& k : kWords) {
    if (k.w == w) {
      return k.kw != K::None;
    }
  }
  return false;
}

class Lexer {
public:
  explicit Lexer(std::string_view s) : s_(s) {}

  size_t run(Tok* out, size_t max) {
    size_t n = 0;
    while (n < max) {
      skip();
      if (pos_ >= s_.size()) {
        break;
      }
      out[n++] = next();
      if (out[n - 1].type == T::Comment) {
        // "--" and "#" run to the end of the line; keep lexing what follows a newline.
        continue;
      }
    }
    return n;
  }

private:
  void skip() {
    while (pos_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (isSpaceLike(c)) {
        ++pos_;
        continue;
      }
      // "1+union+select": a '+' glued to a word is a space that was encoded twice.
      if (c == '+' && pos_ + 1 < s_.size() &&
          ((s_[pos_ + 1] >= 'a' && s_[pos_ + 1] <= 'z') ||
           (pos_ > 0 && s_[pos_ - 1] >= 'a' && s_[pos_ - 1] <= 'z'))) {
        ++pos_;
        continue;
      }
      // Inline comments are whitespace; MySQL "/*!50000 ... */" executes its content.
      if (c == '/' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '*') {
        const size_t end = s_.find("*/", pos_ + 2);
        if (pos_ + 2 < s_.size() && s_[pos_ + 2] == '!') {
          size_t i = pos_ + 3;
          while (i < s_.size() && i < end && s_[i] >= '0' && s_[i] <= '9') {
            ++i;
          }
          // Lex the content: drop the "*/" by remembering it; simplest is to skip the opener
          // and let the closer be skipped when reached.
          pos_ = i;
          pendingClose_ = end;
          continue;
        }
        if (end == std::string_view::npos) {
          return; // unterminated: lexed as a comment token
        }
        pos_ = end + 2;
        continue;
      }
      if (pendingClose_ != std::string_view::npos && pos_ == pendingClose_) {
        pos_ += 2;
        pendingClose_ = std::string_view::npos;
        continue;
      }
      return;
    }
  }

  Tok next() {
    const size_t start = pos_;
    const unsigned char c = static_cast<unsigned char>(s_[pos_]);
    auto tok = [&](T t, size_t len) {
      pos_ = start + len;
      return Tok{t, K::None, s_.substr(start, len)};
    };
    if (c == '\'' || c == '"' || c == '`') {
      const size_t end = s_.find(static_cast<char>(c), pos_ + 1);
      const size_t len = end == std::string_view::npos ? s_.size() - start : end - start + 1;
      if (c == '`') {
        Tok t = tok(T::Word, len);
        t.text = s_.substr(start + 1, end == std::string_view::npos ? len - 1 : len - 2);
        return t;
      }
      return tok(T::Str, len);
    }
    if (c == '#' || (c == '-' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '-')) {
      const size_t nl = s_.find('\n', pos_);
      if (nl != std::string_view::npos && nl + 1 < s_.size()) {
        pos_ = nl + 1; // a line comment followed by more SQL is whitespace
        skip();
        if (pos_ >= s_.size()) {
          return tok(T::Comment, 0);
        }
        return next();
      }
      return tok(T::Comment, s_.size() - start);
    }
    if (c == '/' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '*') {
      return tok(T::Comment, s_.size() - start); // unterminated comment eats the rest
    }
    if ((c >= '0' && c <= '9') ||
        (c == '.' && pos_ + 1 < s_.size() && s_[pos_ + 1] >= '0' && s_[pos_ + 1] <= '9')) {
      size_t i = pos_;
      if (c == '0' && i + 1 < s_.size() && (s_[i + 1] == 'x' || s_[i + 1] == 'b')) {
        i += 2;
        while (i < s_.size() &&
               ((s_[i] >= '0' && s_[i] <= '9') || (s_[i] >= 'a' && s_[i] <= 'f'))) {
          ++i;
        }
        return tok(T::Num, i - start);
      }
      while (i < s_.size() && ((s_[i] >= '0' && s_[i] <= '9') || s_[i] == '.')) {
        ++i;
      }
      if (i + 1 < s_.size() && s_[i] == 'e' &&
          ((s_[i + 1] >= '0' && s_[i + 1] <= '9') || s_[i + 1] == '+' || s_[i + 1] == '-')) {
        i += 2;
        while (i < s_.size() && s_[i] >= '0' && s_[i] <= '9') {
          ++i;
        }
      }
      return tok(T::Num, i - start);
    }
    if (c == '@') {
      size_t i = pos_ + 1;
      if (i < s_.size() && s_[i] == '@') {
        ++i;
      }
      while (i < s_.size() && (isWordChar(static_cast<unsigned char>(s_[i])) || s_[i] == '.')) {
        ++i;
      }
      return tok(T::Var, i - start);
    }
    if (isWordChar(c)) {
      size_t i = pos_;
      while (i < s_.size() && (isWordChar(static_cast<unsigned char>(s_[i])) ||
                               (s_[i] == '.' && i + 1 < s_.size() &&
                                isWordChar(static_cast<unsigned char>(s_[i + 1]))))) {
        // "select.1": a keyword followed by a decimal (MySQL reads ".1" as a number)
        if (s_[i] == '.' && s_[i + 1] >= '0' && s_[i + 1] <= '9' && keyword(s_.substr(start, i - start))) {
          break;
        }
        ++i;
      }
      Tok t = tok(T::Word, i - start);
      for (const auto& w : kWords) {
        if (w.w == t.text) {
          t.type = w.type;
          t.kw = w.kw;
          break;
        }
      }
      return t;
    }
    switch (c) {
    case '(':
      return tok(T::LParen, 1);
    case ')':
      return tok(T::RParen, 1);
    case ',':
      return tok(T::Comma, 1);
    case ';':
      return tok(T::Semi, 1);
    default:
      break;
    }
    // Operators: longest match among the two/three-character ones.
    const std::string_view rest = s_.substr(pos_);
    for (const std::string_view op : {"<=>", "||", "&&"}) {
      if (rest.starts_with(op)) {
        return tok(op == "<=>" ? T::Cmp : T::Logic, op.size());
      }
    }
    for (const std::string_view op : {"<=", ">=", "<>", "!=", "==", "=", "<", ">"}) {
      if (rest.starts_with(op)) {
        return tok(T::Cmp, op.size());
      }
    }
    for (const std::string_view op :
         {"::", ":=", "+", "-", "*", "/", "%", "^", "|", "&", "~", "!"}) {
      if (rest.starts_with(op)) {
        return tok(T::Op, op.size());
      }
    }
    return tok(T::Other, 1);
  }

  std::string_view s_;
  size_t pos_ = 0;
  size_t pendingClose_ = std::string_view::npos;
};

// Server variables an injection reads with @@name (MySQL, SQL Server), optionally scoped
// (@@global.x). Names of the form word_word (@@secure_file_priv, @@version_compile_os) are
// system variables too; a few random letters after "@@" (a password, a token) are not.
constexpr auto kSystemVariables = std::to_array<std::string_view>({
    "version",    "datadir",  "basedir",   "hostname",  "servername", "servicename",
    "microsoftversion",       "spid",      "language",  "langid",     "identity",
    "rowcount",   "error",    "tmpdir",    "port",      "socket",     "trancount",
    "fetch_status",           "procid",    "textsize",  "options",    "dbts",
    "connections", "cpu_busy", "io_busy",  "nestlevel", "remserver",  "autocommit",
    "license",    "warning_count",         "error_count",             "sql_mode",
});

bool systemVariable(std::string_view name) {
  for (const std::string_view scope : {"global.", "session.", "local."}) {
    if (name.starts_with(scope)) {
      name.remove_prefix(scope.size());
      break;
    }
  }
  if (name.empty() || name[0] < 'a' || name[0] > 'z') {
    return false;
  }
  for (const auto v : kSystemVariables) {
    if (v == name) {
      return true;
    }
  }
  if (name.size() < 6 || name.find('_') == std::string_view::npos) {
    return false;
  }
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

bool isSqlFunction(std::string_view w) {
  for (const auto f : kSqlFunctions) {
    if (f == w) {
      return true;
    }
  }
  return w.starts_with("dbms_") || w.starts_with("utl_") || w.starts_with("xp_");
}

class Grammar {
public:
  Grammar(const Tok* t, size_t n, size_t synthetic = npos) : t_(t), n_(n), synthetic_(synthetic) {}

  bool is(size_t i, T type) const { return i < n_ && t_[i].type == type; }
  bool kw(size_t i, K k) const { return i < n_ && t_[i].kw == k; }

  // Tokens [from, to) are closed operands: brackets balance and every string literal is closed
  // (the one the application's quote closes counts); an unterminated string or group is a
  // syntax error. A group opened as the value's last token is a fragment left open
  // ("length||(", "and("), which the grammar still reads.
  bool wellFormed(size_t from, size_t to) const {
    int depth = 0;
    for (size_t k = from; k < to && k < n_; ++k) {
      const Tok& t = t_[k];
      if (t.type == T::LParen) {
        ++depth;
      } else if (t.type == T::RParen && --depth < 0) {
        return false;
      } else if (t.type == T::Str && k != synthetic_ &&
                 (t.text.size() < 2 || t.text.back() != t.text.front())) {
        return false;
      }
    }
    return depth == 0 || (to >= n_ && n_ > 0 && t_[n_ - 1].type == T::LParen);
  }

  // The operands of an operator expression right after a breakout mean something: no
  // one-letter names ("'&8-q#"), and a string literal that the application's quote closes is
  // empty after an arithmetic operator ("'-'", "'^'") or a plain word after a comparison
  // ("1'='1", "'like'%"); "x'^'0\"4e>=..." is a string of random text.
  bool plainOperands(size_t from, size_t to) const {
    int depth = 0;
    for (size_t k = from; k < to && k < n_; ++k) {
      depth += t_[k].type == T::LParen ? 1 : (t_[k].type == T::RParen ? -1 : 0);
      if (depth == 0 && t_[k].type == T::Word && t_[k].kw == K::None &&
          t_[k].text.size() == 1 && !is(k + 1, T::LParen)) {
        return false;
      }
    }
    if (to < n_ || to < 2 || to - 1 < from || t_[to - 1].type != T::Str) {
      return true;
    }
    const std::string_view lit = t_[to - 1].text.substr(1, t_[to - 1].text.size() - 2);
    if (t_[to - 2].type != T::Cmp) {
      return lit.empty();
    }
    for (const char c : lit) {
      if (!(isWordChar(static_cast<unsigned char>(c)) || c == ' ' || c == '.' || c == '-' ||
            c == '%')) {
        return false;
      }
    }
    return true;
  }

  // The rest of an expression after an operand: (operator operand)*; npos when an operator
  // lacks its operand.
  size_t expressionRest(size_t j) const {
    while (j != npos && j < n_ && (is(j, T::Cmp) || (is(j, T::Op) && t_[j].text != "!"))) {
      bool strong = false;
      j = j + 1 != synthetic_ ? value(j + 1, strong) : npos;
    }
    return j;
  }

  // Where an injected expression may stop: the end of the value (the application's closing
  // quote taken into a string literal), a comment, ';' with nothing or a statement after it, or
  // a boolean joining another expression that ends the same way. The application's quote right
  // after an operand, or a word, literal or bracket glued to it, is a syntax error.
  bool endsClean(size_t j, int depth = 0) const {
    if (j == npos) {
      return false;
    }
    while (is(j, T::RParen)) {
      ++j;
    }
    if (j >= n_) {
      return true;
    }
    if (j == synthetic_) {
      return false;
    }
    if (is(j, T::Comment)) {
      return true;
    }
    if (is(j, T::Semi)) {
      return j + 1 >= n_ || is(j + 1, T::Comment) || stacked(j + 1);
    }
    if (is(j, T::Logic) && depth < 8) {
      bool strong = false;
      const size_t k = j + 1 != synthetic_ ? value(j + 1, strong) : npos;
      return k != npos && endsClean(expressionRest(k), depth + 1);
    }
    return false;
  }

  // A quote closed and the rest commented out ("admin'--", "admin')#", "x' /*"): the text
  // before the quote is a literal a form would hold (a name, a number, an address: letters,
  // digits, spaces and "_.@+-"), and the comment opens the end of the value or is followed by
  // a blank ("'-- -"). Random text that holds "'#" somewhere inside is data.
  bool plausibleLiteral() const {
    if (n_ == 0 || t_[0].type != T::Str || t_[0].text.empty()) {
      return false;
    }
    std::string_view literal = t_[0].text;
    literal.remove_suffix(1); // the breakout quote
    for (const char c : literal) {
      if (!(isWordChar(static_cast<unsigned char>(c)) || c == ' ' || c == '.' || c == '@' ||
            c == '+' || c == '-')) {
        return false;
      }
    }
    return true;
  }

  bool commentBreakout(std::string_view comment) const {
    if (!plausibleLiteral()) {
      return false;
    }
    const size_t marker = comment.starts_with("#") ? 1 : 2;
    if (comment.size() < marker) {
      return false;
    }
    std::string_view after = comment.substr(marker);
    if (!after.empty() && (after.back() == '\'' || after.back() == '"')) {
      after.remove_suffix(1); // the application's closing quote
    }
    return after.empty() || isSpaceLike(static_cast<unsigned char>(after[0]));
  }

  // Skips a balanced (...) group starting at i (t_[i] is '('); returns the index after it.
  size_t skipGroup(size_t i) const {
    int depth = 0;
    for (; i < n_; ++i) {
      if (t_[i].type == T::LParen) {
        ++depth;
      } else if (t_[i].type == T::RParen && --depth == 0) {
        return i + 1;
      }
    }
    return n_;
  }

  // A value: literal, variable, identifier, function call, group, unary op + value.
  // Returns the index after it or npos; strong is set for literals, calls, groups, variables.
  size_t value(size_t i, bool& strong) const {
    strong = false;
    if (i >= n_) {
      return npos;
    }
    const Tok& t = t_[i];
    if (t.type == T::Op &&
        (t.text == "-" || t.text == "+" || t.text == "!" || t.text == "~" || t.kw == K::Not)) {
      return value(i + 1, strong);
    }
    if (t.type == T::Num || t.type == T::Str || t.type == T::Var) {
      strong = t.type != T::Var || t.text.starts_with("@@");
      return i + 1;
    }
    if (t.type == T::LParen) {
      strong = true;
      return skipGroup(i);
    }
    if (t.type == T::Word && t.text == "case" && is(i + 1, T::Word) && t_[i + 1].text == "when") {
      // CASE WHEN c THEN r [ELSE e] END: a value; strong once WHEN, THEN and END are there
      bool then = false;
      for (size_t k = i + 2; k < n_; ++k) {
        then |= t_[k].text == "then";
        if (t_[k].text == "end") {
          strong = then;
          return then ? k + 1 : npos;
        }
        if (t_[k].text == "case" || is(k, T::Semi)) {
          break;
        }
      }
      return npos;
    }
    // SQLite's like(x, y) / glob(x, y) and MySQL's regexp_like(...): an operator word written as
    // a call is a function call.
    if (t.type == T::Cmp && is(i + 1, T::LParen) && t.text.size() > 2 && t.text[0] >= 'a' &&
        t.text[0] <= 'z' && t.text != "in") {
      strong = true;
      return skipGroup(i + 1);
    }
    if (t.type == T::Word && (t.kw == K::None || t.kw == K::Where)) {
      if (is(i + 1, T::LParen)) {
        strong = true;
        return skipGroup(i + 1);
      }
      return i + 1;
    }
    if (t.kw == K::Select) { // "or (select ...)" without parens in some dialects
      strong = true;
      return i + 1;
    }
    return npos;
  }

  // What ends an injected expression that the attacker wrote to the end: a comment, ';', or
  // a boolean joining the next condition (not the end of the value alone: prose ends there).
  bool closes(size_t j) const {
    return j < n_ && j != synthetic_ &&
           (is(j, T::Comment) || is(j, T::Semi) || is(j, T::Logic));
  }

  bool terminal(size_t j) const {
    return j >= n_ || is(j, T::Comment) || is(j, T::Semi) || is(j, T::Logic) || is(j, T::RParen);
  }

  // After AND/OR: a comparison or a lone literal/call that ends the statement.
  bool logicTail(size_t i, bool strict, bool closed = false) const {
    // "') or ('1'='1' --": the attacker opens a group for the application's ")" to close and
    // then comments the rest out; the condition inside the open group is the injection.
    if (closed && is(i, T::LParen) && skipGroup(i) >= n_ && n_ > 1 && is(n_ - 1, T::Comment)) {
      size_t k = i + 1;
      while (is(k, T::LParen)) {
        ++k;
      }
      return wellFormed(k, n_ - 1) && closedByComment(k, true);
    }
    bool strong = false;
    const size_t j = value(i, strong);
    if (j == npos || (closed && !wellFormed(i, j))) {
      return false;
    }
    if (is(j, T::Cmp) || (is(j, T::Op) && t_[j].text != "!")) {
      bool strong2 = false;
      const size_t k = value(j + 1, strong2);
      if (k == npos || (closed && !wellFormed(j + 1, k))) {
        return false;
      }
      if (!strict) {
        return true;
      }
      return (strong || strong2) && (terminal(k) || is(k, T::Cmp) || is(k, T::Op));
    }
    if (strong) {
      return terminal(j) || (!strict && t_[i].type == T::Str && i != synthetic_);
    }
    return !strict && (j >= n_ || is(j, T::Comment));
  }

  // value [comparison value] followed by a comment that ends the value; with needCompare, a
  // comparison with a literal or call on one side ("'1'='1' --", "1=1#").
  bool closedByComment(size_t i, bool needCompare = false) const {
    bool strong = false;
    size_t j = value(i, strong);
    if (j == npos) {
      return false;
    }
    if (is(j, T::Cmp)) {
      bool strong2 = false;
      j = value(j + 1, strong2);
      if (j == npos) {
        return false;
      }
      strong = strong || strong2;
    } else if (needCompare) {
      return false;
    }
    return j + 1 == n_ && is(j, T::Comment) && (!needCompare || strong);
  }

  // What may follow a value that the attacker closed (a string breakout or a leading number).
  uint32_t afterBreakout(size_t i, bool strict) const {
    while (is(i, T::RParen)) {
      ++i;
    }
    if (i >= n_) {
      return 0;
    }
    const Tok& t = t_[i];
    if (t.type == T::Comment && !strict && commentBreakout(t.text)) {
      return 1003; // ' --  ' #  ' /*
    }
    if (t.type == T::Logic && logicTail(i + 1, strict, true)) {
      return 1001; // ' or 1=1
    }
    if (!strict && i + 1 < n_ &&
        ((t.type == T::Cmp && t.text != "is" && t.text.size() > 2 && t.text[0] >= 'a' &&
          t.text[0] <= 'z') ||
         (t.kw == K::Not && t_[i + 1].type == T::Cmp) ||
         (t.text == "is" && (t_[i + 1].kw == K::Not || t_[i + 1].text == "null") &&
          (terminal(i + 2) || is(i + 2, T::Op))))) {
      return 1002; // ' like ...  ' not in (...  ' is not ...
    }
    if (!strict && (t.type == T::Cmp || (t.type == T::Op && t.text != "!"))) {
      bool strong = false;
      // The quote the application adds after the value does not count as an operand, and the
      // expression must parse to its end: "'<4bm18o^h" (a literal glued to a word) is data.
      const size_t j = i + 1 != synthetic_ ? value(i + 1, strong) : npos;
      const size_t e = j != npos && strong && j - 1 != synthetic_ ? expressionRest(j) : npos;
      size_t c = e;
      while (is(c, T::RParen)) {
        ++c;
      }
      // Commented out after the expression ("1'-0#"): a breakout of a literal, as with 1003.
      if (e != npos && wellFormed(i + 1, e) && plainOperands(i + 1, e) && endsClean(e) &&
          (!is(c, T::Comment) || plausibleLiteral()) && !proseOperand(i + 1) &&
          !proseAfter(j)) {
        return 1002; // '='  '||(select ...)||'
      }
    }
    if (!strict && t.type == T::Word && (t.text == "notnull" || t.text == "isnull") &&
        closes(i + 1)) {
      return 1002; // ' notnull --
    }
    if (!strict && t.type == T::Word && t.text == "collate") {
      // ' collate nocase--   ' collate `utf8mb4_bin`--   ' collate u&"..."--
      size_t j = i + 1;
      if (j + 1 < n_ && t_[j].text == "u" && t_[j + 1].text == "&") {
        j += 2;
      }
      if (is(j, T::Word) || is(j, T::Str)) {
        if (closes(j + 1)) {
          return 1002;
        }
      }
    }
    if (t.type == T::Semi && stacked(i + 1)) {
      return 1004;
    }
    if ((t.kw == K::Union || t.kw == K::SetOp) && setOperation(i)) {
      return 1005;
    }
    if (waitforDelay(i)) {
      return 1004; // 1 waitfor delay '0:0:5'-- (T-SQL needs no ';' between statements)
    }
    // (a WHERE that no condition follows is a word of a sentence: "where is my order",
    // "\"where in\" clauses in LINQ", "where can i find the form")
    if (!strict && t.kw == K::Where &&
        !(i + 1 >= n_ || is(i + 1, T::Cmp) || is(i + 1, T::Logic) || wordsOnly(i + 1))) {
      return 1013; // ' where ...
    }
    if (!strict && t.kw == K::Stmt && stacked(i)) {
      return 1013; // ' delete from ...
    }
    if (t.kw == K::Order && kw(i + 1, K::By) && (is(i + 2, T::Num) || !strict)) {
      return 1006; // ' order by 5--
    }
    // (LIMIT takes a row count: '" limit ":"' in a JSON document read as one string is data)
    if (t.kw == K::Clause && (t.text != "limit" || is(i + 1, T::Num)) &&
        (!strict || (t.text == "having" && logicTail(i + 1, true)))) {
      return 1006;
    }
    if (t.kw == K::Into && i + 1 < n_ &&
        (t_[i + 1].text == "outfile" || t_[i + 1].text == "dumpfile")) {
      return 1007;
    }
    return 0;
  }

  // The operand is the string the application closes, holding words ("token '<', \"<!doctype
  // \"... is not valid json"): a symbol quoted in a sentence, not a comparison an attacker
  // completes ('=' and '||' leave that string empty or one word).
  bool proseOperand(size_t i) const {
    if (i + 1 != n_ || !is(i, T::Str) || synthetic_ != npos) {
      return false;
    }
    const std::string_view s = t_[i].text;
    return s.find(' ') != std::string_view::npos && s.find(' ') != s.rfind(' ');
  }

  // Past the expression, words follow words ("5'9\" / 160lbs and the m was tight"): no SQL
  // parses there (after a value at most one alias name may follow).
  bool proseAfter(size_t k) const {
    for (size_t j = k; j + 1 < n_; ++j) {
      if (is(j, T::Word) && t_[j].kw == K::None && is(j + 1, T::Word) && t_[j + 1].kw == K::None &&
          j + 2 < n_ && is(j + 2, T::Word) && t_[j + 2].kw == K::None) {
        return true;
      }
      if (is(j, T::Comment) || is(j, T::Semi)) {
        return false;
      }
    }
    return false;
  }

  // Only words follow, three of them in a row, no operator, call, literal or comment: a
  // sentence ("where can i find the form"), no condition.
  bool wordsOnly(size_t k) const {
    for (size_t j = k; j < n_; ++j) {
      if (!is(j, T::Word)) {
        return false;
      }
    }
    return proseAfter(k);
  }

  // VALUES (literal, ...): a row constructor (VALUES lists, UNION VALUES, INSERT ... VALUES).
  bool valuesRow(size_t j) const {
    if (j >= n_ || (t_[j].text != "values" && t_[j].text != "value") || !is(j + 1, T::LParen)) {
      return false;
    }
    size_t k = j + 2;
    for (;;) {
      bool strong = false;
      const size_t e = value(k, strong);
      if (e == npos || !strong) {
        return false;
      }
      if (is(e, T::RParen)) {
        return true;
      }
      if (!is(e, T::Comma)) {
        return false;
      }
      k = e + 1;
    }
  }

  // A set operation joining a second query: UNION [ALL] SELECT ..., and EXCEPT / INTERSECT /
  // MINUS, which are also English words, only with a SQL select list or a VALUES row after
  // them ("except select.1,2", "intersect values(1,2)", not "all except select few").
  bool setOperation(size_t i) const {
    size_t j = i + 1;
    if (kw(j, K::All)) {
      ++j;
    }
    while (is(j, T::LParen)) {
      ++j;
    }
    if (kw(j, K::Select)) {
      return t_[i].kw == K::Union || selectList(j + 1);
    }
    return valuesRow(j);
  }

  // WAITFOR DELAY|TIME '<string>' after an operand: a T-SQL statement appended to the
  // application's without a ';'; the statement must end there (comment, ';', end).
  bool waitforDelay(size_t i) const {
    return i < n_ && t_[i].kw == K::Stmt && t_[i].text == "waitfor" && i + 2 < n_ &&
           (t_[i + 1].text == "delay" || t_[i + 1].text == "time") && is(i + 2, T::Str) &&
           (i + 3 >= n_ || is(i + 3, T::Comment) || is(i + 3, T::Semi));
  }

  // INSERT/REPLACE [INTO] name [(columns)] VALUES (...) | SELECT ... | SET col = ...
  bool insertShape(size_t j) const {
    if (kw(j, K::Into)) {
      ++j;
    }
    if (!is(j, T::Word) || t_[j].kw != K::None) {
      return false;
    }
    ++j;
    if (is(j, T::LParen)) {
      j = skipGroup(j);
    }
    if (valuesRow(j)) {
      return true;
    }
    if (kw(j, K::Select)) {
      return selectList(j + 1);
    }
    return j < n_ && t_[j].text == "set" && is(j + 1, T::Word) && is(j + 2, T::Cmp) &&
           t_[j + 2].text == "=";
  }

  // Statement after ';' with enough grammar to tell it from English.
  bool stacked(size_t i) const {
    if (i >= n_) {
      return false;
    }
    const Tok& t = t_[i];
    if (t.kw == K::Select) {
      return selectList(i + 1);
    }
    if (t.text == "replace" && !is(i + 1, T::LParen)) {
      return insertShape(i + 1); // MySQL/SQLite REPLACE [INTO] t (...) VALUES (...)
    }
    if (t.kw != K::Stmt) {
      return false;
    }
    const std::string_view w = t.text;
    const std::string_view a = i + 1 < n_ ? t_[i + 1].text : std::string_view{};
    if (w == "drop" || w == "create" || w == "alter" || w == "truncate" || w == "rename") {
      const bool object = a == "table" || a == "database" || a == "user" || a == "procedure" ||
                          a == "function" || a == "view" || a == "index" || a == "schema" ||
                          a == "login" || a == "trigger";
      // "drop table users", not "create table of contents": one name, then the end.
      return object && is(i + 2, T::Word) &&
             (i + 3 >= n_ || is(i + 3, T::LParen) || is(i + 3, T::Semi) || is(i + 3, T::Comment) ||
              (w == "alter" && i + 3 < n_));
    }
    if (w == "grant") {
      for (size_t k = i + 1; k < n_ && k < i + 6; ++k) {
        if (t_[k].text == "to" || t_[k].text == "on") {
          return true;
        }
      }
      return false;
    }
    if (w == "insert") {
      return kw(i + 1, K::Into) || insertShape(i + 1);
    }
    if (w == "delete") {
      return kw(i + 1, K::From);
    }
    if (w == "update") {
      return i + 2 < n_ && t_[i + 2].text == "set";
    }
    if (w == "exec" || w == "execute") {
      if (i + 1 >= n_) {
        return false;
      }
      const Tok& x = t_[i + 1];
      return (x.type == T::LParen && (is(i + 2, T::Var) || is(i + 2, T::Str))) ||
             x.type == T::Var ||
             (x.type == T::Word &&
              (x.text.find('.') != std::string_view::npos || x.text.starts_with("xp_") ||
               x.text.starts_with("sp_") || x.text == "master" || is(i + 2, T::Other)));
    }
    if (w == "shutdown") {
      return terminal(i + 1);
    }
    if (w == "declare") {
      return is(i + 1, T::Var);
    }
    if (w == "waitfor") {
      return a == "delay" || a == "time";
    }
    return false;
  }

  // SELECT <list> that is SQL and not English: literals, *, calls, variables, or identifiers
  // followed by ',' / FROM.
  bool selectList(size_t i) const {
    if (kw(i, K::All)) {
      ++i;
    }
    if (i >= n_) {
      return false;
    }
    const Tok& t = t_[i];
    if (t.type == T::Num || t.type == T::Str || t.type == T::Var || t.text == "*" ||
        (t.type == T::Word && is(i + 1, T::LParen)) || t.text == "top") {
      return true;
    }
    // "(select case when (1=1) then name else price end)": a conditional column, the ORDER BY
    // form of a boolean-blind injection
    if (t.text == "case" && i + 1 < n_ && t_[i + 1].text == "when") {
      return true;
    }
    if (t.type == T::Word && (is(i + 1, T::Comma) || kw(i + 1, K::From))) {
      return true;
    }
    return false;
  }

  // Checks that hold anywhere in the value.
  uint32_t anywhere() const {
    for (size_t i = 0; i < n_; ++i) {
      const Tok& t = t_[i];
      if ((t.kw == K::Union || t.kw == K::SetOp) && setOperation(i)) {
        return 1005;
      }
      if (i > 0 && waitforDelay(i) &&
          (t_[i - 1].type == T::Num || t_[i - 1].type == T::Str || t_[i - 1].type == T::RParen ||
           (t_[i - 1].type == T::Word && t_[i - 1].kw == K::None))) {
        return 1004; // "...q=testing-1 waitfor delay '0:0:15' --"
      }
      if (t.type == T::Semi && stacked(i + 1)) {
        return 1004;
      }
      if (t.type == T::LParen && kw(i + 1, K::Select) && selectList(i + 2)) {
        return 1008; // subquery
      }
      if (t.type == T::Word && is(i + 1, T::LParen) && isSqlFunction(t.text)) {
        // sleep(5), benchmark(...), extractvalue(...): need SQL around (an operator, a keyword,
        // a breakout) or an argument that is a number / nested call.
        const bool argNumeric = is(i + 2, T::Num) || is(i + 2, T::Var) ||
                                (is(i + 2, T::Word) && is(i + 3, T::LParen)) ||
                                kw(i + 2, K::Select);
        const bool context = i > 0 && (t_[i - 1].type == T::Logic || t_[i - 1].type == T::Cmp ||
                                       t_[i - 1].type == T::Op || t_[i - 1].kw == K::Select ||
                                       t_[i - 1].type == T::Comma || t_[i - 1].type == T::Str ||
                                       t_[i - 1].type == T::Semi || t_[i - 1].type == T::LParen);
        if ((t.text == "sleep" || t.text == "pg_sleep" || t.text == "benchmark") && argNumeric) {
          return 1009;
        }
        if (argNumeric && context) {
          return 1009;
        }
        if (t.text.size() > 6 && t.text != "version" && t.text != "database" &&
            t.text != "substring" && t.text != "current_user" && t.text != "system_user") {
          return 1009; // long SQL-only names (extractvalue, load_file, ...)
        }
      }
      if (t.type == T::Logic && i + 3 < n_ + 0) {
        // or 1=1, and 'a'='a': a literal comparison of equal literals anywhere.
        const Tok& a = t_[i + 1];
        const Tok& op = t_[i + 2];
        const Tok& b = t_[i + 3];
        if ((a.type == T::Num || a.type == T::Str) && op.type == T::Cmp &&
            (b.type == T::Num || b.type == T::Str) &&
            (op.text == "=" || op.text == "like" ||
             (a.text == b.text && (op.text == "<>" || op.text == "!=" || op.text == "is")))) {
          // ("is" compares two literals only in SQLite, as a tautology: "and 1 is 1"; "the sum
          // of 1 and 2 is 3" is a sentence)
          return 1010;
        }
      }
      if ((t.type == T::RParen || t.type == T::Num) && i + 3 < n_ && t_[i + 1].text == "as" &&
          (t_[i + 2].type == T::Word || t_[i + 2].type == T::Str) && t_[i + 3].kw == K::From) {
        return 1018; // ") as alias from": the tail of a select list
      }
      if (t.type == T::Op && t.text == "::" && i + 1 < n_ && t_[i + 1].type == T::Word) {
        const std::string_view ty = t_[i + 1].text;
        if (ty == "int" || ty == "integer" || ty == "text" || ty == "json" || ty == "jsonb" ||
            ty == "varchar" || ty == "bigint" || ty == "numeric" || ty == "regclass" ||
            ty == "bool" || ty == "boolean" || ty == "bytea" || ty == "oid" || ty == "xml") {
          return 1016; // PostgreSQL cast
        }
      }
      if (t.type == T::Word &&
          (t.text == "xp_cmdshell" || t.text == "xp_regread" || t.text == "xp_dirtree" ||
           t.text == "sp_oacreate" || t.text == "sp_executesql" || t.text == "sp_makewebtask" ||
           t.text == "sp_addlogin" || t.text == "sp_password" || t.text == "sp_configure" ||
           t.text == "xp_fileexist" || t.text == "xp_servicecontrol")) {
        return 1012;
      }
      // @@version, @@datadir: a system variable name (not a diff hunk "@@ -1 +1 @@" or a
      // template placeholder "@@USER_ID@@")
      if (t.type == T::Var && t.text.size() > 2 && t.text.starts_with("@@") &&
          systemVariable(t.text.substr(2)) && !t.text.ends_with("@") &&
          !(i + 1 < n_ && t_[i + 1].text.starts_with("@"))) {
        return 1011;
      }
      if (t.type == T::Word &&
          (t.text.starts_with("information_schema") || t.text.starts_with("sysobjects") ||
           t.text.starts_with("sys.objects") || t.text.starts_with("pg_catalog") ||
           t.text.starts_with("mysql.user") || t.text.starts_with("master..") ||
           t.text.starts_with("sqlite_master") || t.text == "all_tables" ||
           t.text.starts_with("sys.all_tables"))) {
        return 1012;
      }
      if (t.kw == K::Stmt && t.text == "waitfor" && i + 2 < n_ &&
          (t_[i + 1].text == "delay" || t_[i + 1].text == "time") && is(i + 2, T::Str)) {
        return 1009;
      }
    }
    return 0;
  }

  static constexpr size_t npos = static_cast<size_t>(-1);

private:
  const Tok* t_;
  size_t n_;
  size_t synthetic_; // index of the closing quote the application would add, or npos
};

} // namespace

uint32_t detectSqliOnce(std::string_view low);

namespace {
// The quote at `at` follows an odd run of backslashes: inside a MySQL string it is data.
bool escapedByBackslash(std::string_view s, size_t at) {
  size_t n = 0;
  while (at > n && s[at - n - 1] == '\\') {
    ++n;
  }
  return n % 2 == 1;
}
} // namespace

uint32_t detectSqli(std::string_view low) {
  if (low.size() < 2) {
    return 0;
  }
  if (const uint32_t r = detectSqliOnce(low); r != 0) {
    return r;
  }
  // "un/**/ion sel/**/ect": evasion for WAFs that strip comments; join and look again.
  if (low.find("/**/") != std::string_view::npos) {
    std::string joined;
    for (size_t i = 0; i < low.size(); ++i) {
      if (low.compare(i, 4, "/**/") == 0) {
        i += 3;
        continue;
      }
      joined.push_back(low[i]);
    }
    return detectSqliOnce(joined);
  }
  return 0;
}

uint32_t detectSqliOnce(std::string_view low) {
  if (low.size() > 8192) {
    low = low.substr(0, 8192);
  }
  std::array<Tok, kMaxTokens> toks;
  // Context: the value as-is (numeric injection, and anywhere-checks).
  {
    const size_t n = Lexer(low).run(toks.data(), toks.size());
    Grammar g(toks.data(), n);
    if (const uint32_t r = g.anywhere(); r != 0) {
      return r;
    }
    size_t i = 0;
    // "name=value" that reached us whole (an encoded '='): the value starts after the '='.
    // Written without spaces, as a form encodes it: "issuetype = Bug AND ..." is a query in
    // the application's own filter language (JQL, a search DSL), not a parameter.
    if (n > 2 && toks[0].type == T::Word && toks[0].kw == K::None && toks[1].text == "=" &&
        toks[1].text.data() == toks[0].text.data() + toks[0].text.size() &&
        toks[2].text.data() == toks[1].text.data() + 1) {
      i = 2;
    }
    while (i < n && (toks[i].type == T::LParen || toks[i].type == T::Other ||
                     (toks[i].type == T::Op && toks[i].text == "/"))) {
      ++i;
    }
    if (i + 1 < n && toks[i].text == "procedure" && toks[i + 1].text == "analyse") {
      return 1006;
    }
    if (i < n && (toks[i].kw == K::Stmt || toks[i].text == "replace") && g.stacked(i)) {
      return 1004; // a statement as the whole value: "drop table users--", "declare @s ..."
    }
    if (i + 2 < n && toks[i].kw == K::Order && toks[i + 1].kw == K::By &&
        toks[i + 2].type == T::Num) {
      return 1006; // order by 3
    }
    if (i < n && toks[i].text == "having" && g.logicTail(i + 1, true)) {
      return 1006;
    }
    if (i < n && toks[i].type == T::Logic && g.logicTail(i + 1, true)) {
      // "or true--", "and 1=1#": the condition the attacker appends after the application's
      // operand, closed by a comment that drops the rest of the statement.
      if (g.closedByComment(i + 1)) {
        return 1001;
      }
      return 1015; // a fragment: "and 1=(", "or deleted = 0)"
    }
    if (i + 2 < n && toks[i].kw == K::Select && toks[i + 1].type == T::Word &&
        toks[i + 2].type == T::LParen) {
      return 1014; // select char(...
    }
    if (i < n && toks[i].kw == K::Select && g.selectList(i + 1)) {
      for (size_t k = i + 2; k + 1 < n; ++k) {
        if (toks[k].kw == K::From && toks[k + 1].type == T::Word) {
          return 1014; // a whole SELECT ... FROM t as the value
        }
      }
    }
    if (i < n && (toks[i].type == T::Num || toks[i].type == T::Var)) {
      if (const uint32_t r = g.afterBreakout(i + 1, true); r != 0) {
        return r;
      }
    } else if (i < n && toks[i].type == T::Word && toks[i].kw == K::None) {
      if (const uint32_t r = g.afterBreakout(i + 1, true); r != 0) {
        return r;
      }
    }
  }
  // Contexts: the value continues a string the application opened with ' or ". The quote
  // that closes it is the first one (an application that escapes quotes with a backslash but
  // not backslashes turns "\'" into "\\'": an escaped backslash and a closing quote), or,
  // where MySQL reads backslash escapes inside the string, the first quote that no backslash
  // escapes ("x\''or'1": the string holds "x'", the second quote closes it).
  for (int ctx = 0; ctx < 4; ++ctx) {
    const char q = ctx % 2 == 0 ? '\'' : '"';
    size_t at = low.find(q);
    if (at == std::string_view::npos) {
      continue;
    }
    if (ctx >= 2) {
      if (at == 0 || low[at - 1] != '\\') {
        continue; // the first quote is not escaped: the context above already read it
      }
      while (at != std::string_view::npos && escapedByBackslash(low, at)) {
        at = low.find(q, at + 1);
      }
      if (at == std::string_view::npos) {
        continue;
      }
    }
    // The application closes the string after the value: lex "rest" + the quote.
    thread_local std::string rest;
    rest.assign(low.substr(at + 1));
    rest.push_back(q);
    toks[0] = Tok{T::Str, K::None, low.substr(0, at + 1)};
    const size_t n = 1 + Lexer(rest).run(toks.data() + 1, toks.size() - 1);
    const bool synth = n > 1 && toks[n - 1].type == T::Str && toks[n - 1].text.size() == 1;
    Grammar g(toks.data(), n, synth ? n - 1 : Grammar::npos);
    if (const uint32_t r = g.afterBreakout(1, false); r != 0) {
      return r;
    }
    if (const uint32_t r = g.anywhere(); r != 0) {
      return r;
    }
  }
  return 0;
}

} // namespace bulwark::detect::internal

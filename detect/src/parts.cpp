#include "bulwark/detect/parts.h"

#include <utility>

#include "bulwark/detect/normalize.h"
#include "detectors.h"

namespace bulwark::detect {

using internal::iequals;
using internal::istartsWith;

bool ArgList::add(std::string_view name, std::string_view value, Arg::Kind kind) {
  // Past maxArgs values are still collected (the engine scans them with the cheap prefilter)
  // and overflow() reports the limit; kHardArgs bounds the memory.
  if (args_.size() >= maxArgs_) {
    overflow_ = true;
  }
  if (args_.size() >= kHardArgs) {
    return false;
  }
  args_.push_back(Arg{name, value, kind});
  return true;
}

std::string_view ArgList::own(std::string s) {
  store_.push_back(std::move(s));
  return store_.back();
}

void ArgList::clear() {
  args_.clear();
  if (!store_.empty()) {
    store_.clear();
  }
  overflow_ = false;
}

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && isSpace(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// ---- JSON ----

// Nesting that the recursive JSON walker follows at most (stack safety); deeper documents are
// malformed for every practical parser and are inspected as text.
constexpr size_t kHardDepth = 512;

class JsonParser {
public:
  JsonParser(std::string_view text, ArgList& out, size_t maxDepth)
      : s_(text), out_(out), maxDepth_(maxDepth) {}

  bool run() {
    skipWs();
    if (!value(0)) {
      return false;
    }
    skipWs();
    // NDJSON / concatenated documents.
    while (pos_ < s_.size()) {
      if (!value(0)) {
        return false;
      }
      skipWs();
    }
    return true;
  }

private:
  void skipWs() {
    while (pos_ < s_.size() && isSpace(s_[pos_])) {
      ++pos_;
    }
  }

  bool string(std::string& dst) {
    dst.clear();
    ++pos_; // opening quote
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') {
        return true;
      }
      if (c != '\\') {
        dst.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) {
        return false;
      }
      const char e = s_[pos_++];
      switch (e) {
      case 'n':
        dst.push_back('\n');
        break;
      case 't':
        dst.push_back('\t');
        break;
      case 'r':
        dst.push_back('\r');
        break;
      case 'b':
      case 'f':
        dst.push_back(' ');
        break;
      case 'u':
        // Keep \uXXXX for the normaliser (it decodes them and folds look-alikes).
        dst.push_back('\\');
        dst.push_back('u');
        break;
      default:
        dst.push_back(e);
      }
    }
    return false;
  }

  bool value(size_t depth) {
    if (depth > maxDepth_) {
      // Past the nesting limit the document is still walked (an attack nested 40 deep is still
      // an attack); the limit is reported. The recursion itself is bounded by kHardDepth.
      out_.setOverflow();
      if (depth > kHardDepth) {
        return false;
      }
    }
    skipWs();
    if (pos_ >= s_.size()) {
      return false;
    }
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      skipWs();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return true;
      }
      while (pos_ < s_.size()) {
        skipWs();
        if (pos_ >= s_.size() || s_[pos_] != '"') {
          return false;
        }
        std::string key;
        if (!string(key)) {
          return false;
        }
        const size_t mark = path_.size();
        if (!path_.empty()) {
          path_.push_back('.');
        }
        path_.append(key);
        pathChanged_ = true;
        out_.add(ownedPath(), out_.own(std::move(key)), Arg::Kind::Name);
        skipWs();
        if (pos_ >= s_.size() || s_[pos_] != ':') {
          return false;
        }
        ++pos_;
        if (!value(depth + 1)) {
          return false;
        }
        path_.resize(mark);
        pathChanged_ = true;
        skipWs();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == '}') {
          ++pos_;
          return true;
        }
        return false;
      }
      return false;
    }
    if (c == '[') {
      ++pos_;
      const size_t mark = path_.size();
      path_.append("[]");
      pathChanged_ = true;
      skipWs();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        path_.resize(mark);
        pathChanged_ = true;
        return true;
      }
      while (pos_ < s_.size()) {
        if (!value(depth + 1)) {
          return false;
        }
        skipWs();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == ']') {
          ++pos_;
          path_.resize(mark);
          pathChanged_ = true;
          return true;
        }
        return false;
      }
      return false;
    }
    if (c == '"') {
      std::string v;
      if (!string(v)) {
        return false;
      }
      out_.add(ownedPath(), out_.own(std::move(v)));
      return true;
    }
    // number / true / false / null: skip the token
    const size_t start = pos_;
    while (pos_ < s_.size() && !isSpace(s_[pos_]) && s_[pos_] != ',' && s_[pos_] != '}' &&
           s_[pos_] != ']') {
      ++pos_;
    }
    return pos_ > start;
  }

  std::string_view s_;
  ArgList& out_;
  size_t maxDepth_;
  size_t pos_ = 0;
  // The path as the name of an argument: owned once per change of path_ (the elements of an
  // array share it) and at most kMaxPath bytes (its first and last halves around "..."), so a
  // document with a huge key does not copy that key once per leaf.
  static constexpr size_t kMaxPath = 1024;
  std::string_view ownedPath() {
    if (pathChanged_) {
      ownedPath_ = path_.size() <= kMaxPath
                       ? out_.own(path_)
                       : out_.own(path_.substr(0, kMaxPath / 2) + "..." +
                                  path_.substr(path_.size() - kMaxPath / 2));
      pathChanged_ = false;
    }
    return ownedPath_;
  }

  std::string path_;
  bool pathChanged_ = true;
  std::string_view ownedPath_;
};

// ---- XML ----

class XmlParser {
public:
  XmlParser(std::string_view text, ArgList& out, size_t maxDepth)
      : s_(text), out_(out), maxDepth_(maxDepth) {}

  bool run() {
    size_t depth = 0;
    std::string_view element = "xml";
    while (pos_ < s_.size()) {
      const size_t lt = s_.find('<', pos_);
      text(s_.substr(pos_, lt == std::string_view::npos ? std::string_view::npos : lt - pos_));
      if (lt == std::string_view::npos) {
        flush(element);
        return depth == 0;
      }
      pos_ = lt;
      std::string_view rest = s_.substr(pos_);
      if (rest.starts_with("<!--")) {
        const size_t end = s_.find("-->", pos_ + 4);
        out_.add("!comment",
                 s_.substr(pos_ + 4, end == std::string_view::npos ? std::string_view::npos
                                                                   : end - pos_ - 4));
        if (end == std::string_view::npos) {
          flush(element);
          return false;
        }
        pos_ = end + 3;
        continue;
      }
      if (rest.starts_with("<![CDATA[")) {
        const size_t end = s_.find("]]>", pos_ + 9);
        text(s_.substr(pos_ + 9, end == std::string_view::npos ? std::string_view::npos
                                                               : end - pos_ - 9));
        if (end == std::string_view::npos) {
          flush(element);
          return false;
        }
        pos_ = end + 3;
        continue;
      }
      if (istartsWith(rest, "<!doctype") || rest.starts_with("<!")) {
        flush(element);
        // The DOCTYPE may carry an internal subset in [...]: take it whole.
        size_t i = pos_ + 2;
        int bracket = 0;
        while (i < s_.size()) {
          if (s_[i] == '[') {
            ++bracket;
          } else if (s_[i] == ']') {
            --bracket;
          } else if (s_[i] == '>' && bracket <= 0) {
            break;
          }
          ++i;
        }
        out_.add("!doctype", s_.substr(pos_, i - pos_ + 1));
        pos_ = i + 1;
        continue;
      }
      if (rest.starts_with("<?")) {
        const size_t end = s_.find("?>", pos_ + 2);
        out_.add("?pi", s_.substr(pos_ + 2, end == std::string_view::npos ? std::string_view::npos
                                                                          : end - pos_ - 2));
        if (end == std::string_view::npos) {
          flush(element);
          return false;
        }
        pos_ = end + 2;
        continue;
      }
      // Element start or end tag: the text before it is complete.
      flush(element);
      const bool closing = rest.size() > 1 && rest[1] == '/';
      size_t i = pos_ + (closing ? 2 : 1);
      const size_t nameStart = i;
      while (i < s_.size() && !isSpace(s_[i]) && s_[i] != '>' && s_[i] != '/') {
        ++i;
      }
      const std::string_view name = s_.substr(nameStart, i - nameStart);
      bool selfClosing = false;
      // Attributes.
      while (i < s_.size() && s_[i] != '>') {
        if (s_[i] == '/') {
          selfClosing = true;
          ++i;
          continue;
        }
        if (isSpace(s_[i])) {
          ++i;
          continue;
        }
        const size_t an = i;
        while (i < s_.size() && s_[i] != '=' && !isSpace(s_[i]) && s_[i] != '>') {
          ++i;
        }
        const std::string_view attr = s_.substr(an, i - an);
        while (i < s_.size() && isSpace(s_[i])) {
          ++i;
        }
        if (i < s_.size() && s_[i] == '=') {
          ++i;
          while (i < s_.size() && isSpace(s_[i])) {
            ++i;
          }
          if (i < s_.size() && (s_[i] == '"' || s_[i] == '\'')) {
            const char q = s_[i];
            const size_t vs = i + 1;
            const size_t ve = s_.find(q, vs);
            if (ve == std::string_view::npos) {
              out_.add(attr, s_.substr(vs));
              return false;
            }
            out_.add(attr, s_.substr(vs, ve - vs));
            i = ve + 1;
          } else {
            const size_t vs = i;
            while (i < s_.size() && !isSpace(s_[i]) && s_[i] != '>') {
              ++i;
            }
            out_.add(attr, s_.substr(vs, i - vs));
          }
        } else if (!attr.empty()) {
          out_.add("xml", attr, Arg::Kind::Name);
        }
        selfClosing = false;
      }
      if (i >= s_.size()) {
        return false;
      }
      pos_ = i + 1;
      if (closing) {
        if (depth > 0) {
          --depth;
        }
      } else if (!selfClosing) {
        if (++depth > maxDepth_) {
          out_.setOverflow(); // reported; the rest of the document is still walked
        }
        element = name;
      }
    }
    flush(element);
    return depth == 0;
  }

private:
  std::string_view s_;
  // An element's text content as the application's parser returns it: the text nodes and
  // CDATA sections between its tags joined (comments and processing instructions inside it
  // split nothing: "sel<!---->ect", "&lt;scr<![CDATA[ipt]]>&gt;"), line breaks and spaces at
  // its ends kept (a leading CR/LF is what splits a response header); text of whitespace only
  // is layout and not reported.
  void text(std::string_view piece) {
    if (piece.empty()) {
      return;
    }
    if (pieces_ == 0) {
      first_ = piece;
    } else {
      if (pieces_ == 1) {
        joined_.assign(first_);
      }
      joined_.append(piece);
    }
    ++pieces_;
  }

  void flush(std::string_view element) {
    if (pieces_ == 0) {
      return;
    }
    const std::string_view t = pieces_ == 1 ? first_ : std::string_view(joined_);
    if (!trim(t).empty()) {
      out_.add(element, pieces_ == 1 ? first_ : out_.own(joined_));
    }
    pieces_ = 0;
  }

  ArgList& out_;
  size_t maxDepth_;
  size_t pos_ = 0;
  std::string_view first_;
  std::string joined_;
  size_t pieces_ = 0;
};

} // namespace

void parseUrlencoded(std::string_view text, ArgList& out, char sep) {
  while (!text.empty()) {
    const size_t amp = text.find(sep);
    std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      // A bare token is both a name and a value; inspect it once as a value.
      if (!out.add(pair, pair)) {
        return;
      }
      continue;
    }
    const std::string_view name = pair.substr(0, eq);
    if (!name.empty() && !out.add(name, name, Arg::Kind::Name)) {
      return;
    }
    if (!out.add(name, pair.substr(eq + 1))) {
      return;
    }
  }
}

void parseCookies(std::string_view text, ArgList& out) {
  while (!text.empty()) {
    const size_t semi = text.find(';');
    std::string_view pair = trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
    if (pair.empty()) {
      continue;
    }
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      if (!out.add(pair, pair)) {
        return;
      }
      continue;
    }
    const std::string_view name = trim(pair.substr(0, eq));
    if (!out.add(name, name, Arg::Kind::Name) || !out.add(name, trim(pair.substr(eq + 1)))) {
      return;
    }
  }
}

bool parseJson(std::string_view text, ArgList& out, size_t maxDepth) {
  return JsonParser(text, out, maxDepth).run();
}

std::string_view contentTypeParam(std::string_view contentType, std::string_view param) {
  size_t pos = 0;
  while ((pos = contentType.find(';', pos)) != std::string_view::npos) {
    ++pos;
    std::string_view rest = trim(contentType.substr(pos));
    if (istartsWith(rest, param) && rest.size() > param.size()) {
      rest.remove_prefix(param.size());
      rest = trim(rest);
      if (rest.empty() || rest[0] != '=') {
        continue;
      }
      rest = trim(rest.substr(1));
      if (!rest.empty() && rest[0] == '"') {
        rest.remove_prefix(1);
        return rest.substr(0, rest.find('"'));
      }
      const size_t end = rest.find_first_of("; \t,");
      return rest.substr(0, end);
    }
  }
  return {};
}

bool parseMultipart(std::string_view body, std::string_view boundary, ArgList& out,
                    size_t maxDepth) {
  if (boundary.empty() || boundary.size() > 200 || maxDepth == 0) {
    return false;
  }
  std::string delim = "--";
  delim.append(boundary);
  size_t pos = body.find(delim);
  if (pos == std::string_view::npos) {
    return false;
  }
  if (pos > 0) {
    out.add("multipart.preamble", trim(body.substr(0, pos)));
  }
  bool ok = true;
  while (pos != std::string_view::npos) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") {
      const std::string_view epilogue = trim(body.substr(pos + 2));
      if (!epilogue.empty()) {
        out.add("multipart.epilogue", epilogue);
      }
      return ok;
    }
    const size_t next = body.find(delim, pos);
    std::string_view part =
        body.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    if (next == std::string_view::npos) {
      ok = false; // no closing delimiter (possibly truncated)
    }
    // Headers end at the first empty line (CRLF CRLF or LF LF).
    size_t hdrEnd = part.find("\r\n\r\n");
    size_t bodyStart = hdrEnd == std::string_view::npos ? std::string_view::npos : hdrEnd + 4;
    if (hdrEnd == std::string_view::npos) {
      hdrEnd = part.find("\n\n");
      bodyStart = hdrEnd == std::string_view::npos ? std::string_view::npos : hdrEnd + 2;
    }
    std::string_view headers = part.substr(0, hdrEnd);
    std::string_view value =
        bodyStart == std::string_view::npos ? std::string_view{} : part.substr(bodyStart);
    if (value.ends_with("\r\n")) {
      value.remove_suffix(2);
    } else if (value.ends_with("\n")) {
      value.remove_suffix(1);
    }
    std::string_view name = "multipart";
    std::string_view partType;
    bool isFile = false;
    while (!headers.empty()) {
      const size_t nl = headers.find('\n');
      std::string_view line = trim(headers.substr(0, nl));
      headers = nl == std::string_view::npos ? std::string_view{} : headers.substr(nl + 1);
      if (line.empty()) {
        continue;
      }
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) {
        out.add("multipart.header", line);
        continue;
      }
      const std::string_view hname = trim(line.substr(0, colon));
      const std::string_view hvalue = trim(line.substr(colon + 1));
      if (iequals(hname, "content-disposition")) {
        if (const auto n = contentTypeParam(hvalue, "name"); !n.empty()) {
          name = n;
          out.add(name, n, Arg::Kind::Name);
        }
        if (const auto f = contentTypeParam(hvalue, "filename"); !f.empty()) {
          out.add("multipart.filename", f);
          isFile = true;
        }
        if (const auto f = contentTypeParam(hvalue, "filename*"); !f.empty()) {
          out.add("multipart.filename", f);
        }
      } else if (iequals(hname, "content-type")) {
        partType = hvalue;
        out.add("multipart.content-type", hvalue);
      } else {
        out.add(hname, hvalue);
      }
    }
    if (istartsWith(partType, "multipart/")) {
      ok = parseMultipart(value, contentTypeParam(partType, "boundary"), out, maxDepth - 1) && ok;
    } else if (!value.empty()) {
      out.add(name, value, isFile ? Arg::Kind::File : Arg::Kind::Value);
    }
    if (out.overflow()) {
      return false;
    }
    pos = next;
  }
  return false;
}

bool wellFormedUserAgent(std::string_view ua) {
  auto token = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == '+' || c == '!' || c == '~' || c == '#';
  };
  auto commentChar = [&](char c) {
    return token(c) || c == ' ' || c == ';' || c == ',' || c == ':' || c == '/' || c == '=' ||
           c == '@' || c == '?' || c == '&' || c == '%' || c == '*' ||
           static_cast<unsigned char>(c) >= 0x80;
  };
  size_t i = 0;
  const size_t n = ua.size();
  bool any = false;
  bool versioned = false;
  bool comment = false;
  while (i < n) {
    const char c = ua[i];
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    if (c == '(' || c == '[') {
      // A comment; parentheses nest, brackets hold in-app browser fields.
      const char open = c;
      const char close = c == '(' ? ')' : ']';
      int depth = 0;
      for (; i < n; ++i) {
        if (ua[i] == open) {
          ++depth;
        } else if (ua[i] == close) {
          if (--depth == 0) {
            break;
          }
        } else if (!commentChar(ua[i]) && !(open == '[' && (ua[i] == '(' || ua[i] == ')'))) {
          return false;
        }
      }
      if (i >= n) {
        return false;
      }
      ++i;
      any = true;
      comment = true;
      continue;
    }
    // product [ "/" version ]
    const size_t start = i;
    while (i < n && token(ua[i])) {
      ++i;
    }
    // A product name or version of more than 48 characters is no name or version: base64 or
    // another encoded payload that happens to hold one '/'.
    constexpr size_t kMaxToken = 48;
    if (i == start || i - start > kMaxToken) {
      return false;
    }
    if (i < n && ua[i] == '/') {
      ++i;
      const size_t v = i;
      while (i < n && (token(ua[i]) || ua[i] == ',' || ua[i] == ':')) {
        ++i;
      }
      if (i == v || i - v > kMaxToken) {
        return false;
      }
    }
    if (i < n && ua[i] != ' ' && ua[i] != '\t' && ua[i] != '(' && ua[i] != '[' &&
        ua[i] != ';' && ua[i] != ',') {
      return false;
    }
    versioned |= ua[i - 1] != ' ' && ua.substr(start, i - start).find('/') != std::string_view::npos;
    if (i < n && (ua[i] == ';' || ua[i] == ',')) {
      ++i;
    }
    any = true;
  }
  // One bare token with neither a version nor a comment is not a product list (it may be
  // base64, a probe, a word).
  return any && (versioned || comment);
}

bool parseXml(std::string_view text, ArgList& out, size_t maxDepth) {
  return XmlParser(text, out, maxDepth).run();
}

} // namespace bulwark::detect

#include "js.h"

#include <array>
#include <cstddef>

namespace bulwark::detect::lang {
namespace {

constexpr auto kNodeGlobals = std::to_array<std::string_view>(
    {"process", "require", "module", "global", "globalThis", "console", "Buffer"});

bool identStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

bool identChar(char c) { return identStart(c) || (c >= '0' && c <= '9'); }

// A recursive-descent reader of the expression subset: primary (identifier, this, string,
// number) followed by member accesses and calls. Depth-bounded; any other token fails.
class Reader {
public:
  explicit Reader(std::string_view s) : s_(s) {}

  bool whole(bool& instruction) {
    space();
    const size_t start = pos_;
    if (!ident()) {
      return false;
    }
    const std::string_view root = s_.substr(start, pos_ - start);
    bool global = false;
    for (const auto g : kNodeGlobals) {
      global |= g == root;
    }
    if (!global || !postfix(0, instruction)) {
      return false;
    }
    space();
    if (pos_ < s_.size() && s_[pos_] == ';') {
      ++pos_;
      space();
    }
    return pos_ == s_.size();
  }

private:
  static constexpr int kMaxDepth = 8;

  void space() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool ident() {
    if (pos_ >= s_.size() || !identStart(s_[pos_])) {
      return false;
    }
    while (pos_ < s_.size() && identChar(s_[pos_])) {
      ++pos_;
    }
    return true;
  }

  bool string() {
    if (pos_ >= s_.size()) {
      return false;
    }
    const char q = s_[pos_];
    if (q != '\'' && q != '"' && q != '`') {
      return false;
    }
    for (size_t i = pos_ + 1; i < s_.size(); ++i) {
      if (s_[i] == '\\') {
        ++i;
      } else if (s_[i] == '\n' && q != '`') {
        return false;
      } else if (s_[i] == q) {
        pos_ = i + 1;
        return true;
      }
    }
    return false;
  }

  bool number() {
    const size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') {
      ++pos_;
    }
    const size_t digits = pos_;
    while (pos_ < s_.size() && ((s_[pos_] >= '0' && s_[pos_] <= '9') || s_[pos_] == '.')) {
      ++pos_;
    }
    if (pos_ == digits) {
      pos_ = start;
      return false;
    }
    return true;
  }

  // (.name | [expr] | (args))*, at least one when `need` is set.
  bool postfix(int depth, bool& instruction) {
    size_t steps = 0;
    for (;;) {
      space();
      if (pos_ >= s_.size()) {
        return steps > 0;
      }
      const char c = s_[pos_];
      if (c == '.') {
        ++pos_;
        space();
        if (!ident()) {
          return false;
        }
      } else if (c == '[') {
        ++pos_;
        space();
        const bool named = pos_ < s_.size() &&
                           (s_[pos_] == '\'' || s_[pos_] == '"' || s_[pos_] == '`');
        if (!expression(depth + 1)) {
          return false;
        }
        space();
        if (pos_ >= s_.size() || s_[pos_] != ']') {
          return false;
        }
        ++pos_;
        instruction |= named;
      } else if (c == '(') {
        ++pos_;
        space();
        if (pos_ < s_.size() && s_[pos_] == ')') {
          ++pos_;
        } else {
          for (;;) {
            if (!expression(depth + 1)) {
              return false;
            }
            space();
            if (pos_ < s_.size() && s_[pos_] == ',') {
              ++pos_;
              continue;
            }
            if (pos_ < s_.size() && s_[pos_] == ')') {
              ++pos_;
              break;
            }
            return false;
          }
        }
        instruction = true;
      } else {
        return steps > 0;
      }
      ++steps;
    }
  }

  bool expression(int depth) {
    if (depth > kMaxDepth) {
      return false;
    }
    space();
    if (string() || number()) {
      return true;
    }
    if (!ident()) {
      return false;
    }
    bool ignored = false;
    const size_t at = pos_;
    if (!postfix(depth, ignored)) {
      pos_ = at; // a bare identifier
    }
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

} // namespace

bool nodeGlobalExpression(std::string_view v) {
  if (v.size() > 4096) {
    return false;
  }
  bool instruction = false;
  Reader r(v);
  return r.whole(instruction) && instruction;
}

} // namespace bulwark::detect::lang

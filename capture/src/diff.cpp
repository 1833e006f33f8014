#include <algorithm>

#include "bulwark/capture/apply.h"

namespace bulwark::capture {
namespace {

std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return out;
}

} // namespace

std::string lineDiff(std::string_view expected, std::string_view found) {
  const auto a = splitLines(expected);
  const auto b = splitLines(found);
  // lcs[i][j] = LCS length of a[i..] and b[j..]
  std::vector<std::vector<size_t>> lcs(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      ++i;
      ++j;
    } else if (j < b.size() && (i == a.size() || lcs[i][j + 1] >= lcs[i + 1][j])) {
      out += "+ " + std::string(b[j++]) + "\n";
    } else {
      out += "- " + std::string(a[i++]) + "\n";
    }
  }
  return out;
}

} // namespace bulwark::capture

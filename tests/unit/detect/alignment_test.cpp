// Pattern-rule matches must not depend on where a value lies in memory: the same bytes give the
// same rules at every start address. Scans values at each of 64 offsets of an aligned buffer
// through the rule databases the engine uses (and the scan it uses): fixed probes that a
// vectorscan SIMD code path got wrong, then a sample of corpus values when ../shared/corpus is
// present.
#include <gtest/gtest.h>

#include <bitset>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "corpus.h"
#include "ruledb.h"

namespace bulwark::detect::internal {
namespace {

constexpr size_t kOffsets = 64;
constexpr size_t kMaxValue = 4096;
constexpr size_t kMaxSample = 1024; // corpus values longer than this are left out (time)

class Scanner {
public:
  explicit Scanner(RuleSet set) : rules_(ruleSet(set)) {
    auto db = loadRuleSet(set, rules_, nullptr);
    if (db) {
      db_ = *db;
      if (hs_alloc_scratch(db_, &scratch_) != HS_SUCCESS) {
        scratch_ = nullptr;
      }
    }
    buf_.reset(static_cast<char*>(std::aligned_alloc(64, kMaxValue + kOffsets)));
  }
  ~Scanner() {
    if (scratch_ != nullptr) {
      hs_free_scratch(scratch_);
    }
    if (db_ != nullptr) {
      hs_free_database(db_);
    }
  }
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  bool ready() const { return scratch_ != nullptr && buf_ != nullptr; }

  // The ids of the rules that match `v` copied at `offset` bytes past a 64-byte boundary.
  std::bitset<512> at(std::string_view v, size_t offset) {
    v = v.substr(0, kMaxValue);
    std::memcpy(buf_.get() + offset, v.data(), v.size());
    std::bitset<512> hits;
    auto onMatch = [](unsigned int id, unsigned long long, unsigned long long, unsigned int,
                      void* c) -> int {
      static_cast<std::bitset<512>*>(c)->set(id);
      return 0;
    };
    EXPECT_EQ(scanBlock(db_, buf_.get() + offset, static_cast<unsigned int>(v.size()), scratch_,
                        onMatch, &hits),
              HS_SUCCESS);
    return hits;
  }

  std::string ids(const std::bitset<512>& hits) const {
    std::string out;
    for (size_t i = 0; i < rules_.size() && i < hits.size(); ++i) {
      if (hits.test(i)) {
        out += std::to_string(rules_[i]->id) + " ";
      }
    }
    return out;
  }

  bool has(const std::bitset<512>& hits, uint32_t id) const {
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (rules_[i]->id == id) {
        return hits.test(i);
      }
    }
    return false;
  }

  // Empty when every offset gives the same rules, else which offsets differ from offset 0.
  std::string mismatch(std::string_view v) {
    const auto first = at(v, 0);
    for (size_t off = 1; off < kOffsets; ++off) {
      const auto h = at(v, off);
      if (h != first) {
        return "offset 0: [" + ids(first) + "] offset " + std::to_string(off) + ": [" + ids(h) +
               "]";
      }
    }
    return {};
  }

private:
  std::vector<const PatternRule*> rules_;
  hs_database_t* db_ = nullptr;
  hs_scratch_t* scratch_ = nullptr;
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> buf_;
};

std::string lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

// Percent- and plus-decoding, enough to turn query strings and form bodies into values.
std::string urlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) != 0 &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2])) != 0) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

void addParams(std::string_view s, std::vector<std::string>& out) {
  while (!s.empty()) {
    const size_t amp = s.find('&');
    std::string_view kv = s.substr(0, amp);
    const size_t eq = kv.find('=');
    if (eq != std::string_view::npos) {
      out.push_back(lower(urlDecode(kv.substr(eq + 1))));
    }
    out.push_back(lower(urlDecode(kv.substr(0, eq))));
    if (amp == std::string_view::npos) {
      break;
    }
    s.remove_prefix(amp + 1);
  }
}

// Values that the AVX-512 scan of vectorscan 5.4.9 reports differently by start offset, with
// the rule in the full database or compiled alone (minimised from corpus values), and the
// answer PCRE / Python re give for the rule named.
struct Probe {
  std::string value;
  uint32_t rule;
  bool matches;
};

std::vector<Probe> probes() {
  const std::string pad63(63, 'x');
  return {
      // a NoSQL operator in brackets 64 bytes into the value
      {pad63 + "[$regex]", 9003, true},
      {"\"title\"\n\nquarterly report\n------webkitformboundary8187aa02\ncontent-disposition: "
       "form-data; name=\"comment\"\n\nusername[$regex]=admin",
       9003, true},
      // a quote opens with a keyword but is closed later: not the "unclosed quote" shape
      {"' and 1=utl_inaddr.get_host_address((select count(distinct(column_name)) from "
       "sys.all_tab_columns)) and 'i'='i",
       1053, false},
      {"'and " + std::string(62, 'x') + "'x", 1053, false},
      {"'and " + std::string(62, 'x'), 1053, true},
  };
}

TEST(AlignmentTest, ProbesGiveTheSameRulesAtEveryOffset) {
  Scanner s(RuleSet::Full);
  ASSERT_TRUE(s.ready());
  for (const Probe& p : probes()) {
    EXPECT_EQ(s.mismatch(p.value), "") << "value: " << p.value << " (scan: " << scanPath() << ")";
    for (size_t off = 0; off < kOffsets; ++off) {
      EXPECT_EQ(s.has(s.at(p.value, off), p.rule), p.matches)
          << "rule " << p.rule << " at offset " << off << " on: " << p.value;
    }
  }
}

TEST(AlignmentTest, CorpusValuesGiveTheSameRulesAtEveryOffset) {
  const std::string dir = corpus::defaultDir();
  if (dir.empty()) {
    if (std::getenv("CI") != nullptr) {
      FAIL() << "corpus missing under CI";
    }
    GTEST_SKIP() << "no ../shared/corpus";
  }
  std::vector<std::string> values;
  for (const char* name : {"/crs.jsonl", "/mgm.jsonl.gz", "/handmade-benign.jsonl"}) {
    auto records = corpus::load(dir + name);
    ASSERT_TRUE(records) << records.error().describe();
    for (const auto& r : *records) {
      const size_t q = r.target.find('?');
      if (q != std::string::npos) {
        addParams(std::string_view(r.target).substr(q + 1), values);
      }
      if (!r.body.empty()) {
        addParams(r.body, values);
        values.push_back(lower(r.body));
      }
    }
  }
  // An even spread of about 3000 values, long ones (a 64-byte block boundary inside) first.
  std::vector<std::string> longer;
  std::vector<std::string> shorter;
  for (auto& v : values) {
    if (!v.empty() && v.size() <= kMaxSample) {
      (v.size() >= 48 ? longer : shorter).push_back(std::move(v));
    }
  }
  std::vector<std::string> sample;
  for (auto* from : {&longer, &shorter}) {
    const size_t step = from->size() / 1500 + 1;
    for (size_t i = 0; i < from->size(); i += step) {
      sample.push_back(std::move((*from)[i]));
    }
  }
  ASSERT_GT(sample.size(), 1000U);
  for (const auto& [set, name] : kRuleSets) {
    SCOPED_TRACE(name);
    Scanner s(set);
    ASSERT_TRUE(s.ready());
    size_t bad = 0;
    for (const auto& v : sample) {
      const std::string m = s.mismatch(v);
      if (!m.empty() && ++bad <= 5) {
        ADD_FAILURE() << m << " on: " << v.substr(0, 300);
      }
    }
    EXPECT_EQ(bad, 0U) << "of " << sample.size() << " values (scan: " << scanPath() << ")";
  }
}

} // namespace
} // namespace bulwark::detect::internal

#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bulwark/common/result.h"
#include "bulwark/detect/engine.h"

// Reader and scorer for the labelled corpus in ../shared/corpus (JSONL or gzip'ed JSONL, one
// request a line). Used by bulwark-detect-eval, the corpus test and the benchmark; the corpus
// itself never enters the repository.
namespace bulwark::detect::corpus {

struct Record {
  std::string id;
  std::string source; // crs, mgm, real-har, placed, ...
  std::string label;  // attack | benign
  std::string cls;   // sqli, xss, ..., other, benign
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<Header> headerViews; // filled by load(): views into headers

  RequestView view() const;
  bool attack() const { return label == "attack"; }
};

// BULWARK_CORPUS_DIR, else <source dir>/../shared/corpus. Empty when neither exists.
std::string defaultDir();

// The corpus files (*.jsonl, *.jsonl.gz) in dir, sorted.
std::vector<std::string> files(const std::string& dir);

[[nodiscard]] Result<std::vector<Record>> load(const std::string& path);

struct Counts {
  size_t attacks = 0;
  size_t detected = 0;
  size_t benign = 0;
  size_t passed = 0;
  double tpr() const { return attacks == 0 ? 100.0 : 100.0 * detected / attacks; }
  double tnr() const { return benign == 0 ? 100.0 : 100.0 * passed / benign; }
};

struct Sample {
  std::string id;
  std::string cls;
  std::string what; // request line / findings
};

struct Report {
  std::map<std::string, Counts> perFile;  // excluding class "other"
  std::map<std::string, Counts> perClass; // all classes, "other" included
  std::map<std::string, Counts> otherPerFile;
  Counts overall; // excluding "other"
  std::map<std::string, Counts> perSource; // "file/source", all classes but "other"
  std::map<std::string, size_t> fpByRule; // "rule part-kind" over the false positives
  std::vector<Sample> misses;
  std::vector<Sample> falsePositives;
  double seconds = 0;
  size_t requests = 0;
};

// Runs every record of every file through the engine. samples: how many misses per class and
// false positives to keep.
// paranoiaLevel: RequestView::paranoiaLevel of every request.
Report evaluate(const Engine& engine, const std::vector<std::string>& paths, size_t samples,
                const std::string& onlyClass = {}, uint8_t paranoiaLevel = 1);

std::string format(const Report& report);

} // namespace bulwark::detect::corpus

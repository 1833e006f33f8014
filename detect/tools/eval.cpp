// bulwark-detect-eval: runs the labelled corpus through the detection engine and prints
// per-file and per-class TPR/TNR, plus sample misses and false positives.
//
//   bulwark-detect-eval [--corpus DIR] [--samples N] [--class C] [FILE...]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "corpus.h"

int main(int argc, char** argv) {
  using namespace bulwark::detect;
  std::string dir;
  std::string onlyClass;
  size_t samples = 5;
  bool quiet = false;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--corpus" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--samples" && i + 1 < argc) {
      samples = static_cast<size_t>(std::atoi(argv[++i]));
    } else if (a == "--class" && i + 1 < argc) {
      onlyClass = argv[++i];
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--help" || a == "-h") {
      std::printf("usage: bulwark-detect-eval [--corpus DIR] [--samples N] [--class C] "
                  "[--quiet] [FILE...]\n");
      return 0;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) {
    if (dir.empty()) {
      dir = corpus::defaultDir();
    }
    if (dir.empty()) {
      std::fprintf(stderr, "bulwark-detect-eval: no corpus (set BULWARK_CORPUS_DIR or --corpus)\n");
      return 2;
    }
    paths = corpus::files(dir);
  }
  auto engine = Engine::create(EngineConfig{});
  if (!engine) {
    std::fprintf(stderr, "bulwark-detect-eval: %s\n", engine.error().describe().c_str());
    return 1;
  }
  const corpus::Report rep = corpus::evaluate(**engine, paths, samples, onlyClass);
  if (!quiet) {
    std::printf("== misses (up to %zu per class)\n", samples);
    for (const auto& m : rep.misses) {
      std::printf("  [%s] %s %s\n", m.cls.c_str(), m.id.c_str(), m.what.c_str());
    }
    std::printf("== false positives (up to %zu)\n", samples * 4);
    for (const auto& m : rep.falsePositives) {
      std::printf("  %s %s\n", m.id.c_str(), m.what.c_str());
    }
  }
  std::printf("%s", corpus::format(rep).c_str());
  return 0;
}

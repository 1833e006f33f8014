// bulwark-detect-eval: runs the labelled corpus through the detection engine and prints
// per-file and per-class TPR/TNR, plus sample misses and false positives.
//
//   bulwark-detect-eval [--corpus DIR] [--samples N] [--class C] [--paranoia 1-4] [FILE...]
//   bulwark-detect-eval --explain ID [--paranoia 1-4] [FILE...]
//   bulwark-detect-eval --verdicts [--paranoia 1-4] [FILE...]
//   bulwark-detect-eval --rules [--class C]
//
// --explain prints, for every record whose id contains ID, the request, each finding (class,
// rule, confidence, paranoia level, part kind, part, value, and what the rule detects), the
// score and the threshold; then the findings that did not count at that paranoia level (those
// of higher levels), so that a pass explains itself too.
// --rules lists the rule registry: id, class, kind, base confidence and paranoia level,
// description.
// --verdicts prints one line per record (file, id, attack/pass, score, limit flag, and every
// finding: rule, confidence, part, transform chain, value): two engines that print the same
// lines gave every request the same verdict for the same reasons.
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <utility>
#include <string>
#include <vector>

#include "bulwark/detect/rule_registry.h"
#include "corpus.h"

int main(int argc, char** argv) {
  using namespace bulwark::detect;
  std::string dir;
  std::string onlyClass;
  size_t samples = 5;
  bool quiet = false;
  uint8_t paranoia = 1;
  std::string explain;
  bool verdicts = false;
  bool rules = false;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--corpus" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--samples" && i + 1 < argc) {
      samples = static_cast<size_t>(std::atoi(argv[++i]));
    } else if (a == "--class" && i + 1 < argc) {
      onlyClass = argv[++i];
    } else if (a == "--paranoia" && i + 1 < argc) {
      paranoia = static_cast<uint8_t>(std::atoi(argv[++i]));
    } else if (a == "--explain" && i + 1 < argc) {
      explain = argv[++i];
    } else if (a == "--verdicts") {
      verdicts = true;
    } else if (a == "--rules") {
      rules = true;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--help" || a == "-h") {
      std::printf("usage: bulwark-detect-eval [--corpus DIR] [--samples N] [--class C] "
                  "[--paranoia 1-4] [--quiet] [--explain ID] [--verdicts] [--rules] [FILE...]\n");
      return 0;
    } else {
      paths.push_back(a);
    }
  }
  if (rules) {
    std::printf("%-6s %-15s %-8s %-10s %-3s %s\n", "id", "class", "kind", "confidence", "PL",
                "description");
    for (const RuleInfo& r : ruleRegistry()) {
      if (!onlyClass.empty() && className(r.cls) != onlyClass) {
        continue;
      }
      const Confidence c = ruleBaseConfidence(r.id);
      std::printf("%-6u %-15s %-8s %-10s %-3u %s\n", r.id, std::string(className(r.cls)).c_str(),
                  std::string(ruleKindName(r.kind)).c_str(),
                  std::string(confidenceName(c)).c_str(), paranoiaOf(c),
                  std::string(r.description).c_str());
    }
    return 0;
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
  if (!explain.empty()) {
    size_t shown = 0;
    for (const auto& path : paths) {
      auto records = corpus::load(path);
      if (!records) {
        std::fprintf(stderr, "%s\n", records.error().describe().c_str());
        continue;
      }
      for (const auto& r : *records) {
        if (r.id.find(explain) == std::string::npos) {
          continue;
        }
        RequestView view = r.view();
        view.paranoiaLevel = paranoia;
        const Verdict v = (*engine)->inspect(view);
        std::printf("%s [%s/%s] %s %s\n", r.id.c_str(), r.label.c_str(), r.cls.c_str(),
                    r.method.c_str(), r.target.substr(0, 200).c_str());
        const auto print = [](const Finding& f) {
          const std::string_view what = ruleDescription(f.ruleId);
          std::string value; // one line: line breaks and tabs shown escaped
          for (const char c : f.value.substr(0, 100)) {
            value += c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : std::string(1, c);
          }
          std::printf("  %-14s %5u %-9s PL%u %-20s %s = %s\n", std::string(className(f.cls)).c_str(),
                      f.ruleId, std::string(confidenceName(f.confidence)).c_str(), f.paranoia,
                      std::string(partKindName(f.kind)).c_str(), f.part.c_str(), value.c_str());
          std::printf("  %20u: %s%s%s%s\n", f.ruleId,
                      what.empty() ? "(not registered)" : std::string(what).c_str(),
                      f.chain.empty() ? "" : " [decoded: ", f.chain.c_str(),
                      f.chain.empty() ? "" : "]");
        };
        for (const auto& f : v.findings) {
          print(f);
        }
        std::printf("  score %d / threshold %d at PL%u: %s%s\n", v.score, v.threshold,
                    v.paranoiaLevel, v.attack() ? "attack" : "pass",
                    v.limitExceeded ? " (inspection limit reached)" : "");
        // What did not count: the findings of higher paranoia levels (probes, tokens, and strong
        // findings that their part lowered), so that a pass explains itself too.
        if (paranoia < 4) {
          view.paranoiaLevel = 4;
          const Verdict all = (*engine)->inspect(view);
          bool header = false;
          for (const auto& f : all.findings) {
            if (f.paranoia <= paranoia) {
              continue;
            }
            if (!header) {
              std::printf("  not counted at PL%u:\n", paranoia);
              header = true;
            }
            print(f);
          }
        }
        ++shown;
      }
    }
    return shown == 0 ? 1 : 0;
  }
  if (verdicts) {
    for (const auto& path : paths) {
      auto records = corpus::load(path);
      if (!records) {
        std::fprintf(stderr, "%s\n", records.error().describe().c_str());
        return 1;
      }
      const std::string file = path.substr(path.find_last_of('/') + 1);
      for (const auto& r : *records) {
        RequestView view = r.view();
        view.paranoiaLevel = paranoia;
        const Verdict v = (*engine)->inspect(view);
        std::printf("%s\t%s\t%s\t%d%s", file.c_str(), r.id.c_str(), v.attack() ? "attack" : "pass",
                    v.score, v.limitExceeded ? "\tlimit" : "");
        for (const auto& f : v.findings) {
          std::printf("\t%u/%s/%s/%s/%s", f.ruleId,
                      std::string(confidenceName(f.confidence)).c_str(), f.part.c_str(),
                      f.chain.c_str(), f.value.c_str());
        }
        std::printf("\n");
      }
    }
    return 0;
  }
  const corpus::Report rep = corpus::evaluate(**engine, paths, samples, onlyClass, paranoia);
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
  if (!quiet) {
    std::vector<std::pair<size_t, std::string>> byRule;
    for (const auto& [k, n] : rep.fpByRule) {
      byRule.emplace_back(n, k);
    }
    std::sort(byRule.rbegin(), byRule.rend());
    std::printf("== findings in false positives, by rule and part kind\n");
    for (size_t i = 0; i < byRule.size() && i < 40; ++i) {
      std::printf("  %6zu  %s\n", byRule[i].first, byRule[i].second.c_str());
    }
    std::printf("== per source\n");
    for (const auto& [k, c] : rep.perSource) {
      std::printf("  %-34s attacks %6zu TPR %6.2f  benign %6zu TNR %6.2f\n", k.c_str(), c.attacks,
                  c.tpr(), c.benign, c.tnr());
    }
  }
  std::printf("%s", corpus::format(rep).c_str());
  return 0;
}

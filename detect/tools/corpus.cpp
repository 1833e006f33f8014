#include "corpus.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

namespace bulwark::detect::corpus {

RequestView Record::view() const {
  RequestView v;
  v.method = method;
  v.target = target;
  v.versionMinor = 1;
  v.headers = headerViews;
  v.body = body;
  return v;
}

std::string defaultDir() {
  if (const char* env = std::getenv("BULWARK_CORPUS_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef BULWARK_SOURCE_DIR
  const std::filesystem::path p =
      std::filesystem::path(BULWARK_SOURCE_DIR) / ".." / "shared" / "corpus";
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) {
    return std::filesystem::weakly_canonical(p, ec).string();
  }
#endif
  return {};
}

std::vector<std::string> files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && (name.ends_with(".jsonl") || name.ends_with(".jsonl.gz"))) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<Record>> load(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb"); // reads plain files too
  if (f == nullptr) {
    return BW_ERR(errnoCode(errno), "corpus: cannot open " + path);
  }
  std::string data;
  std::vector<char> buf(1 << 16);
  int n;
  while ((n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0) {
    data.append(buf.data(), static_cast<size_t>(n));
  }
  gzclose(f);
  if (n < 0) {
    return BW_INVALID("corpus: cannot read " + path);
  }
  std::vector<Record> out;
  size_t pos = 0;
  size_t lineNo = 0;
  while (pos < data.size()) {
    size_t eol = data.find('\n', pos);
    if (eol == std::string::npos) {
      eol = data.size();
    }
    const std::string_view line(data.data() + pos, eol - pos);
    pos = eol + 1;
    ++lineNo;
    if (line.empty()) {
      continue;
    }
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return BW_INVALID("corpus: " + path + ":" + std::to_string(lineNo) + ": bad JSON");
    }
    Record r;
    r.id = j.value("id", "");
    r.source = j.value("source", "");
    r.label = j.value("label", "");
    r.cls = j.value("class", "");
    r.method = j.value("method", "GET");
    r.target = j.value("target", "/");
    r.body = j.value("body", "");
    if (j.contains("headers") && j["headers"].is_array()) {
      for (const auto& h : j["headers"]) {
        if (h.is_array() && h.size() == 2 && h[0].is_string() && h[1].is_string()) {
          r.headers.emplace_back(h[0].get<std::string>(), h[1].get<std::string>());
        }
      }
    }
    out.push_back(std::move(r));
  }
  for (auto& r : out) {
    for (const auto& [name, value] : r.headers) {
      r.headerViews.push_back(Header{name, value});
    }
  }
  return out;
}

namespace {

std::string describe(const Record& r, const Verdict& v) {
  std::string s = r.method + " " + r.target.substr(0, 160);
  for (const auto& [name, value] : r.headers) {
    static constexpr std::string_view kCommon[] = {
        "host",           "accept", "connection",    "accept-language", "accept-encoding",
        "accept-charset", "pragma", "cache-control", "content-length"};
    std::string lower;
    for (const char c : name) {
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    if (std::find(std::begin(kCommon), std::end(kCommon), lower) == std::end(kCommon) &&
        !(lower == "user-agent" && value.starts_with("Mozilla/5.0"))) {
      s += " [" + name + ": " + value.substr(0, 100) + "]";
    }
  }
  if (!r.body.empty()) {
    s += " body=" + r.body.substr(0, 160);
  }
  for (const auto& f : v.findings) {
    s += "\n      -> " + std::string(className(f.cls)) + " " + std::to_string(f.ruleId) + " " +
         f.part + " = " + f.value.substr(0, 100);
  }
  for (auto& c : s) {
    if (c == '\r') {
      c = ' ';
    }
  }
  return s;
}

std::string fileKey(const std::string& path) {
  std::string name = std::filesystem::path(path).filename().string();
  for (const std::string_view ext : {".jsonl.gz", ".jsonl"}) {
    if (name.ends_with(ext)) {
      name.resize(name.size() - ext.size());
    }
  }
  return name;
}

} // namespace

Report evaluate(const Engine& engine, const std::vector<std::string>& paths, size_t samples,
                const std::string& onlyClass, uint8_t paranoiaLevel) {
  Report rep;
  std::map<std::string, size_t> missesPerClass;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& path : paths) {
    auto records = load(path);
    if (!records) {
      std::fprintf(stderr, "%s\n", records.error().describe().c_str());
      continue;
    }
    const std::string key = fileKey(path);
    for (const auto& r : *records) {
      if (!onlyClass.empty() && r.cls != onlyClass) {
        continue;
      }
      RequestView view = r.view();
      view.paranoiaLevel = paranoiaLevel;
      const Verdict v = engine.inspect(view);
      ++rep.requests;
      const bool hit = v.attack();
      Counts& cls = rep.perClass[r.cls];
      if (r.attack()) {
        ++cls.attacks;
        cls.detected += hit;
        if (r.cls == "other") {
          ++rep.otherPerFile[key].attacks;
          rep.otherPerFile[key].detected += hit;
          continue;
        }
        ++rep.perFile[key].attacks;
        rep.perFile[key].detected += hit;
        ++rep.perSource[key + "/" + r.source].attacks;
        rep.perSource[key + "/" + r.source].detected += hit;
        ++rep.overall.attacks;
        rep.overall.detected += hit;
        if (!hit && missesPerClass[r.cls]++ < samples) {
          rep.misses.push_back({r.id, r.cls, describe(r, v)});
        }
      } else {
        ++cls.benign;
        cls.passed += !hit;
        ++rep.perFile[key].benign;
        rep.perFile[key].passed += !hit;
        ++rep.perSource[key + "/" + r.source].benign;
        rep.perSource[key + "/" + r.source].passed += !hit;
        if (hit) {
          for (const auto& f : v.findings) {
            ++rep.fpByRule[std::to_string(f.ruleId) + " " + f.part.substr(0, f.part.find(':'))];
          }
        }
        ++rep.overall.benign;
        rep.overall.passed += !hit;
        if (hit && rep.falsePositives.size() < samples * 4) {
          rep.falsePositives.push_back({r.id, r.cls, describe(r, v)});
        }
      }
    }
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return rep;
}

std::string format(const Report& rep) {
  std::ostringstream o;
  char line[256];
  o << "per file (TPR excludes class 'other'):\n";
  std::snprintf(line, sizeof line, "  %-18s %8s %8s %8s %8s %9s %9s\n", "file", "attacks",
                "detected", "benign", "passed", "TPR %", "TNR %");
  o << line;
  auto row = [&](const std::string& name, const Counts& c) {
    std::snprintf(line, sizeof line, "  %-18s %8zu %8zu %8zu %8zu %9.2f %9.2f\n", name.c_str(),
                  c.attacks, c.detected, c.benign, c.passed, c.tpr(), c.tnr());
    o << line;
  };
  for (const auto& [name, c] : rep.perFile) {
    row(name, c);
  }
  row("overall", rep.overall);
  o << "per class:\n";
  for (const auto& [name, c] : rep.perClass) {
    row(name, c);
  }
  o << "class 'other' (reported separately):\n";
  for (const auto& [name, c] : rep.otherPerFile) {
    row(name, c);
  }
  std::snprintf(line, sizeof line, "%zu requests in %.2f s (%.0f req/s, one thread)\n",
                rep.requests, rep.seconds, rep.seconds > 0 ? rep.requests / rep.seconds : 0.0);
  o << line;
  return o.str();
}

} // namespace bulwark::detect::corpus

// bulwark_detect_bench: inspection throughput on a mix of corpus requests (one thread = one
// core). Counters: requests/s per core. Without the corpus (BULWARK_CORPUS_DIR or
// ../shared/corpus) a small built-in mix is used.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "corpus.h"

namespace {

using namespace bulwark::detect;

struct Mix {
  std::vector<corpus::Record> all;   // every record, shuffled
  std::vector<corpus::Record> small; // benign GETs without a body ("small requests")
};

corpus::Record make(std::string method, std::string target,
                    std::vector<std::pair<std::string, std::string>> headers, std::string body) {
  corpus::Record r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers = std::move(headers);
  r.body = std::move(body);
  for (const auto& [n, v] : r.headers) {
    r.headerViews.push_back(Header{n, v});
  }
  return r;
}

const Mix& mix() {
  static const Mix m = [] {
    Mix out;
    const std::string dir = corpus::defaultDir();
    if (!dir.empty()) {
      for (const auto& path : corpus::files(dir)) {
        auto recs = corpus::load(path);
        if (!recs) {
          continue;
        }
        for (auto& r : *recs) {
          out.all.push_back(r);
        }
      }
    }
    if (out.all.empty()) {
      std::fprintf(stderr, "bench: no corpus, using a built-in mix\n");
      out.all.push_back(make("GET", "/index.html", {{"Host", "a"}, {"User-Agent", "curl/8"}}, ""));
      out.all.push_back(make("GET", "/search?q=shoes&page=2",
                             {{"Host", "a"}, {"Accept", "*/*"}, {"Cookie", "sid=abc123"}}, ""));
      out.all.push_back(make("POST", "/login",
                             {{"Host", "a"}, {"Content-Type", "application/x-www-form-urlencoded"}},
                             "user=bob&pw=secret"));
      out.all.push_back(make("GET", "/?id=1%27%20or%20%271%27%3D%271", {{"Host", "a"}}, ""));
    }
    std::mt19937 rng(42);
    std::shuffle(out.all.begin(), out.all.end(), rng);
    for (const auto& r : out.all) {
      if (r.label != "attack" && r.body.empty() && r.method == "GET" && out.small.size() < 20000) {
        out.small.push_back(r);
      }
    }
    if (out.small.empty()) {
      out.small = out.all;
    }
    // Views point into the records: rebuild them after the copies.
    for (auto* v : {&out.all, &out.small}) {
      for (auto& r : *v) {
        r.headerViews.clear();
        for (const auto& [n, val] : r.headers) {
          r.headerViews.push_back(Header{n, val});
        }
      }
    }
    return out;
  }();
  return m;
}

const Engine& engine() {
  static const EnginePtr e = [] {
    auto r = Engine::create(EngineConfig{});
    if (!r) {
      std::fprintf(stderr, "bench: %s\n", r.error().describe().c_str());
      std::abort();
    }
    return *r;
  }();
  return *e;
}

void run(benchmark::State& state, const std::vector<corpus::Record>& reqs) {
  const Engine& e = engine();
  size_t i = 0;
  size_t attacks = 0;
  for (auto _ : state) {
    const Verdict v = e.inspect(reqs[i].view());
    attacks += v.attack();
    benchmark::DoNotOptimize(v);
    if (++i == reqs.size()) {
      i = 0;
    }
  }
  state.counters["requests/s/core"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["attack_share"] =
      static_cast<double>(attacks) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
}

void BM_InspectSmallBenign(benchmark::State& state) { run(state, mix().small); }

// The smallest realistic requests: a page or API GET with the usual browser/probe headers.
void BM_InspectMinimal(benchmark::State& state) {
  static const std::vector<corpus::Record> reqs = [] {
    std::vector<corpus::Record> v;
    const std::vector<std::pair<std::string, std::string>> common = {
        {"Host", "shop.example.com"},
        {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"},
        {"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
        {"Accept-Language", "en-US,en;q=0.5"},
        {"Accept-Encoding", "gzip, deflate, br"}};
    for (const char* t : {"/", "/index.html", "/products/42", "/api/v1/items?page=2&limit=20",
                          "/static/app.3f2a1c9e.js", "/healthz", "/search?q=red+shoes"}) {
      v.push_back(make("GET", t, common, ""));
    }
    v.push_back(make("GET", "/healthz",
                     {{"Host", "10.1.2.3:8080"}, {"User-Agent", "kube-probe/1.30"}}, ""));
    return v;
  }();
  run(state, reqs);
}
void BM_InspectCorpusMix(benchmark::State& state) { run(state, mix().all); }

} // namespace

BENCHMARK(BM_InspectMinimal);
BENCHMARK(BM_InspectSmallBenign);
BENCHMARK(BM_InspectCorpusMix);

BENCHMARK_MAIN();

// bulwark-arm64-check: what a cross-built detection library does on its target, run under
// qemu-user by arm64_test.sh.
//   bulwark-arm64-check ruledb                  where each rule database comes from: "prebuilt"
//                                               (the serialized one linked in, deserialized on
//                                               this platform) or "compiled" (it was rejected),
//                                               and whether the linked full database has the
//                                               bytes this platform's vectorscan compiles (it
//                                               deserializes another architecture's database
//                                               without complaint, so that is the real check)
//   bulwark-arm64-check inspect METHOD TARGET [BODY]
//                                               the engine's verdict on one request:
//                                               "attack <class>..." or "clean"
#include <hs/hs.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <zlib.h>

#include "bulwark/detect/engine.h"
#include "ruledb.h"

namespace {

using namespace bulwark::detect;

int ruledb() {
  std::printf("vectorscan %s, platform %s\n", hs_version(),
              hs_valid_platform() == HS_SUCCESS ? "supported" : "NOT supported");
  int rc = 0;
  for (const auto& [set, name] : internal::kRuleSets) {
    const auto rules = internal::ruleSet(set);
    const internal::Prebuilt p = internal::prebuilt(set);
    std::string_view source;
    auto db = internal::loadRuleSet(set, rules, &source);
    if (!db) {
      std::printf("ruledb %s: error: %s\n", name, db.error().describe().c_str());
      rc = 1;
      continue;
    }
    size_t size = 0;
    hs_database_size(*db, &size);
    char* info = nullptr;
    hs_database_info(*db, &info);
    std::printf("ruledb %s: %s, %zu rules, linked %zu bytes (fingerprint %s), %zu bytes loaded, %s\n",
                name, std::string(source).c_str(), rules.size(), p.size,
                p.fingerprint == internal::fingerprint(rules) ? "matches" : "differs", size,
                info != nullptr ? info : "?");
    std::free(info);
    hs_free_database(*db);
  }
  // The full set (the plain one compiles to the same bytes on x86-64 and AArch64), compiled here
  // exactly as bulwark-detect-dbgen does, against the linked bytes.
  const auto rules = internal::ruleSet(internal::RuleSet::Full);
  const internal::Prebuilt p = internal::prebuilt(internal::RuleSet::Full);
  std::vector<unsigned char> linked(p.rawSize);
  uLongf n = static_cast<uLongf>(linked.size());
  if (p.size == 0 ||
      uncompress(linked.data(), &n, p.data, static_cast<uLong>(p.size)) != Z_OK ||
      n != linked.size()) {
    std::printf("ruledb full: no linked database to compare\n");
    return 1;
  }
  hs_platform_info_t generic{};
  generic.tune = HS_TUNE_FAMILY_GENERIC;
  generic.cpu_features = 0;
  auto db = internal::compileRuleSet(rules, &generic);
  if (!db) {
    std::printf("ruledb full: compile error: %s\n", db.error().describe().c_str());
    return 1;
  }
  char* bytes = nullptr;
  size_t size = 0;
  const bool serialized = hs_serialize_database(*db, &bytes, &size) == HS_SUCCESS;
  hs_free_database(*db);
  const bool same = serialized && size == linked.size() &&
                    std::memcmp(bytes, linked.data(), size) == 0;
  std::free(bytes);
  std::printf("ruledb full: linked bytes %s the database compiled on this platform (%zu / %zu bytes)\n",
              same ? "equal" : "DIFFER FROM", linked.size(), size);
  return same ? rc : 1;
}

int inspect(std::string_view method, std::string_view target, std::string_view body) {
  auto engine = Engine::create(EngineConfig{});
  if (!engine) {
    std::printf("engine: %s\n", engine.error().describe().c_str());
    return 1;
  }
  const Header headers[] = {{"Host", "app.example"}, {"User-Agent", "curl/7.88.1"}};
  RequestView req;
  req.method = method;
  req.target = target;
  req.headers = headers;
  req.body = body;
  const Verdict v = (*engine)->inspect(req);
  if (!v.attack()) {
    std::printf("clean (score %d of %d)\n", v.score, v.threshold);
    return 0;
  }
  std::string classes;
  for (const Finding& f : v.findings) {
    const std::string c(className(f.cls));
    if (classes.find(" " + c + " ") == std::string::npos) {
      classes += " " + c + " ";
    }
  }
  std::printf("attack%s(score %d of %d)\n", classes.c_str(), v.score, v.threshold);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  const std::string_view cmd = argc > 1 ? argv[1] : "";
  if (cmd == "ruledb" && argc == 2) {
    return ruledb();
  }
  if (cmd == "inspect" && (argc == 4 || argc == 5)) {
    return inspect(argv[2], argv[3], argc == 5 ? argv[4] : "");
  }
  std::fprintf(stderr, "usage: bulwark-arm64-check ruledb | inspect METHOD TARGET [BODY]\n");
  return 2;
}

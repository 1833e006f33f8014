#include "bulwark/filter/snapshot.h"

#include <sys/stat.h>

#include <fstream>

namespace bulwark::filter {

detect::EngineConfig engineConfigFor(const Policy& p) {
  detect::EngineConfig ec;
  ec.maxBodyBytes = p.inspectBodyBytes;
  ec.maxDepth = p.maxDepth;
  ec.maxArgs = p.maxArgs;
  // Past max_depth / max_args the engine keeps scanning (nothing is hidden), so those limits
  // are counted, never blocked; on_limit is applied by the proxy to body bytes it could not
  // inspect (body_stream.h).
  ec.onLimit = detect::EngineConfig::OnLimit::Inspect;
  // A request whose inspection runs out of CPU time is one the proxy could not inspect whole:
  // on_limit decides, as for a body past inspect_body_max_bytes.
  ec.timeBudget = std::chrono::milliseconds(p.inspectTimeBudgetMs);
  return ec;
}

Result<std::shared_ptr<const std::string>> loadBlockPage(const ProxyConfig& cfg) {
  if (cfg.blockPage.empty()) {
    return std::shared_ptr<const std::string>();
  }
  const std::string what = cfg.blockPageSource.empty() ? "block_page" : cfg.blockPageSource;
  struct stat st{};
  std::ifstream in(cfg.blockPage, std::ios::binary);
  if (::stat(cfg.blockPage.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !in) {
    return BW_INVALID(what + ": cannot read the block page '" + cfg.blockPage + "'");
  }
  std::string page;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    page.append(buf, static_cast<size_t>(in.gcount()));
    if (page.size() > kMaxBlockPageBytes) {
      return BW_INVALID(what + ": the block page '" + cfg.blockPage + "' is larger than " +
                        std::to_string(kMaxBlockPageBytes) + " bytes");
    }
  }
  if (in.bad()) {
    return BW_INVALID(what + ": cannot read the block page '" + cfg.blockPage + "'");
  }
  return std::make_shared<const std::string>(std::move(page));
}

Result<std::shared_ptr<const FilterSnapshot>> buildSnapshot(const ProxyConfig& cfg,
                                                            const FilterSnapshot* previous,
                                                            std::string* pageError) {
  auto page = loadBlockPage(cfg);
  if (!page) {
    if (!previous) {
      return tl::unexpected(page.error());
    }
    if (pageError) {
      *pageError = page.error().describe();
    }
    page = previous->blockPage;
  }
  auto policy = buildPolicy(cfg);
  if (!policy) {
    return tl::unexpected(policy.error());
  }
  auto engine = detect::Engine::create(engineConfigFor(**policy));
  if (!engine) {
    return tl::unexpected(engine.error().wrap("detection engine"));
  }
  auto snap = std::make_shared<FilterSnapshot>();
  snap->policy = std::move(*policy);
  snap->engine = std::move(*engine);
  snap->limits = cfg.limits;
  snap->blockPage = std::move(*page);
  return std::shared_ptr<const FilterSnapshot>(std::move(snap));
}

} // namespace bulwark::filter

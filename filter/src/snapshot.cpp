#include "bulwark/filter/snapshot.h"

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
  return ec;
}

Result<std::shared_ptr<const FilterSnapshot>> buildSnapshot(const ProxyConfig& cfg) {
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
  return std::shared_ptr<const FilterSnapshot>(std::move(snap));
}

} // namespace bulwark::filter

#include "bulwark/capture/apply.h"

namespace bulwark::capture {
namespace {

size_t ruleCount(const NftTable& t) {
  size_t n = 0;
  for (const auto& c : t.chains) {
    n += c.rules.size();
  }
  return n;
}

class NftablesApplier : public Applier {
public:
  explicit NftablesApplier(NetlinkOps& ops) : ops_(ops) {}

  std::string_view mode() const override { return "nftables"; }
  std::string describe() const override { return "nftables (table inet bulwark)"; }
  std::string render(const Plan& plan) const override { return renderNft(buildNftTable(plan)); }

  Result<ApplyReport> apply(const Plan& plan) override {
    const NftTable want = buildNftTable(plan);
    auto have = ops_.readTable(want.name);
    if (!have) {
      return tl::unexpected(have.error());
    }
    ApplyReport rep;
    if (*have && **have == want) {
      rep.actions.push_back("table inet " + want.name + " already up to date, nothing written");
      return rep;
    }
    if (auto st = ops_.replaceTable(want.name, &want); !st) {
      return tl::unexpected(st.error());
    }
    rep.changed = true;
    rep.actions.push_back(std::string(*have ? "replaced" : "created") + " table inet " +
                          want.name + " (" + std::to_string(want.chains.size()) + " chains, " +
                          std::to_string(ruleCount(want)) + " rules) in one netlink batch");
    return rep;
  }

  Result<VerifyReport> verify(const Plan& plan) override {
    const NftTable want = buildNftTable(plan);
    auto have = ops_.readTable(want.name);
    if (!have) {
      return tl::unexpected(have.error());
    }
    VerifyReport rep;
    const std::string expected = renderNft(want);
    const std::string found = *have ? renderNft(**have) : std::string();
    if (!*have || **have != want) {
      rep.ok = false;
      rep.diff = *have ? lineDiff(expected, found)
                       : "- table inet " + want.name + " (absent from the kernel)\n";
    }
    return rep;
  }

  Result<ApplyReport> cleanup() override {
    const std::string name(kNftTable);
    auto have = ops_.readTable(name);
    if (!have) {
      return tl::unexpected(have.error());
    }
    ApplyReport rep;
    if (!*have) {
      rep.actions.push_back("table inet " + name + " absent, nothing to remove");
      return rep;
    }
    if (auto st = ops_.replaceTable(name, nullptr); !st) {
      return tl::unexpected(st.error());
    }
    rep.changed = true;
    rep.actions.push_back("deleted table inet " + name);
    return rep;
  }

private:
  NetlinkOps& ops_;
};

} // namespace

ApplierPtr makeNftablesApplier(NetlinkOps& ops) { return std::make_unique<NftablesApplier>(ops); }

} // namespace bulwark::capture

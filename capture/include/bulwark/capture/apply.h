#pragma once

// Appliers put a Plan into the kernel, check it is there, and take it out again. They reach the
// OS only through CommandRunner / NetlinkOps (ops.h), so tests drive them with recording fakes.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/capture/ops.h"
#include "bulwark/capture/plan.h"
#include "bulwark/common/result.h"

namespace bulwark::capture {

struct ApplyReport {
  bool changed = false;
  std::vector<std::string> actions; // one line per step, e.g. "ipv4: replaced 3 chains, 5 rules"
};

struct VerifyReport {
  bool ok = true;
  std::string diff; // "-" expected but missing, "+" present but not expected
};

class Applier {
public:
  virtual ~Applier() = default;
  virtual std::string_view mode() const = 0; // "nftables" / "iptables"
  virtual std::string describe() const = 0;  // "iptables (nft backend)"
  // What apply() would install, as text (the dry run).
  virtual std::string render(const Plan& plan) const = 0;
  // Idempotent: when the kernel already holds exactly the plan, nothing is written.
  virtual Result<ApplyReport> apply(const Plan& plan) = 0;
  virtual Result<VerifyReport> verify(const Plan& plan) = 0;
  // Removes every Bulwark object (and nothing else); nothing to remove is success.
  virtual Result<ApplyReport> cleanup() = 0;
};
using ApplierPtr = std::unique_ptr<Applier>;

enum class IptablesBackend : uint8_t { Legacy, Nft };
std::string_view backendName(IptablesBackend b); // "legacy" / "nft"

// Program names for a backend and family, e.g. "ip6tables-nft-restore".
std::string iptablesTool(IptablesBackend b, Family f, std::string_view suffix);

ApplierPtr makeIptablesApplier(CommandRunner& runner, IptablesBackend backend);
ApplierPtr makeNftablesApplier(NetlinkOps& ops);

// "-"/"+" line diff of two texts (LCS based; inputs are small).
std::string lineDiff(std::string_view expected, std::string_view found);

} // namespace bulwark::capture

#pragma once

// Renderers: a Plan becomes iptables-restore text (one per family) or an nftables model (one
// `inet bulwark` table). Both are deterministic: same plan, same bytes (sorted, no time, no pid).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bulwark/capture/plan.h"

namespace bulwark::capture {

// ---- iptables --------------------------------------------------------------------------------

inline constexpr std::string_view kIptablesTable = "nat";
inline constexpr std::string_view kChainPrefix = "BULWARK_";
inline constexpr std::string_view kInboundChain = "BULWARK_INBOUND";
inline constexpr std::string_view kOutputChain = "BULWARK_OUTPUT";
inline constexpr std::string_view kRedirectChain = "BULWARK_REDIRECT";
inline constexpr std::string_view kCommentPrefix = "bulwark:";

// A jump from a built-in chain into one of ours.
struct IptablesHook {
  std::string chain; // PREROUTING / OUTPUT
  std::string spec;  // "-m comment --comment bulwark:inbound -j BULWARK_INBOUND"
  std::string line() const { return "-A " + chain + " " + spec; }
  bool operator==(const IptablesHook&) const = default;
};

// The rules of one family, every line in the exact form iptables-save prints it, so verify can
// compare the kernel's dump with them as text.
struct IptablesRules {
  Family family = Family::V4;
  std::vector<std::string> chains; // our chains, sorted
  std::vector<std::string> rules;  // "-A BULWARK_… …" in chain order, then rule order
  std::vector<IptablesHook> hooks; // sorted by chain
};

[[nodiscard]] IptablesRules renderIptables(const Plan& plan, Family family);

// A complete `iptables-restore --noflush` input that installs `rules` from scratch (declaring
// a chain flushes it, so re-running it replaces our chains; hooks are inserted at the top).
[[nodiscard]] std::string renderIptablesRestore(const IptablesRules& rules);

// ---- nftables --------------------------------------------------------------------------------

inline constexpr std::string_view kNftTable = "bulwark"; // family inet

enum class NftVerdict : uint8_t { Return, Redirect };

// One rule, as the small set of matches Bulwark uses. Every field that is set must match.
// Addresses imply `meta nfproto`, a port implies `meta l4proto tcp`; buildNftTable() sets the
// implied fields explicitly so that a rule read back from the kernel compares equal.
struct NftRule {
  std::optional<std::string> iifname;
  std::optional<Family> nfproto;
  std::optional<Cidr> saddr;
  std::optional<Cidr> daddr;
  bool tcp = false;
  std::optional<uint16_t> dport;
  std::optional<uint32_t> skuid;
  NftVerdict verdict = NftVerdict::Return;
  uint16_t redirectPort = 0;
  std::string comment;
  // Only for rules read back from the kernel: expressions Bulwark never writes.
  std::string unrecognized;
  bool operator==(const NftRule&) const = default;
};

struct NftChain {
  std::string name;
  std::string type = "nat";
  std::string hook; // "prerouting" / "output"
  int priority = -100;
  std::vector<NftRule> rules;
  bool operator==(const NftChain&) const = default;
};

struct NftTable {
  std::string name = std::string(kNftTable);
  std::vector<NftChain> chains; // sorted by name
  bool operator==(const NftTable&) const = default;
};

[[nodiscard]] NftTable buildNftTable(const Plan& plan);

// `nft -f` syntax, like `nft list table inet bulwark` prints it.
[[nodiscard]] std::string renderNft(const NftTable& table);
[[nodiscard]] std::string renderNftRule(const NftRule& rule);

} // namespace bulwark::capture

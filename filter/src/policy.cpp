#include "bulwark/filter/policy.h"

#include <cstring>

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

#include "bulwark/common/cli.h"

namespace bulwark::filter {

std::optional<std::array<uint8_t, 16>> parseIp(std::string_view text) {
  std::array<uint8_t, 16> out{};
  if (text.empty() || text.size() > 45) {
    return std::nullopt;
  }
  std::string s(text);
  if (s.find(':') == std::string::npos) {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) {
      return std::nullopt;
    }
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, &a, 4);
    return out;
  }
  in6_addr a{};
  if (inet_pton(AF_INET6, s.c_str(), &a) != 1) {
    return std::nullopt;
  }
  std::memcpy(out.data(), &a, 16);
  return out;
}

Result<Cidr> Cidr::parse(std::string_view text) {
  Cidr c;
  const auto slash = text.find('/');
  const std::string_view addr = text.substr(0, slash);
  const auto ip = parseIp(addr);
  if (!ip) {
    return BW_INVALID("'" + std::string(text) + "' is not an IP address or CIDR");
  }
  c.addr = *ip;
  const bool v4 = addr.find(':') == std::string_view::npos;
  const unsigned maxPrefix = v4 ? 32 : 128;
  unsigned prefix = maxPrefix;
  if (slash != std::string_view::npos) {
    const auto p = cli::parseUint(text.substr(slash + 1), 0, maxPrefix);
    if (!p) {
      return BW_INVALID("'" + std::string(text) + "' has an invalid prefix length (0-" +
                        std::to_string(maxPrefix) + ")");
    }
    prefix = static_cast<unsigned>(*p);
  }
  c.prefix = static_cast<uint8_t>(v4 ? prefix + 96 : prefix);
  // Clear host bits so "10.1.2.3/8" means 10.0.0.0/8.
  for (unsigned bit = c.prefix; bit < 128; ++bit) {
    c.addr[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return c;
}

bool Cidr::contains(const std::array<uint8_t, 16>& ip) const {
  const unsigned full = prefix / 8;
  if (std::memcmp(ip.data(), addr.data(), full) != 0) {
    return false;
  }
  const unsigned rest = prefix % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (ip[full] & mask) == (addr[full] & mask);
}

bool IpList::contains(const std::array<uint8_t, 16>& ip) const {
  for (const auto& c : cidrs_) {
    if (c.contains(ip)) {
      return true;
    }
  }
  return false;
}

Mode Policy::modeFor(std::string_view host, std::string_view path) const {
  for (const auto& o : overrides) {
    if (!o.hasMode || (!o.host.empty() && o.host != host)) {
      continue;
    }
    if (path.substr(0, o.pathPrefix.size()) == o.pathPrefix) {
      return o.mode;
    }
  }
  return mode;
}

uint8_t Policy::paranoiaFor(std::string_view host, std::string_view path) const {
  for (const auto& o : overrides) {
    if (o.paranoiaLevel == 0 || (!o.host.empty() && o.host != host)) {
      continue;
    }
    if (path.substr(0, o.pathPrefix.size()) == o.pathPrefix) {
      return o.paranoiaLevel;
    }
  }
  return paranoiaLevel;
}

namespace {

using json = nlohmann::json;

Status addList(const json& v, const std::string& key, IpList& list) {
  if (!v.is_array()) {
    return BW_INVALID(key + ": expected an array of CIDR strings");
  }
  for (const auto& item : v) {
    if (!item.is_string()) {
      return BW_INVALID(key + ": expected an array of CIDR strings");
    }
    auto c = Cidr::parse(item.get<std::string>());
    if (!c) {
      return tl::unexpected(std::move(c.error()).wrap(key));
    }
    list.add(*c);
  }
  return {};
}

Result<uint64_t> uintIn(const json& v, const std::string& key, uint64_t min, uint64_t max) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<uint64_t>() < min ||
      v.get<uint64_t>() > max) {
    return BW_INVALID(key + ": expected an integer " + std::to_string(min) + ".." +
                      std::to_string(max));
  }
  return v.get<uint64_t>();
}

} // namespace

Result<std::shared_ptr<const Policy>> buildPolicy(const ProxyConfig& cfg) {
  auto p = std::make_shared<Policy>();
  if (auto st = applyPolicyJson(cfg.policyJson, *p); !st) {
    return tl::unexpected(st.error());
  }
  p->mode = cfg.mode;
  p->application = cfg.application;
  p->nodeGroup = cfg.nodeGroup;
  p->probes = cfg.probePaths;
  if (cfg.paranoiaLevel) {
    p->paranoiaLevel = *cfg.paranoiaLevel;
  }
  return std::shared_ptr<const Policy>(std::move(p));
}

namespace {

Status applyPolicyJsonImpl(std::string_view text, Policy& out) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) { // parse errors and out-of-range numbers
    return BW_INVALID(std::string("policy: not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) {
    return BW_INVALID("policy: expected an object");
  }
  for (const auto& [key, v] : doc.items()) {
    const std::string k = "policy." + key;
    Status st;
    if (key == "allow") {
      st = addList(v, k, out.allow);
    } else if (key == "deny") {
      st = addList(v, k, out.deny);
    } else if (key == "gray") {
      st = addList(v, k, out.gray);
    } else if (key == "trust_forwarded_for") {
      if (!v.is_boolean()) {
        return BW_INVALID(k + ": expected true or false");
      }
      out.trustForwardedFor = v.get<bool>();
    } else if (key == "inspect_body_bytes") {
      auto n = uintIn(v, k, 0, 64ULL << 20);
      if (!n) {
        return tl::unexpected(n.error());
      }
      out.inspectBodyBytes = *n;
    } else if (key == "inspect_body_max_bytes") {
      auto n = uintIn(v, k, 0, 1ULL << 50);
      if (!n) {
        return tl::unexpected(n.error());
      }
      out.inspectBodyMaxBytes = *n;
    } else if (key == "inspect_time_budget_ms") {
      auto n = uintIn(v, k, 0, 60000);
      if (!n) {
        return tl::unexpected(n.error());
      }
      out.inspectTimeBudgetMs = static_cast<uint32_t>(*n);
    } else if (key == "max_depth") {
      auto n = uintIn(v, k, 1, 1024);
      if (!n) {
        return tl::unexpected(n.error());
      }
      out.maxDepth = static_cast<uint32_t>(*n);
    } else if (key == "max_args") {
      auto n = uintIn(v, k, 1, 1000000);
      if (!n) {
        return tl::unexpected(n.error());
      }
      out.maxArgs = static_cast<uint32_t>(*n);
    } else if (key == "paranoia_level") {
      auto n = uintIn(v, k, 1, 4);
      if (!n) {
        return tl::unexpected(n.error());
      }
      out.paranoiaLevel = static_cast<uint8_t>(*n);
    } else if (key == "on_limit") {
      if (v == "pass") {
        out.onLimit = LimitAction::Pass;
      } else if (v == "block") {
        out.onLimit = LimitAction::Block;
      } else {
        return BW_INVALID(k + ": expected \"pass\" or \"block\"");
      }
    } else if (key == "overrides") {
      if (!v.is_array()) {
        return BW_INVALID(k + ": expected an array of {path_prefix, host, mode, paranoia_level}");
      }
      for (const auto& o : v) {
        if (!o.is_object()) {
          return BW_INVALID(k + ": expected an array of {path_prefix, host, mode, paranoia_level}");
        }
        ModeOverride mo;
        bool hasMode = false;
        for (const auto& [ok, ov] : o.items()) {
          if (ok == "paranoia_level") {
            auto n = uintIn(ov, k + "[].paranoia_level", 1, 4);
            if (!n) {
              return tl::unexpected(n.error());
            }
            mo.paranoiaLevel = static_cast<uint8_t>(*n);
            continue;
          }
          if (!ov.is_string()) {
            return BW_INVALID(k + "[]." + ok + ": expected a string");
          }
          const auto s = ov.get<std::string>();
          if (ok == "path_prefix") {
            mo.pathPrefix = s;
          } else if (ok == "host") {
            mo.host = s;
            for (auto& c : mo.host) {
              c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
          } else if (ok == "mode") {
            if (!parseMode(s, mo.mode)) {
              return BW_INVALID(k + "[].mode: '" + s + "' is not one of off|monitoring|safe_blocking|block");
            }
            hasMode = true;
          } else {
            return BW_INVALID(k + "[]." + ok + ": unknown key");
          }
        }
        if (!hasMode && mo.paranoiaLevel == 0) {
          return BW_INVALID(k + "[]: needs a mode or a paranoia_level");
        }
        mo.hasMode = hasMode;
        out.overrides.push_back(std::move(mo));
      }
    } else {
      return BW_INVALID(k + ": unknown key");
    }
    if (!st) {
      return st;
    }
  }
  if (out.inspectBodyMaxBytes != 0 && out.inspectBodyMaxBytes < out.inspectBodyBytes) {
    return BW_INVALID("policy.inspect_body_max_bytes: " + std::to_string(out.inspectBodyMaxBytes) +
                      " is below policy.inspect_body_bytes (" +
                      std::to_string(out.inspectBodyBytes) + "); use 0 for no cap");
  }
  return {};
}

} // namespace

Status applyPolicyJson(std::string_view text, Policy& out) {
  auto st = applyPolicyJsonImpl(text, out);
  if (!st) {
    return tl::unexpected(oneLine(st.error()));
  }
  return st;
}

} // namespace bulwark::filter

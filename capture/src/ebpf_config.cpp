// eBPF capture: the pure parts — plan → program configuration, its text and JSON forms, the
// reason labels, the holder's status document and its metrics.

#include <algorithm>

#include <nlohmann/json.hpp>

#include "bulwark/capture/ebpf.h"

extern "C" {
#include "bw_reasons.h"
}

namespace bulwark::capture {
namespace {

using nlohmann::json;

std::string joinPorts(const std::vector<uint16_t>& v) {
  std::string out;
  for (auto p : v) {
    out += (out.empty() ? "" : " ") + std::to_string(p);
  }
  return out.empty() ? "-" : out;
}

std::string joinCidrs(const std::vector<Cidr>& v, bool hostsBare) {
  std::string out;
  for (const auto& c : v) {
    out += (out.empty() ? "" : " ") + (hostsBare && c.isHost() ? c.addrStr() : c.str());
  }
  return out.empty() ? "-" : out;
}

Result<std::vector<Cidr>> cidrsFrom(const json& j, std::string_view what) {
  std::vector<Cidr> out;
  if (!j.is_array()) {
    return BW_INVALID(std::string(what) + ": not a list");
  }
  for (const auto& item : j) {
    if (!item.is_string()) {
      return BW_INVALID(std::string(what) + ": not a string");
    }
    auto c = Cidr::parse(item.get<std::string>());
    if (!c) {
      return tl::unexpected(std::move(c.error()).wrap(what));
    }
    out.push_back(*c);
  }
  std::sort(out.begin(), out.end());
  return out;
}

json configJson(const EbpfConfig& c) {
  json j;
  j["fail_closed"] = c.failClosed;
  j["all_ports"] = c.allPorts;
  j["any_address"] = c.anyAddress;
  j["ipv4"] = c.ipv4;
  j["ipv6"] = c.ipv6;
  j["proxy_port"] = c.proxyPort;
  j["ports"] = c.ports;
  j["pod_addresses"] = json::array();
  for (const auto& a : c.podAddresses) {
    j["pod_addresses"].push_back(a.str());
  }
  j["skip_sources"] = json::array();
  for (const auto& a : c.skipSources) {
    j["skip_sources"].push_back(a.str());
  }
  return j;
}

Result<EbpfConfig> configFrom(const json& j) {
  if (!j.is_object()) {
    return BW_INVALID("ebpf config: not an object");
  }
  EbpfConfig c;
  try {
    c.failClosed = j.at("fail_closed").get<bool>();
    c.allPorts = j.at("all_ports").get<bool>();
    c.anyAddress = j.at("any_address").get<bool>();
    c.ipv4 = j.at("ipv4").get<bool>();
    c.ipv6 = j.at("ipv6").get<bool>();
    c.proxyPort = j.at("proxy_port").get<uint16_t>();
    c.ports = j.at("ports").get<std::vector<uint16_t>>();
  } catch (const json::exception& e) {
    return BW_INVALID(std::string("ebpf config: ") + e.what());
  }
  std::sort(c.ports.begin(), c.ports.end());
  c.ports.erase(std::unique(c.ports.begin(), c.ports.end()), c.ports.end());
  auto pods = cidrsFrom(j.value("pod_addresses", json::array()), "pod_addresses");
  if (!pods) {
    return tl::unexpected(pods.error());
  }
  auto skip = cidrsFrom(j.value("skip_sources", json::array()), "skip_sources");
  if (!skip) {
    return tl::unexpected(skip.error());
  }
  c.podAddresses = std::move(*pods);
  c.skipSources = std::move(*skip);
  return c;
}

} // namespace

EbpfConfig ebpfConfig(const Plan& plan, bool failClosed) {
  EbpfConfig c;
  c.failClosed = failClosed;
  c.allPorts = plan.portMode == PortMode::AllExcept;
  c.ports = c.allPorts ? plan.excludePorts : plan.appPorts;
  c.podAddresses = plan.podAddresses;
  c.anyAddress = plan.podAddresses.empty();
  c.ipv4 = plan.ipv4;
  c.ipv6 = plan.ipv6;
  c.proxyPort = plan.proxyPort;
  c.skipSources = plan.skipSources;
  c.skipSources.insert(c.skipSources.end(), plan.excludeCidrs.begin(), plan.excludeCidrs.end());
  std::sort(c.skipSources.begin(), c.skipSources.end());
  c.skipSources.erase(std::unique(c.skipSources.begin(), c.skipSources.end()),
                      c.skipSources.end());
  // The skip-UID guard of the netfilter modes has no counterpart: sk_lookup only sees
  // inbound lookups, and the proxy's connection to the app is loopback (never steered).
  return c;
}

std::string renderEbpf(const EbpfConfig& c) {
  std::string out;
  out += "sk_lookup program bw_steer on the pod's network namespace (link held by "
         "bulwark-init hold)\n";
  out += "  families: ";
  out += c.ipv4 && c.ipv6 ? "ipv4 ipv6" : c.ipv4 ? "ipv4" : c.ipv6 ? "ipv6" : "-";
  out += "\n";
  out += c.allPorts ? "  ports: all except " + joinPorts(c.ports) + "\n"
                    : "  ports: " + joinPorts(c.ports) + "\n";
  out += "  proxy port: " + std::to_string(c.proxyPort) + " (never steered)\n";
  out += "  pod addresses: " + (c.anyAddress ? std::string("any") : joinCidrs(c.podAddresses, true)) +
         "\n";
  out += "  never steered: loopback, the pod's own addresses, sources " +
         joinCidrs(c.skipSources, false) + "\n";
  out += std::string("  no proxy socket: ") +
         (c.failClosed ? "fail-closed (SK_DROP, client refused)"
                       : "fail-open (SK_PASS, to the app unfiltered)") +
         "\n";
  return out;
}

std::string ebpfConfigToJson(const EbpfConfig& cfg) { return configJson(cfg).dump(); }

Result<EbpfConfig> ebpfConfigFromJson(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return BW_INVALID("ebpf config: not JSON");
  }
  return configFrom(j);
}

const std::vector<std::string_view>& ebpfReasonLabels() {
  static const std::vector<std::string_view> labels = {
#define BW_REASON_LABEL(name, label, help) label,
      BW_REASONS(BW_REASON_LABEL)
#undef BW_REASON_LABEL
  };
  return labels;
}

std::string statusToJson(const HolderStatus& s) {
  json j;
  j["ok"] = true;
  j["attached"] = s.attached;
  j["prog_id"] = s.info.progId;
  j["prog_tag"] = s.info.progTag;
  j["link_id"] = s.info.linkId;
  j["socks_map_id"] = s.info.socksMapId;
  j["stats_map_id"] = s.info.statsMapId;
  j["config_map_id"] = s.info.configMapId;
  if (s.config) {
    j["config"] = configJson(*s.config);
  }
  j["listeners"] = {{"ipv4", s.listenerV4}, {"ipv6", s.listenerV6}};
  j["handoffs"] = s.handoffs;
  j["counters"] = json::object();
  for (const auto& [label, n] : s.counters) {
    j["counters"][label] = n;
  }
  return j.dump();
}

Result<HolderStatus> statusFromJson(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return BW_INVALID("holder status: not a JSON object");
  }
  if (!j.value("ok", false)) {
    return BW_ERR(std::make_error_code(std::errc::io_error),
                  "holder: " + j.value("error", std::string("request failed")));
  }
  HolderStatus s;
  try {
    s.attached = j.at("attached").get<bool>();
    s.info.progId = j.value("prog_id", 0u);
    s.info.progTag = j.value("prog_tag", std::string());
    s.info.linkId = j.value("link_id", 0u);
    s.info.socksMapId = j.value("socks_map_id", 0u);
    s.info.statsMapId = j.value("stats_map_id", 0u);
    s.info.configMapId = j.value("config_map_id", 0u);
    s.listenerV4 = j.at("listeners").at("ipv4").get<bool>();
    s.listenerV6 = j.at("listeners").at("ipv6").get<bool>();
    s.handoffs = j.value("handoffs", uint64_t{0});
    if (j.contains("counters")) {
      for (const auto& [k, v] : j.at("counters").items()) {
        s.counters.emplace_back(k, v.get<uint64_t>());
      }
    }
  } catch (const json::exception& e) {
    return BW_INVALID(std::string("holder status: ") + e.what());
  }
  if (j.contains("config")) {
    auto c = configFrom(j.at("config"));
    if (!c) {
      return tl::unexpected(std::move(c.error()).wrap("holder status"));
    }
    s.config = std::move(*c);
  }
  return s;
}

std::string renderEbpfMetrics(const HolderStatus& s) {
  std::string out;
  out += "# HELP bulwark_ebpf_lookups_total sk_lookup decisions of the eBPF capture, by reason.\n";
  out += "# TYPE bulwark_ebpf_lookups_total counter\n";
  for (const auto& [label, n] : s.counters) {
    out += "bulwark_ebpf_lookups_total{reason=\"" + label + "\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP bulwark_ebpf_attached Whether the steering program is attached (1) or not.\n";
  out += "# TYPE bulwark_ebpf_attached gauge\n";
  out += "bulwark_ebpf_attached " + std::string(s.attached ? "1" : "0") + "\n";
  out += "# HELP bulwark_ebpf_listener Whether the proxy's socket is in the steering map.\n";
  out += "# TYPE bulwark_ebpf_listener gauge\n";
  out += "bulwark_ebpf_listener{family=\"ipv4\"} " + std::string(s.listenerV4 ? "1" : "0") + "\n";
  out += "bulwark_ebpf_listener{family=\"ipv6\"} " + std::string(s.listenerV6 ? "1" : "0") + "\n";
  out += "# HELP bulwark_ebpf_handoffs_total Listening sockets received from the proxy.\n";
  out += "# TYPE bulwark_ebpf_handoffs_total counter\n";
  out += "bulwark_ebpf_handoffs_total " + std::to_string(s.handoffs) + "\n";
  return out;
}

} // namespace bulwark::capture

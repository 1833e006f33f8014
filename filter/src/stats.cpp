#include "bulwark/filter/stats.h"

namespace bulwark::filter {

namespace {

#define BW_NAME(n) #n,
constexpr std::array<std::string_view, static_cast<size_t>(UpstreamError::Count)>
    kUpstreamErrorNames = {BW_UPSTREAM_ERRORS(BW_NAME)};
constexpr std::array<std::string_view, static_cast<size_t>(Uninspected::Count)> kUninspectedNames =
    {BW_UNINSPECTED(BW_NAME)};
constexpr std::array<std::string_view, static_cast<size_t>(TimeoutKind::Count)> kTimeoutNames = {
    BW_TIMEOUTS(BW_NAME)};
constexpr std::array<std::string_view, static_cast<size_t>(InternalError::Count)>
    kInternalErrorNames = {BW_INTERNAL_ERRORS(BW_NAME)};
constexpr std::array<std::string_view, static_cast<size_t>(ConnReject::Count)> kConnRejectNames = {
    BW_CONN_REJECTS(BW_NAME)};
#undef BW_NAME

// One counter family with a single label whose values are `names`.
template <size_t N>
void labelled(metrics::TextWriter& w, std::string_view family, std::string_view help,
              std::string_view label, const std::array<std::string_view, N>& names,
              const std::array<metrics::Counter, N>& counters) {
  w.family(family, "counter", help);
  for (size_t i = 0; i < N; ++i) {
    std::string labels(label);
    labels += "=\"";
    labels += names[i];
    labels += '"';
    w.sample(family, labels, counters[i].value());
  }
}

} // namespace

std::string_view internalErrorName(InternalError e) {
  return kInternalErrorNames[static_cast<size_t>(e)];
}

ProxyStats& stats() {
  static ProxyStats s;
  return s;
}

std::string ProxyStats::render() const {
  metrics::TextWriter w;
#define BW_X(name, help)                                                                         \
  w.family("bulwark_" #name, "counter", help);                                                   \
  w.sample("bulwark_" #name, "", name.value());
  BW_PROXY_COUNTERS(BW_X)
#undef BW_X

  w.family("bulwark_requests_total", "counter", "Requests answered, by status class");
  for (size_t i = 0; i < requestsByClass.size(); ++i) {
    w.sample("bulwark_requests_total", "class=\"" + std::to_string(i + 1) + "xx\"",
             requestsByClass[i].value());
  }

  labelled(w, "bulwark_upstream_errors_total", "Failures talking to the app, by kind", "kind",
           kUpstreamErrorNames, upstreamErrors);
  labelled(w, "bulwark_uninspected_connections_total",
           "Connections passed through without HTTP inspection, by detected protocol", "reason",
           kUninspectedNames, uninspected);
  labelled(w, "bulwark_timeouts_total", "Connections or requests ended by a timeout", "kind",
           kTimeoutNames, timeouts);
  labelled(w, "bulwark_internal_errors_total",
           "Exceptions that escaped a connection or event loop (the connection was closed)",
           "where", kInternalErrorNames, internalErrors);
  labelled(w, "bulwark_connections_rejected_total",
           "Client connections closed at accept without being served, by the cap they hit",
           "reason", kConnRejectNames, connRejects);
  w.family("bulwark_memory_trims_total", "counter",
           "Times free allocator memory was returned to the system after connections closed");
  w.sample("bulwark_memory_trims_total", "", memoryTrims.value());
  w.family("bulwark_connections_max", "gauge", "The client connection cap (limits.max_connections)");
  w.sample("bulwark_connections_max", "", maxConnections.value());
  w.family("bulwark_bad_requests_total", "counter", "Requests refused as malformed, by reason");
  for (size_t i = 1; i < badRequests.size(); ++i) {
    w.sample("bulwark_bad_requests_total",
             "reason=\"" + std::string(http1::headErrorLabel(static_cast<http1::HeadError>(i))) +
                 "\"",
             badRequests[i].value());
  }
  w.family("bulwark_attacks_total", "counter", "Requests detected as attacks, by class and action");
  for (size_t c = 0; c < attacks.size(); ++c) {
    const std::string cls(detect::className(static_cast<detect::AttackClass>(c)));
    w.sample("bulwark_attacks_total", "class=\"" + cls + "\",action=\"logged\"", attacks[c][0].value());
    w.sample("bulwark_attacks_total", "class=\"" + cls + "\",action=\"blocked\"", attacks[c][1].value());
  }
  w.family("bulwark_denied_total", "counter", "Requests from deny-listed clients answered 403");
  w.sample("bulwark_denied_total", "", denied.value());
  w.family("bulwark_inspected_total", "counter", "Requests inspected by the detection engine");
  w.sample("bulwark_inspected_total", "", inspected.value());
  w.family("bulwark_inspection_limit_total", "counter", "Requests that exceeded an inspection limit");
  w.sample("bulwark_inspection_limit_total", "", inspectionLimit.value());
  w.family("bulwark_connections_active", "gauge", "Client connections open now");
  w.sample("bulwark_connections_active", "", connectionsActive.value());
  w.family("bulwark_draining", "gauge", "1 while the proxy drains after SIGTERM");
  w.sample("bulwark_draining", "", draining.value());
  w.histogram("bulwark_request_duration_seconds",
              "Time from the end of the request head to the end of the response", requestDuration);
  return std::move(w.text());
}

} // namespace bulwark::filter

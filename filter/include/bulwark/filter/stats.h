#pragma once

#include <array>
#include <string>

#include "bulwark/common/metrics.h"
#include "bulwark/detect/engine.h"
#include "bulwark/filter/http_head.h"

namespace bulwark::filter {

// Plain counters of the proxy: name suffix after "bulwark_", help text.
#define BW_PROXY_COUNTERS(C)                                                                     \
  C(connections_total, "Client connections accepted")                                            \
  C(request_bytes_total, "Bytes received from clients")                                          \
  C(response_bytes_total, "Bytes sent to clients")                                               \
  C(upstream_reused_total, "Requests sent on a pooled keep-alive app connection")                \
  C(upstream_connections_total, "New connections opened to the app")                             \
  C(probe_requests_total, "Kubelet probe requests (probe_paths) forwarded without inspection")   \
  C(body_windows_inspected_total, "Request body windows inspected past the buffered prefix")     \
  C(body_limit_total, "Requests whose body could not be inspected whole (on_limit applied)")    \
  C(body_limit_blocked_total, "Requests answered 413 because their body could not be inspected")\
  C(inspect_budget_total, "Inspections that ran out of their CPU time budget (on_limit applied)") \
  C(dropped_header_fields_total, "Header fields with an invalid name, inspected and not forwarded")

#define BW_UPSTREAM_ERRORS(X) X(connect) X(timeout) X(closed) X(bad_response)
#define BW_UNINSPECTED(X) X(http2) X(tls) X(unknown)
#define BW_TIMEOUTS(X) X(header) X(idle) X(body) X(send) X(upstream) X(tunnel)
// Where an exception escaped a coroutine or an event loop (should stay 0).
// Why a connection was closed at accept without being served.
#define BW_CONN_REJECTS(X) X(max_connections) X(max_connections_per_source)
#define BW_INTERNAL_ERRORS(X) X(session) X(tunnel) X(accept) X(sweep) X(worker) X(status)

enum class UpstreamError {
#define BW_X(n) n,
  BW_UPSTREAM_ERRORS(BW_X)
#undef BW_X
      Count
};
enum class Uninspected {
#define BW_X(n) n,
  BW_UNINSPECTED(BW_X)
#undef BW_X
      Count
};
enum class TimeoutKind {
#define BW_X(n) n,
  BW_TIMEOUTS(BW_X)
#undef BW_X
      Count
};

enum class InternalError {
#define BW_X(n) n,
  BW_INTERNAL_ERRORS(BW_X)
#undef BW_X
      Count
};
std::string_view internalErrorName(InternalError e);

enum class ConnReject {
#define BW_X(n) n,
  BW_CONN_REJECTS(BW_X)
#undef BW_X
      Count
};

struct ProxyStats {
#define BW_X(name, help) metrics::Counter name;
  BW_PROXY_COUNTERS(BW_X)
#undef BW_X
  std::array<metrics::Counter, 5> requestsByClass; // 1xx..5xx
  std::array<metrics::Counter, static_cast<size_t>(UpstreamError::Count)> upstreamErrors;
  std::array<metrics::Counter, static_cast<size_t>(Uninspected::Count)> uninspected;
  std::array<metrics::Counter, static_cast<size_t>(TimeoutKind::Count)> timeouts;
  std::array<metrics::Counter, static_cast<size_t>(http1::HeadError::Count)> badRequests;
  std::array<metrics::Counter, static_cast<size_t>(InternalError::Count)> internalErrors;
  std::array<metrics::Counter, static_cast<size_t>(ConnReject::Count)> connRejects;
  metrics::Counter memoryTrims; // allocator memory handed back after connections closed
  metrics::Gauge maxConnections; // the effective global connection cap
  // attacks by class and action (0 = logged, 1 = blocked)
  std::array<std::array<metrics::Counter, 2>, static_cast<size_t>(detect::AttackClass::Count)>
      attacks;
  metrics::Counter denied;          // deny-listed clients answered 403
  metrics::Counter inspectionLimit; // requests that hit an inspection limit
  metrics::Counter inspected;       // requests that went through the engine
  metrics::Gauge connectionsActive;
  metrics::Gauge draining;
  metrics::Histogram requestDuration;

  void countStatus(unsigned status) {
    if (status >= 100 && status < 600) {
      requestsByClass[status / 100 - 1].inc();
    }
  }
  void upstreamError(UpstreamError e) { upstreamErrors[static_cast<size_t>(e)].inc(); }
  void timeout(TimeoutKind k) { timeouts[static_cast<size_t>(k)].inc(); }
  void internalError(InternalError e) { internalErrors[static_cast<size_t>(e)].inc(); }
  void connReject(ConnReject r) { connRejects[static_cast<size_t>(r)].inc(); }
  void badRequest(http1::HeadError e) { badRequests[static_cast<size_t>(e)].inc(); }

  // Prometheus text exposition of everything above.
  std::string render() const;
};

ProxyStats& stats();

} // namespace bulwark::filter

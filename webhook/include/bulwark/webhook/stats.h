#pragma once

#include <array>
#include <string>

#include "bulwark/common/metrics.h"
#include "bulwark/webhook/inject.h"

namespace bulwark::webhook {

// Plain counters of the webhook: name suffix after "bulwark_webhook_", help text.
#define BW_WEBHOOK_COUNTERS(C)                                                                   \
  C(connections_total, "TLS connections accepted")                                               \
  C(tls_handshake_errors_total, "TLS handshakes that failed (protocol too old, bad client)")     \
  C(tls_reloads_total, "Certificate/key pairs (re)loaded from disk")                             \
  C(tls_reload_errors_total, "Changed certificate/key files that could not be loaded (old kept)") \
  C(warnings_total, "Admission warnings returned to the API server")                             \
  C(tls_handshake_timeouts_total, "Connections closed for not completing TLS in time")           \
  C(connections_evicted_total, "Connections without a byte yet, closed to make room at the cap") \
  C(connections_rejected_total, "Connections refused at the cap (none could be evicted)")     \
  C(internal_errors_total, "Exceptions that ended a connection or the accept loop (logged)")

#define BW_REVIEW_RESULTS(X) X(injected) X(skipped) X(denied) X(bad_request)
#define BW_HTTP_ERRORS(X) X(not_found) X(method) X(too_large) X(malformed) X(timeout)

enum class HttpError {
#define BW_X(n) n,
  BW_HTTP_ERRORS(BW_X)
#undef BW_X
      Count
};

struct WebhookStats {
#define BW_X(name, help) metrics::Counter name;
  BW_WEBHOOK_COUNTERS(BW_X)
#undef BW_X
  std::array<metrics::Counter, 4> reviews; // by ReviewResult
  std::array<metrics::Counter, static_cast<size_t>(HttpError::Count)> httpErrors;
  metrics::Gauge connectionsActive;
  metrics::Gauge tlsNotAfter; // Unix time the serving certificate expires
  metrics::Histogram reviewDuration;

  void review(ReviewResult r) { reviews[static_cast<size_t>(r)].inc(); }
  void httpError(HttpError e) { httpErrors[static_cast<size_t>(e)].inc(); }
  std::string render() const;
};

WebhookStats& stats();

} // namespace bulwark::webhook

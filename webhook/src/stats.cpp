#include "bulwark/webhook/stats.h"

namespace bulwark::webhook {

WebhookStats& stats() {
  static WebhookStats s;
  return s;
}

std::string WebhookStats::render() const {
  metrics::TextWriter w;
#define BW_X(name, help)                                                                         \
  w.family("bulwark_webhook_" #name, "counter", help);                                           \
  w.sample("bulwark_webhook_" #name, "", name.value());
  BW_WEBHOOK_COUNTERS(BW_X)
#undef BW_X
  w.family("bulwark_webhook_reviews_total", "counter", "AdmissionReviews answered, by result");
  {
    size_t i = 0;
#define BW_X(n) w.sample("bulwark_webhook_reviews_total", "result=\"" #n "\"", reviews[i++].value());
    BW_REVIEW_RESULTS(BW_X)
#undef BW_X
  }
  w.family("bulwark_webhook_http_errors_total", "counter", "HTTP requests refused, by reason");
  {
    size_t i = 0;
#define BW_X(n) w.sample("bulwark_webhook_http_errors_total", "reason=\"" #n "\"", httpErrors[i++].value());
    BW_HTTP_ERRORS(BW_X)
#undef BW_X
  }
  w.family("bulwark_webhook_connections_active", "gauge", "TLS connections open now");
  w.sample("bulwark_webhook_connections_active", "", connectionsActive.value());
  w.family("bulwark_webhook_tls_not_after_seconds", "gauge",
           "Expiry (Unix seconds) of the serving certificate in use");
  w.sample("bulwark_webhook_tls_not_after_seconds", "", tlsNotAfter.value());
  w.histogram("bulwark_webhook_review_duration_seconds",
              "Time to parse an AdmissionReview and compute the answer", reviewDuration);
  return std::move(w.text());
}

} // namespace bulwark::webhook

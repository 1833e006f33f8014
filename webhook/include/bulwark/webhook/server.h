#pragma once

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "bulwark/common/result.h"
#include "bulwark/webhook/config.h"

namespace bulwark::webhook {

// The HTTPS server: POST /inject (AdmissionReview v1), GET /healthz, GET /metrics. TLS 1.2+;
// the certificate and key are re-read when their files change, without a restart (new
// connections get the new pair, open ones keep theirs).
class Server {
public:
  static Result<std::unique_ptr<Server>> create(const WebhookConfig& cfg);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  void stop();
  uint16_t port() const;

private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::vector<std::thread> threads_;
};

} // namespace bulwark::webhook

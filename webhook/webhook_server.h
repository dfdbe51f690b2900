#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/health_handlers.h"
#include "common/http_server.h"
#include "common/kafka_producer.h"
#include "common/periodic_check.h"
#include "webhook/receiver_handler.h"
#include "webhook/signature.h"
#include "webhook/webhook_config.h"

namespace billing::webhook {

/// The `billing webhook` role: an HTTP server with the receiver and the ops endpoints. Owns the verifier, the
/// readiness check and the HTTP threads; borrows the producer (so tests and main decide its lifetime).
class WebhookServer {
 public:
  WebhookServer(const WebhookConfig& config, kafka::DurableProducer& producer);
  ~WebhookServer();

  void start();
  /// Stops accepting, lets in-flight requests finish (their delivery reports included).
  void stop();
  std::uint16_t port() const;
  bool ready() const;

 private:
  const WebhookConfig& config_;
  kafka::DurableProducer& producer_;
  SignatureVerifier verifier_;
  ReceiverMetrics metrics_;
  std::atomic<int> in_flight_{0};
  ReceiverContext context_;
  common::PeriodicCheck kafka_check_;
  http::HealthChecks checks_;
  std::unique_ptr<http::HttpServer> server_;
  bool running_ = false;
};

}  // namespace billing::webhook

#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/environment.h"
#include "common/http_settings.h"
#include "common/kafka_producer.h"
#include "common/kafka_settings.h"

namespace billing::webhook {

/// Everything `billing webhook` needs, parsed once from the environment.
struct WebhookConfig {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8080;
  std::vector<std::string> secrets;  // whsec_...; several at once during rotation, or test + live
  std::int64_t tolerance_seconds = 300;
  std::size_t max_body_bytes = 1024 * 1024;
  int threads = 128;  // HTTP threads; each waits for its delivery report, so size for the concurrency Stripe uses
  int retry_after_seconds = 10;
  std::string topic = "stripe.events";
  std::string log_level = "info";
  kafka::KafkaSettings kafka;
  kafka::ProducerOptions producer;
  http::ConnectionSettings connections;
};

struct LoadedWebhookConfig {
  WebhookConfig config;
  std::vector<std::string> errors;  // every problem found; empty means valid
};

/// Reads BILLING_* variables (documented in README.md) and validates them all at once.
LoadedWebhookConfig loadWebhookConfig(const common::Environment& env);

}  // namespace billing::webhook

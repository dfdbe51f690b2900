#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "common/kafka_producer.h"
#include "tests/support/http_client.h"
#include "webhook/webhook_config.h"
#include "webhook/webhook_server.h"

namespace billing::testing {

/// A WebhookServer on 127.0.0.1 (free port) with its own producer, for tests against the mock or a real broker.
struct RunningReceiver {
  webhook::WebhookConfig config;
  std::unique_ptr<kafka::DurableProducer> producer;
  std::unique_ptr<webhook::WebhookServer> server;

  RunningReceiver(const std::string& brokers, std::vector<std::string> secrets, int delivery_timeout_ms,
                  std::size_t max_body_bytes = 1024 * 1024);
  ~RunningReceiver();
  int port() const { return server->port(); }
  /// Waits until /readyz would answer 200; fails the test after `seconds`.
  void waitReady(int seconds);
};

/// POSTs `body` to /webhooks/stripe with a Stripe-Signature made now with `secret`.
HttpReply postSigned(HttpClient& client, const std::string& body, const std::string& secret);

}  // namespace billing::testing

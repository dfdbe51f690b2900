#include "tests/support/running_receiver.h"

#include <chrono>
#include <ctime>
#include <stdexcept>
#include <thread>

#include "webhook/signature.h"

namespace billing::testing {

RunningReceiver::RunningReceiver(const std::string& brokers, std::vector<std::string> secrets, int delivery_timeout_ms,
                                 std::size_t max_body_bytes) {
  config.host = "127.0.0.1";
  config.port = 0;
  config.secrets = std::move(secrets);
  config.max_body_bytes = max_body_bytes;
  config.threads = 32;
  config.kafka.brokers = brokers;
  config.producer.delivery_timeout_ms = delivery_timeout_ms;
  producer = std::make_unique<kafka::DurableProducer>(config.kafka, config.producer);
  server = std::make_unique<webhook::WebhookServer>(config, *producer);
  server->start();
}

RunningReceiver::~RunningReceiver() { server->stop(); }

void RunningReceiver::waitReady(int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!server->ready()) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("receiver not ready after " + std::to_string(seconds) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

HttpReply postSigned(HttpClient& client, const std::string& body, const std::string& secret) {
  auto header = webhook::makeSignatureHeader(secret, static_cast<std::int64_t>(std::time(nullptr)), body);
  return client.request("POST", "/webhooks/stripe", body, {{"Stripe-Signature", header}});
}

}  // namespace billing::testing

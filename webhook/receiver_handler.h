#pragma once
#include <Poco/Net/HTTPRequestHandler.h>

#include <atomic>
#include <string>

#include "common/kafka_producer.h"
#include "common/metrics.h"
#include "webhook/signature.h"
#include "webhook/webhook_config.h"

namespace billing::webhook {

/// Counters and timings of the receiver, registered once in the default registry.
struct ReceiverMetrics {
  ReceiverMetrics();
  metrics::Counter& accepted_snapshot;
  metrics::Counter& accepted_thin;
  metrics::Histogram& accepted_latency;
  metrics::Histogram& produce_latency;
  metrics::Counter& rejected(const std::string& reason);     // 4xx, by reason
  metrics::Counter& unavailable(const std::string& cause);   // 503, by cause
};

/// What every request shares: read-only settings, the verifier, the producer. Owned by WebhookServer.
struct ReceiverContext {
  const WebhookConfig& config;
  const SignatureVerifier& verifier;
  kafka::DurableProducer& producer;
  ReceiverMetrics& metrics;
  std::atomic<int>& in_flight;  // requests inside handleRequest; shutdown waits for them
};

/// POST /webhooks/stripe, one instance per request (Poco's HTTP threads). Steps, in order:
/// 1. POST only (405); 2. body within the limit (413), kept byte-for-byte; 3. Stripe-Signature (400 + reason);
/// 4. envelope (400 if not a JSON event); 5. produce and wait for the broker's acknowledgement;
/// 6. 200 only when delivered, else 503 + Retry-After so Stripe retries.
class ReceiverHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit ReceiverHandler(ReceiverContext& context) : context_(context) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override;

 private:
  void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  void reject(Poco::Net::HTTPServerResponse& response, int status, const std::string& code, const std::string& message);
  void unavailable(Poco::Net::HTTPServerResponse& response, const std::string& cause, const std::string& event_id);

  ReceiverContext& context_;
};

}  // namespace billing::webhook

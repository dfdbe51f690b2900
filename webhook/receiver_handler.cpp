#include "webhook/receiver_handler.h"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <chrono>
#include <ctime>
#include <exception>

#include "common/http_util.h"
#include "common/json_log.h"
#include "webhook/envelope.h"

namespace billing::webhook {
namespace {

constexpr const char* kRejections = "billing_webhook_rejected_total";
constexpr const char* kRejectionsHelp = "Webhook requests refused with a 4xx, by reason";
constexpr const char* kUnavailable = "billing_webhook_unavailable_total";
constexpr const char* kUnavailableHelp = "Webhook requests answered 503 because Kafka did not acknowledge, by cause";

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

ReceiverMetrics::ReceiverMetrics()
    : accepted_snapshot(metrics::defaultRegistry().counter("billing_webhook_accepted_total",
                                                           "Events acknowledged by Kafka and answered 200",
                                                           {{"kind", "snapshot"}})),
      accepted_thin(metrics::defaultRegistry().counter("billing_webhook_accepted_total",
                                                       "Events acknowledged by Kafka and answered 200",
                                                       {{"kind", "thin"}})),
      accepted_latency(metrics::defaultRegistry().histogram("billing_webhook_request_duration_seconds",
                                                            "Time from request to 200, accepted events",
                                                            metrics::latencyBuckets())),
      produce_latency(metrics::defaultRegistry().histogram("billing_webhook_produce_duration_seconds",
                                                           "Time from produce to delivery report",
                                                           metrics::latencyBuckets())) {
  // Pre-register every reason so dashboards see zeros instead of missing series.
  for (auto reason : {"missing_header", "malformed_header", "no_v1_signature", "no_matching_signature",
                      "timestamp_outside_tolerance", "invalid_json", "not_an_event", "body_too_large",
                      "method_not_allowed"}) {
    rejected(reason);
  }
  for (auto cause : {"failed", "queue_full", "timed_out", "producer_fatal"}) unavailable(cause);
}

metrics::Counter& ReceiverMetrics::rejected(const std::string& reason) {
  return metrics::defaultRegistry().counter(kRejections, kRejectionsHelp, {{"reason", reason}});
}

metrics::Counter& ReceiverMetrics::unavailable(const std::string& cause) {
  return metrics::defaultRegistry().counter(kUnavailable, kUnavailableHelp, {{"cause", cause}});
}

void ReceiverHandler::handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  context_.in_flight.fetch_add(1);
  struct Leave {
    std::atomic<int>& counter;
    ~Leave() { counter.fetch_sub(1); }
  } leave{context_.in_flight};
  try {
    handle(request, response);
  } catch (const std::exception& e) {
    log::error("webhook request failed", {{"error", e.what()}});
    if (!response.sent()) {
      response.setKeepAlive(false);
      http::sendJson(response, http::Status::HTTP_INTERNAL_SERVER_ERROR,
                     http::errorBody("api_error", "internal_error", "internal error; Stripe will retry"));
    }
  }
}

void ReceiverHandler::handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  auto started = std::chrono::steady_clock::now();
  const auto& config = context_.config;

  // 1. Method.
  if (request.getMethod() != "POST") {
    http::discardBody(request, response, config.max_body_bytes);
    response.set("Allow", "POST");
    reject(response, 405, "method_not_allowed", "use POST");
    return;
  }

  // 2. Body, exactly as received: the signature covers these bytes and Kafka gets these bytes.
  std::string body;
  if (http::readBody(request, config.max_body_bytes, body) == http::BodyRead::TooLarge) {
    response.setKeepAlive(false);  // the rest of the body is not worth reading
    reject(response, 413, "body_too_large",
           "body exceeds the limit of " + std::to_string(config.max_body_bytes) + " bytes");
    return;
  }

  // 3. Signature.
  std::optional<std::string_view> header;
  if (auto it = request.find("Stripe-Signature"); it != request.end()) header = it->second;
  auto verdict = context_.verifier.verify(body, header, static_cast<std::int64_t>(std::time(nullptr)));
  if (verdict != SignatureVerdict::Valid) {
    reject(response, 400, reasonCode(verdict), std::string("signature verification failed: ") + reasonCode(verdict));
    return;
  }

  // 4. Envelope: only what routing needs.
  auto parsed = extractEnvelope(body);
  if (parsed.error != EnvelopeError::None) {
    reject(response, 400, parsed.error == EnvelopeError::NotJson ? "invalid_json" : "not_an_event", parsed.detail);
    return;
  }
  const auto& event = parsed.envelope;

  // 5. Produce, and wait for the broker.
  if (context_.producer.fatal()) {
    unavailable(response, "producer_fatal", event.id);
    return;
  }
  kafka::MessageHeaders headers = {
      {"stripe-event-id", event.id},
      {"stripe-event-type", event.type},
      {"stripe-event-object", event.object},
      {"stripe-object-type", event.object_type},
      {"stripe-livemode", event.livemode ? "true" : "false"},
      {"stripe-api-version", event.api_version},
      {"stripe-event-created", std::to_string(event.created)},
  };
  auto produce_started = std::chrono::steady_clock::now();
  auto delivery = context_.producer.produce(config.topic, kafkaKey(event), body, headers);
  context_.metrics.produce_latency.observe(secondsSince(produce_started));
  if (delivery.status != kafka::DeliveryStatus::Delivered) {
    log::warn("event not acknowledged by kafka",
              {{"event_id", event.id}, {"cause", kafka::toString(delivery.status)}, {"error", delivery.error}});
    unavailable(response, kafka::toString(delivery.status), event.id);
    return;
  }

  // 6. Acknowledged: only now may Stripe consider the event delivered.
  (event.thin() ? context_.metrics.accepted_thin : context_.metrics.accepted_snapshot).inc();
  context_.metrics.accepted_latency.observe(secondsSince(started));
  if (log::enabled(log::Level::Debug)) {
    log::debug("event accepted", {{"event_id", event.id},
                                  {"type", event.type},
                                  {"partition", delivery.partition},
                                  {"offset", delivery.offset}});
  }
  http::sendJson(response, http::Status::HTTP_OK, {{"received", true}, {"id", event.id}});
}

void ReceiverHandler::reject(Poco::Net::HTTPServerResponse& response, int status, const std::string& code,
                             const std::string& message) {
  context_.metrics.rejected(code).inc();
  // The reason only: never the body, the signature header or anything derived from a secret.
  log::info("webhook rejected", {{"status", status}, {"reason", code}});
  http::sendJson(response, static_cast<http::Status>(status), http::errorBody("invalid_request_error", code, message));
}

void ReceiverHandler::unavailable(Poco::Net::HTTPServerResponse& response, const std::string& cause,
                                  const std::string& event_id) {
  context_.metrics.unavailable(cause).inc();
  response.set("Retry-After", std::to_string(context_.config.retry_after_seconds));
  http::sendJson(response, http::Status::HTTP_SERVICE_UNAVAILABLE,
                 http::errorBody("api_error", "kafka_unavailable",
                                 "event " + event_id + " was not stored; retry later"));
}

}  // namespace billing::webhook

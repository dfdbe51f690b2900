#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "api/api_config.h"
#include "common/kafka_producer.h"
#include "common/postgres.h"

namespace billing::api {

/// `POST /v1/usage`: validates each usage event on its own (known account and meter, whole non-negative value,
/// timestamp Stripe will still take, identifier), answers each as accepted, duplicate or rejected with its own
/// error, and makes the accepted ones durable in Kafka (one message per account, keyed by it) before answering 2xx.
/// A repeated identifier is a duplicate: seen in this batch, or recorded already by the usage reporter (an
/// identifier still in flight in Kafka is answered `accepted` and counted once all the same). Throws ApiError
/// (503 when Kafka doesn't acknowledge every message: retried, what was stored counts once).
class UsageIngest {
 public:
  UsageIngest(pg::Connection& db, kafka::DurableProducer& producer, const ApiConfig& config)
      : db_(db), producer_(producer), config_(config) {}

  /// `body` is one event (with `event_name`) or `{"events": [...]}`. Without its own `identifier`, an event's is
  /// derived from the request's Idempotency-Key and its position, so a retried request is deduplicated.
  nlohmann::json accept(const nlohmann::json& body, const std::string& idempotency_key, std::int64_t now);

 private:
  pg::Connection& db_;
  kafka::DurableProducer& producer_;
  const ApiConfig& config_;
};

/// `GET /v1/accounts/{id}/usage`: per configured meter, this billing period's total from our own records, split
/// into reported to Stripe, pending and failed, with a daily series and Stripe's recent meter errors.
nlohmann::json usageForAccount(pg::Connection& db, const ApiConfig& config, const std::string& customer_id);

}  // namespace billing::api

#pragma once
#include "common/http_settings.h"
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/environment.h"
#include "common/kafka_settings.h"
#include "stripe/stripe_client.h"
#include "workers/event_consumer.h"

namespace billing::workers {

/// Everything `billing usage-reporter` needs, parsed once from the environment.
struct UsageReporterConfig {
  std::string database_url;  // carries a password: never logged
  kafka::KafkaSettings kafka;
  ConsumerOptions consumer;              // the usage topic, group stripe-billing-usage
  std::string dlq_topic = "stripe.usage.dlq";
  std::size_t batch_max = 20;            // usage messages (each an ingested batch, up to 1000 events) per transaction
  int batch_linger_ms = 50;
  std::int64_t window_seconds = 300;     // usage is summed per customer, meter and window: one Stripe event each
  std::int64_t grace_seconds = 10;       // usage accepted this long after its window ends is summed with it (later: a new sum)
  /// A message can land in Kafka this much after one accepted later (the API's BILLING_KAFKA_DELIVERY_TIMEOUT_MS,
  /// 10 s by default, plus clock differences): aggregates are sealed only once their partition is recorded this far past.
  std::int64_t arrival_margin_seconds = 30;
  std::size_t send_per_round = 1000;     // aggregates sent per round at most
  std::int64_t lease_seconds = 300;      // a claimed aggregate waits this long before another reporter resends it
  std::size_t stream_threshold = 100;    // from this many due aggregates on, the v2 meter event stream is used
  std::int64_t retry_horizon_seconds = 23 * 3600;  // Stripe dedupes identifiers for 24 h: never resend past it
  std::int64_t drift_check_seconds = 3600;     // compare with Stripe's meter event summaries this often (0: never)
  std::int64_t drift_lookback_seconds = 86400; // over usage dated this far back
  std::int64_t drift_settle_seconds = 600;     // up to this long ago (Stripe's summaries lag)
  std::string host = "0.0.0.0";          // ops endpoints: /healthz /readyz /metrics
  std::uint16_t port = 8083;
  http::ConnectionSettings connections;  // of the ops port
  std::string log_level = "info";
  stripe::StripeClientConfig stripe;
  stripe::StripeClientConfig stream;     // the v2 meter event stream's host (BILLING_STRIPE_METER_EVENTS_BASE)
};

struct LoadedUsageReporterConfig {
  UsageReporterConfig config;
  std::vector<std::string> errors;
};

/// BILLING_DATABASE_URL[_FILE], BILLING_KAFKA_*, BILLING_KAFKA_USAGE_TOPIC, BILLING_USAGE_* and BILLING_STRIPE_*
/// (README.md lists them).
LoadedUsageReporterConfig loadUsageReporterConfig(const common::Environment& env);

}  // namespace billing::workers

#pragma once
#include "common/http_settings.h"
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/environment.h"
#include "common/kafka_producer.h"
#include "common/kafka_settings.h"
#include "stripe/stripe_client.h"
#include "workers/event_consumer.h"

namespace billing::workers {

/// Everything `billing worker` needs, parsed once from the environment.
struct WorkerConfig {
  std::string database_url;  // carries a password: never logged
  kafka::KafkaSettings kafka;
  ConsumerOptions consumer;
  std::string dlq_topic = "stripe.events.dlq";
  int consumers = 2;             // consumer threads in this process, each with its own partitions and connection
  std::size_t batch_max = 500;  // events per transaction at most
  int batch_linger_ms = 20;     // how long a batch waits to fill once its first event arrived
  int max_attempts = 3;         // failures (other than an unavailable database) before an event is dead-lettered
  int refetch_concurrency = 4;  // threads fetching refetch_queue from Stripe (0: none)
  double stripe_reads_per_second = 0;  // this process's share of Stripe's rate limit; 0: from the key's mode
  std::optional<bool> livemode;  // the API key's mode: events of the other mode are skipped
  int event_retention_days = 45; // processed event ids kept (Stripe resends for 3 days, replay-events reaches 30)
  std::string host = "0.0.0.0"; // ops endpoints: /healthz /readyz /metrics
  std::uint16_t port = 8081;
  http::ConnectionSettings connections;  // of the ops port
  std::string log_level = "info";
  bool stripe_enabled = false;  // without an API key, doubtful objects stay queued (and the metric shows it)
  stripe::StripeClientConfig stripe;
};

struct LoadedWorkerConfig {
  WorkerConfig config;
  std::vector<std::string> errors;
};

/// BILLING_DATABASE_URL[_FILE], BILLING_KAFKA_*, BILLING_KAFKA_EVENTS_TOPIC, BILLING_KAFKA_DLQ_TOPIC,
/// BILLING_WORKER_* and BILLING_STRIPE_* (README.md lists them).
LoadedWorkerConfig loadWorkerConfig(const common::Environment& env);

}  // namespace billing::workers

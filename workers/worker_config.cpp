#include "workers/worker_config.h"

#include "common/config_reader.h"
#include "common/json_log.h"

namespace billing::workers {

LoadedWorkerConfig loadWorkerConfig(const common::Environment& env) {
  common::ConfigReader reader(env);
  WorkerConfig c;
  c.database_url = reader.secret("BILLING_DATABASE_URL", true).value_or("");
  c.kafka = kafka::readKafkaSettings(reader);
  c.consumer.topic = reader.string("BILLING_KAFKA_EVENTS_TOPIC", c.consumer.topic);
  c.dlq_topic = reader.string("BILLING_KAFKA_DLQ_TOPIC", c.consumer.topic + ".dlq");
  for (const auto* name : {&c.consumer.topic, &c.dlq_topic}) {
    if (!kafka::validTopicName(*name)) reader.addError("'" + *name + "' is not a valid Kafka topic name");
  }
  if (c.dlq_topic == c.consumer.topic) reader.addError("BILLING_KAFKA_DLQ_TOPIC must differ from the events topic");
  c.consumer.group_id = reader.string("BILLING_WORKER_GROUP_ID", c.consumer.group_id);
  c.consumer.session_timeout_ms =
      static_cast<int>(reader.integer("BILLING_WORKER_SESSION_TIMEOUT_MS", c.consumer.session_timeout_ms, 6000, 300000));
  c.consumers = static_cast<int>(reader.integer("BILLING_WORKER_CONSUMERS", c.consumers, 1, 64));
  c.batch_max = static_cast<std::size_t>(reader.integer("BILLING_WORKER_BATCH_MAX", 500, 1, 10000));
  c.batch_linger_ms = static_cast<int>(reader.integer("BILLING_WORKER_BATCH_LINGER_MS", c.batch_linger_ms, 0, 1000));
  c.max_attempts = static_cast<int>(reader.integer("BILLING_WORKER_MAX_ATTEMPTS", c.max_attempts, 1, 100));
  c.refetch_concurrency =
      static_cast<int>(reader.integer("BILLING_WORKER_REFETCH_CONCURRENCY", c.refetch_concurrency, 0, 64));
  c.event_retention_days =
      static_cast<int>(reader.integer("BILLING_WORKER_EVENT_RETENTION_DAYS", c.event_retention_days, 31, 3650));
  c.host = reader.string("BILLING_WORKER_HOST", c.host);
  c.port = static_cast<std::uint16_t>(reader.integer("BILLING_WORKER_PORT", c.port, 0, 65535));
  c.connections = http::readConnectionSettings(reader);
  c.log_level = reader.string("BILLING_LOG_LEVEL", c.log_level);
  log::Level level;
  if (!log::parseLevel(c.log_level, level)) reader.addError("BILLING_LOG_LEVEL must be debug, info, warn or error");
  c.stripe = stripe::readStripeConfig(reader, false);
  c.stripe_enabled = !c.stripe.api_key.empty();
  c.livemode = stripe::livemodeOfKey(c.stripe.api_key);
  // Stripe allows about 100 requests/s in live mode and 25 in test mode per account; the API and the other workers
  // read too, so one worker process takes a share by default.
  c.stripe_reads_per_second = static_cast<double>(
      reader.integer("BILLING_STRIPE_READS_PER_SECOND", c.livemode.value_or(false) ? 50 : 20, 1, 10000));
  return {c, reader.errors()};
}

}  // namespace billing::workers

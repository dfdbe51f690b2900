#include "workers/usage_reporter_config.h"

#include "common/config_reader.h"
#include "common/json_log.h"

namespace billing::workers {

LoadedUsageReporterConfig loadUsageReporterConfig(const common::Environment& env) {
  common::ConfigReader reader(env);
  UsageReporterConfig c;
  c.database_url = reader.secret("BILLING_DATABASE_URL", true).value_or("");
  c.kafka = kafka::readKafkaSettings(reader);
  c.consumer.topic = reader.string("BILLING_KAFKA_USAGE_TOPIC", "stripe.usage");
  c.consumer.group_id = reader.string("BILLING_USAGE_GROUP_ID", "stripe-billing-usage");
  c.consumer.session_timeout_ms =
      static_cast<int>(reader.integer("BILLING_USAGE_SESSION_TIMEOUT_MS", c.consumer.session_timeout_ms, 6000, 300000));
  c.dlq_topic = reader.string("BILLING_KAFKA_USAGE_DLQ_TOPIC", c.consumer.topic + ".dlq");
  for (const auto* name : {&c.consumer.topic, &c.dlq_topic}) {
    if (!kafka::validTopicName(*name)) reader.addError("'" + *name + "' is not a valid Kafka topic name");
  }
  c.batch_max = static_cast<std::size_t>(reader.integer("BILLING_USAGE_BATCH_MAX", 20, 1, 1000));
  c.window_seconds = reader.integer("BILLING_USAGE_WINDOW_SECONDS", c.window_seconds, 1, 86400);
  c.grace_seconds = reader.integer("BILLING_USAGE_GRACE_SECONDS", c.grace_seconds, 0, 3600);
  c.arrival_margin_seconds =
      reader.integer("BILLING_USAGE_ARRIVAL_MARGIN_SECONDS", c.arrival_margin_seconds, 1, 3600);
  c.send_per_round = static_cast<std::size_t>(reader.integer("BILLING_USAGE_SEND_PER_ROUND", 1000, 1, 100000));
  c.lease_seconds = reader.integer("BILLING_USAGE_LEASE_SECONDS", c.lease_seconds, 10, 3600);
  c.stream_threshold = static_cast<std::size_t>(reader.integer("BILLING_USAGE_STREAM_THRESHOLD", 100, 1, 1000000));
  c.retry_horizon_seconds = reader.integer("BILLING_USAGE_RETRY_HORIZON_SECONDS", c.retry_horizon_seconds, 60, 23 * 3600);
  c.drift_check_seconds = reader.integer("BILLING_USAGE_DRIFT_CHECK_SECONDS", c.drift_check_seconds, 0, 7 * 86400);
  c.drift_lookback_seconds =
      reader.integer("BILLING_USAGE_DRIFT_LOOKBACK_SECONDS", c.drift_lookback_seconds, 3600, 35 * 86400);
  c.drift_settle_seconds = reader.integer("BILLING_USAGE_DRIFT_SETTLE_SECONDS", c.drift_settle_seconds, 0, 86400);
  c.host = reader.string("BILLING_USAGE_HOST", c.host);
  c.port = static_cast<std::uint16_t>(reader.integer("BILLING_USAGE_PORT", c.port, 0, 65535));
  c.connections = http::readConnectionSettings(reader);
  c.log_level = reader.string("BILLING_LOG_LEVEL", c.log_level);
  log::Level level;
  if (!log::parseLevel(c.log_level, level)) reader.addError("BILLING_LOG_LEVEL must be debug, info, warn or error");
  c.stripe = stripe::readStripeConfig(reader, true);
  c.stream = c.stripe;
  c.stream.base_url = reader.string("BILLING_STRIPE_METER_EVENTS_BASE", "https://meter-events.stripe.com");
  if (c.stream.base_url.rfind("https://", 0) != 0 && c.stream.base_url.rfind("http://", 0) != 0) {
    reader.addError("BILLING_STRIPE_METER_EVENTS_BASE must start with https:// or http://");
  }
  return {c, reader.errors()};
}

}  // namespace billing::workers

#include "webhook/webhook_config.h"

#include "common/config_reader.h"
#include "common/json_log.h"

namespace billing::webhook {

LoadedWebhookConfig loadWebhookConfig(const common::Environment& env) {
  common::ConfigReader reader(env);
  WebhookConfig c;
  c.host = reader.string("BILLING_WEBHOOK_HOST", c.host);
  c.port = static_cast<std::uint16_t>(reader.integer("BILLING_WEBHOOK_PORT", c.port, 0, 65535));
  c.secrets = reader.secretList("BILLING_WEBHOOK_SECRETS", true);
  for (std::size_t i = 0; i < c.secrets.size(); ++i) {
    // Catches the classic mix-up of pasting an API key (sk_...) or a truncated value; the value itself is never echoed.
    if (c.secrets[i].rfind("whsec_", 0) != 0 || c.secrets[i].size() < 10) {
      reader.addError("BILLING_WEBHOOK_SECRETS entry " + std::to_string(i + 1) +
                      " is not a webhook signing secret (expected whsec_...)");
    }
  }
  c.tolerance_seconds = reader.integer("BILLING_WEBHOOK_TOLERANCE_SECONDS", c.tolerance_seconds, 1, 86400);
  c.max_body_bytes = static_cast<std::size_t>(
      reader.integer("BILLING_WEBHOOK_MAX_BODY_BYTES", static_cast<std::int64_t>(c.max_body_bytes), 1024, 64 << 20));
  c.threads = static_cast<int>(reader.integer("BILLING_WEBHOOK_THREADS", c.threads, 2, 4096));
  c.retry_after_seconds =
      static_cast<int>(reader.integer("BILLING_WEBHOOK_RETRY_AFTER_SECONDS", c.retry_after_seconds, 1, 3600));
  c.topic = reader.string("BILLING_KAFKA_EVENTS_TOPIC", c.topic);
  if (!kafka::validTopicName(c.topic)) {
    reader.addError("BILLING_KAFKA_EVENTS_TOPIC '" + c.topic + "' is not a valid Kafka topic name");
  }
  c.log_level = reader.string("BILLING_LOG_LEVEL", c.log_level);
  log::Level level;
  if (!log::parseLevel(c.log_level, level)) reader.addError("BILLING_LOG_LEVEL must be debug, info, warn or error");
  c.kafka = kafka::readKafkaSettings(reader);
  c.connections = http::readConnectionSettings(reader);
  c.producer.delivery_timeout_ms =
      static_cast<int>(reader.integer("BILLING_KAFKA_DELIVERY_TIMEOUT_MS", c.producer.delivery_timeout_ms, 1000, 300000));
  c.producer.linger_ms = static_cast<int>(reader.integer("BILLING_KAFKA_LINGER_MS", c.producer.linger_ms, 0, 1000));
  return {c, reader.errors()};
}

}  // namespace billing::webhook

#include "api/api_config.h"

#include <cctype>

#include "common/config_reader.h"
#include "common/json_log.h"

namespace billing::api {

LoadedApiConfig loadApiConfig(const common::Environment& env) {
  common::ConfigReader reader(env);
  ApiConfig c;
  c.host = reader.string("BILLING_API_HOST", c.host);
  c.port = static_cast<std::uint16_t>(reader.integer("BILLING_API_PORT", c.port, 0, 65535));
  c.threads = static_cast<int>(reader.integer("BILLING_API_THREADS", c.threads, 2, 1024));
  c.connections = http::readConnectionSettings(reader);
  c.api_keys = reader.secretList("BILLING_API_KEYS", true);
  for (std::size_t i = 0; i < c.api_keys.size(); ++i) {
    if (c.api_keys[i].size() < 24) {
      reader.addError("BILLING_API_KEYS entry " + std::to_string(i + 1) + " is shorter than 24 characters");
    }
  }
  c.token_secret = reader.secret("BILLING_API_TOKEN_SECRET", true).value_or("");
  if (!c.token_secret.empty() && c.token_secret.size() < 32) {
    reader.addError("BILLING_API_TOKEN_SECRET must be at least 32 characters");
  }
  c.token_ttl_seconds = static_cast<int>(reader.integer("BILLING_API_TOKEN_TTL_SECONDS", c.token_ttl_seconds, 30, 86400));
  for (const auto& origin : reader.list("BILLING_API_ALLOWED_ORIGINS")) {
    if (origin.rfind("https://", 0) != 0 && origin.rfind("http://", 0) != 0) {
      reader.addError("BILLING_API_ALLOWED_ORIGINS entry '" + origin + "' must start with https:// or http://");
    } else if (origin.find('/', origin.find("//") + 2) != std::string::npos) {
      reader.addError("BILLING_API_ALLOWED_ORIGINS entry '" + origin + "' must be an origin, without a path");
    } else {
      c.allowed_origins.push_back(origin);
    }
  }
  c.portal_configuration = reader.string("BILLING_API_PORTAL_CONFIGURATION", "");
  if (!c.portal_configuration.empty() && c.portal_configuration.rfind("bpc_", 0) != 0) {
    reader.addError("BILLING_API_PORTAL_CONFIGURATION must be a portal configuration id (bpc_...)");
  }
  c.database_url = reader.secret("BILLING_DATABASE_URL", true).value_or("");
  c.database_connections =
      static_cast<int>(reader.integer("BILLING_API_DATABASE_CONNECTIONS", c.database_connections, 1, 256));
  c.cache_ttl_seconds = static_cast<int>(reader.integer("BILLING_API_CACHE_TTL_SECONDS", c.cache_ttl_seconds, 1, 3600));
  c.max_body_bytes = static_cast<std::size_t>(
      reader.integer("BILLING_API_MAX_BODY_BYTES", static_cast<std::int64_t>(c.max_body_bytes), 1024, 16 << 20));
  c.log_level = reader.string("BILLING_LOG_LEVEL", c.log_level);
  log::Level level;
  if (!log::parseLevel(c.log_level, level)) reader.addError("BILLING_LOG_LEVEL must be debug, info, warn or error");
  c.stripe = stripe::readStripeConfig(reader, true);
  for (const auto& meter : reader.list("BILLING_USAGE_METERS")) {
    bool valid = !meter.empty() && meter.size() <= 100;
    for (char ch : meter) valid = valid && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.');
    if (!valid) reader.addError("BILLING_USAGE_METERS entry '" + meter + "' is not a meter event name");
    else c.usage_meters.push_back(meter);
  }
  c.usage_topic = reader.string("BILLING_KAFKA_USAGE_TOPIC", c.usage_topic);
  if (!kafka::validTopicName(c.usage_topic)) reader.addError("'" + c.usage_topic + "' is not a valid Kafka topic name");
  c.usage_max_events = static_cast<std::size_t>(reader.integer("BILLING_USAGE_MAX_EVENTS", 1000, 1, 10000));
  c.usage_max_body_bytes = static_cast<std::size_t>(reader.integer("BILLING_USAGE_MAX_BODY_BYTES", 512 * 1024, 1024, 900 * 1024));
  // Stripe finalizes a period's invoice about an hour after it ends: usage for it after that is billed nowhere.
  c.usage_period_close_seconds = reader.integer("BILLING_USAGE_PERIOD_CLOSE_SECONDS", 2700, 0, 3600);
  if (c.usageEnabled()) {
    c.kafka = kafka::readKafkaSettings(reader);
  }
  return {c, reader.errors()};
}

}  // namespace billing::api

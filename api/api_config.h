#pragma once
#include "common/http_settings.h"
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/environment.h"
#include "common/kafka_settings.h"
#include "stripe/stripe_client.h"

namespace billing::api {

/// Everything `billing api` needs, parsed once from the environment.
struct ApiConfig {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8082;
  int threads = 64;
  http::ConnectionSettings connections;
  std::vector<std::string> api_keys;   // product backends' keys; several at once for rotation
  std::string token_secret;            // signs browser tokens and preview tokens (HS256), >= 32 bytes
  int token_ttl_seconds = 900;
  std::vector<std::string> allowed_origins;  // where portal return URLs may point (scheme://host[:port])
  std::string portal_configuration;  // bpc_...: the portal configuration sessions use; empty: the managed one
  std::string database_url;
  int database_connections = 8;
  int cache_ttl_seconds = 30;  // read cache safety net; changes arrive by LISTEN/NOTIFY within milliseconds
  std::size_t max_body_bytes = 64 * 1024;
  std::string log_level = "info";
  stripe::StripeClientConfig stripe;

  // Usage ingestion (POST /v1/usage): on when meters are configured; then Kafka is required.
  std::vector<std::string> usage_meters;         // the meters' event_names usage may be reported for
  std::string usage_topic = "stripe.usage";
  std::size_t usage_max_events = 1000;           // events per request
  std::size_t usage_max_body_bytes = 512 * 1024;
  std::int64_t usage_max_age_seconds = 35 * 86400 - 3600;  // Stripe takes 35 days; an hour is left for reporting
  std::int64_t usage_max_future_seconds = 300;   // Stripe's own limit: 5 minutes ahead
  // Usage of a billing period that has ended is accepted only until this long after its end: Stripe finalizes the
  // period's invoice about an hour after it (and bills later usage nowhere); the rest of the hour is left for the
  // reporter's window, grace and retries. Earlier if the synced invoice is already finalized.
  std::int64_t usage_period_close_seconds = 2700;
  kafka::KafkaSettings kafka;
  bool usageEnabled() const { return !usage_meters.empty(); }
};

struct LoadedApiConfig {
  ApiConfig config;
  std::vector<std::string> errors;
};

/// BILLING_API_*, BILLING_DATABASE_URL, BILLING_STRIPE_* (README.md lists them).
LoadedApiConfig loadApiConfig(const common::Environment& env);

}  // namespace billing::api

#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/environment.h"
#include "stripe/stripe_client.h"

namespace billing::api {

/// Everything `billing api` needs, parsed once from the environment.
struct ApiConfig {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8082;
  int threads = 64;
  std::vector<std::string> api_keys;   // product backends' keys; several at once for rotation
  std::string token_secret;            // signs browser tokens and preview tokens (HS256), >= 32 bytes
  int token_ttl_seconds = 900;
  std::vector<std::string> allowed_origins;  // where portal return URLs may point (scheme://host[:port])
  std::string database_url;
  int database_connections = 8;
  int cache_ttl_seconds = 30;  // read cache safety net; changes arrive by LISTEN/NOTIFY within milliseconds
  std::size_t max_body_bytes = 64 * 1024;
  std::string log_level = "info";
  stripe::StripeClientConfig stripe;
};

struct LoadedApiConfig {
  ApiConfig config;
  std::vector<std::string> errors;
};

/// BILLING_API_*, BILLING_DATABASE_URL, BILLING_STRIPE_* (README.md lists them).
LoadedApiConfig loadApiConfig(const common::Environment& env);

}  // namespace billing::api

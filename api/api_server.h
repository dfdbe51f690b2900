#pragma once

#include <cstdint>
#include <memory>

#include "api/api_config.h"
#include "api/api_handler.h"
#include "api/authenticator.h"
#include "api/read_cache.h"
#include "common/health_handlers.h"
#include "common/http_server.h"
#include "common/periodic_check.h"
#include "common/pg_pool.h"
#include "stripe/stripe_client.h"

namespace billing::api {

/// The `billing api` role: the /v1 API, /openapi.yaml and the ops endpoints on one port.
class ApiServer {
 public:
  ApiServer(const ApiConfig& config, stripe::StripeClient& stripe);
  ~ApiServer();

  void start();
  void stop();
  std::uint16_t port() const;

 private:
  const ApiConfig& config_;
  Authenticator auth_;
  pg::Pool pool_;
  ReadCache cache_;
  std::unique_ptr<kafka::DurableProducer> usage_producer_;
  ApiContext context_;
  common::PeriodicCheck database_check_;
  http::HealthChecks checks_;
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace billing::api

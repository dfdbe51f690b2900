#pragma once
#include <Poco/Net/HTTPRequestHandler.h>

#include <string>

#include "api/api_config.h"
#include "api/authenticator.h"
#include "api/read_cache.h"
#include "common/kafka_producer.h"
#include "common/pg_pool.h"
#include "stripe/stripe_client.h"

namespace billing::api {

/// What every request handler shares; owned by ApiServer.
struct ApiContext {
  const ApiConfig& config;
  const Authenticator& auth;
  pg::Pool& db;
  stripe::StripeClient& stripe;
  ReadCache& cache;
  kafka::DurableProducer* usage_producer;  // null when usage ingestion is off
};

/// One request of the /v1 API: authentication, routing, the JSON error shape, metrics.
class ApiHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit ApiHandler(ApiContext& context) : context_(context) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override;

 private:
  ApiContext& context_;
};

/// The OpenAPI document (api/openapi.yaml, compiled in).
const std::string& openApiDocument();

}  // namespace billing::api

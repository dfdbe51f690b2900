#include "api/api_server.h"

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>

#include <algorithm>
#include <chrono>

#include "common/json_log.h"
#include "usage/meter_check.h"

namespace billing::api {
namespace {

class Routes : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Routes(ApiContext& context, const http::HealthChecks& checks) : context_(context), checks_(checks) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override {
    const auto& uri = request.getURI();
    if (auto* health = http::makeHealthHandler(uri.substr(0, uri.find('?')), checks_)) return health;
    return new ApiHandler(context_);
  }

 private:
  ApiContext& context_;
  const http::HealthChecks& checks_;
};

}  // namespace

ApiServer::ApiServer(const ApiConfig& config, stripe::StripeClient& stripe)
    : config_(config),
      auth_(config.api_keys, config.token_secret),
      pool_(config.database_url, config.database_connections),
      cache_(config.database_url, std::chrono::seconds(config.cache_ttl_seconds)),
      usage_producer_(config.usageEnabled() ? std::make_unique<kafka::DurableProducer>(config.kafka, kafka::ProducerOptions{})
                                            : nullptr),
      context_{config_, auth_, pool_, stripe, cache_, usage_producer_.get()},
      database_check_([this] { return pool_.healthy(); }, std::chrono::seconds(2)) {
  checks_.live = [] { return true; };
  checks_.ready = [this] { return database_check_.ok(); };
}

ApiServer::~ApiServer() { stop(); }

void ApiServer::start() {
  if (config_.usageEnabled()) {
    // Usage for a meter Stripe doesn't have, has deactivated, or doesn't sum would be accepted here and then
    // refused or billed wrong at Stripe: refuse to start instead, saying which.
    try {
      auto check = usage::checkMeters(context_.stripe, config_.usage_meters);
      if (!check.problems.empty()) {
        std::string all;
        for (const auto& p : check.problems) all += (all.empty() ? "" : "; ") + p;
        throw std::runtime_error("BILLING_USAGE_METERS doesn't match Stripe's meters: " + all);
      }
      auto db = pool_.acquire();
      usage::recordMeters(*db, check.meter_ids);
    } catch (const stripe::StripeError& e) {
      // Stripe unreachable at start: reads and ingestion don't need it now; a misconfiguration still shows in the
      // reporter's refusals. Not a reason to stay down.
      if (!e.isTransient()) throw;
      log::warn("usage meters not checked: Stripe could not be reached", {{"error", e.what()}});
    }
  }
  http::HttpServerOptions options;
  options.name = "api";
  options.host = config_.host;
  options.port = config_.port;
  options.workers = config_.threads;
  options.request.max_body_bytes = std::max(config_.max_body_bytes, config_.usage_max_body_bytes);
  options.connections = config_.connections;
  server_ = std::make_unique<http::HttpServer>(options, std::make_unique<Routes>(context_, checks_));
  server_->start();
  log::info("api listening", {{"host", config_.host}, {"port", port()}, {"api_keys", config_.api_keys.size()}});
}

void ApiServer::stop() {
  if (!server_) return;
  server_->stop();
  server_.reset();
  log::info("api stopped");
}

std::uint16_t ApiServer::port() const { return server_ ? server_->port() : 0; }

}  // namespace billing::api

#include "webhook/webhook_server.h"

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <chrono>
#include <thread>

#include "common/http_util.h"
#include "common/json_log.h"

namespace billing::webhook {
namespace {

constexpr const char* kWebhookPath = "/webhooks/stripe";

class NotFoundHandler : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    http::discardBody(request, response, 65536);
    http::sendJson(response, http::Status::HTTP_NOT_FOUND,
                   http::errorBody("invalid_request_error", "not_found", "no such path"));
  }
};

/// All routes of the webhook role in one place.
class RouteFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  RouteFactory(ReceiverContext& context, const http::HealthChecks& checks) : context_(context), checks_(checks) {}

  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override {
    const auto& uri = request.getURI();
    auto path = uri.substr(0, uri.find('?'));
    if (path == kWebhookPath) return new ReceiverHandler(context_);
    if (auto* health = http::makeHealthHandler(path, checks_)) return health;
    return new NotFoundHandler;
  }

 private:
  ReceiverContext& context_;
  const http::HealthChecks& checks_;
};

}  // namespace

WebhookServer::WebhookServer(const WebhookConfig& config, kafka::DurableProducer& producer)
    : config_(config),
      producer_(producer),
      verifier_(config.secrets, config.tolerance_seconds),
      context_{config_, verifier_, producer_, metrics_, in_flight_},
      kafka_check_([this] { return producer_.topicAvailable(config_.topic, 2000); }, std::chrono::seconds(2)) {
  checks_.live = [this] { return !producer_.fatal(); };
  checks_.ready = [this] { return ready(); };
}

WebhookServer::~WebhookServer() { stop(); }

void WebhookServer::start() {
  http::HttpServerOptions options;
  options.name = "webhook";
  options.host = config_.host;
  options.port = config_.port;
  options.workers = config_.threads;
  options.request.max_body_bytes = config_.max_body_bytes;
  options.connections = config_.connections;
  server_ = std::make_unique<http::HttpServer>(options, std::make_unique<RouteFactory>(context_, checks_));
  server_->start();
  running_ = true;
  log::info("webhook receiver listening", {{"host", config_.host},
                                           {"port", port()},
                                           {"path", kWebhookPath},
                                           {"topic", config_.topic},
                                           {"secrets", config_.secrets.size()},
                                           {"tolerance_seconds", config_.tolerance_seconds}});
}

void WebhookServer::stop() {
  if (!running_) return;
  running_ = false;
  // Stop accepting, close idle connections, and let requests that wait for a delivery report get their answer
  // (bounded by the delivery timeout).
  server_->stop(std::chrono::milliseconds(config_.producer.delivery_timeout_ms + 3000));
  log::info("webhook receiver stopped");
}

std::uint16_t WebhookServer::port() const { return server_ ? server_->port() : 0; }

bool WebhookServer::ready() const { return running_ && !producer_.fatal() && kafka_check_.ok(); }

}  // namespace billing::webhook

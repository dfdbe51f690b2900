#include "common/ops_server.h"

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include "common/http_util.h"

namespace billing::http {
namespace {

class NotFound : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    discardBody(request, response, 65536);
    sendJson(response, Status::HTTP_NOT_FOUND, errorBody("invalid_request_error", "not_found", "no such path"));
  }
};

class Routes : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Routes(const HealthChecks& checks) : checks_(checks) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override {
    const auto& uri = request.getURI();
    if (auto* handler = makeHealthHandler(uri.substr(0, uri.find('?')), checks_)) return handler;
    return new NotFound;
  }

 private:
  const HealthChecks& checks_;
};

}  // namespace

OpsServer::OpsServer(std::string host, std::uint16_t port, ConnectionSettings connections, HealthChecks checks)
    : host_(std::move(host)), port_(port), connections_(connections), checks_(std::move(checks)) {}

OpsServer::~OpsServer() { stop(); }

void OpsServer::start() {
  HttpServerOptions options;
  options.name = "ops";
  options.host = host_;
  options.port = port_;
  options.workers = 2;
  options.request.max_body_bytes = 65536;  // nothing here takes a body
  options.connections = connections_;
  server_ = std::make_unique<HttpServer>(options, std::make_unique<Routes>(checks_));
  server_->start();
}

void OpsServer::stop() {
  if (!server_) return;
  server_->stop();
  server_.reset();
}

std::uint16_t OpsServer::port() const { return server_ ? server_->port() : 0; }

}  // namespace billing::http

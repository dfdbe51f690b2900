#include "common/ops_server.h"

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

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

OpsServer::OpsServer(std::string host, std::uint16_t port, HealthChecks checks)
    : host_(std::move(host)), port_(port), checks_(std::move(checks)), pool_("ops", 1, 4) {}

OpsServer::~OpsServer() { stop(); }

void OpsServer::start() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(host_, port_), 64);
  auto params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(4);
  params->setKeepAlive(true);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Routes(checks_), pool_, socket, params);
  server_->start();
}

void OpsServer::stop() {
  if (!server_) return;
  server_->stopAll(true);
  pool_.joinAll();
  server_.reset();
}

std::uint16_t OpsServer::port() const { return server_ ? server_->port() : 0; }

}  // namespace billing::http

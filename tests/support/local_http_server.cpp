#include "tests/support/local_http_server.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>

#include <chrono>
#include <thread>

namespace billing::testing {
namespace {

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(const LocalHttpServer::Handler& handler) : handler_(handler) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    RecordedRequest recorded;
    recorded.method = request.getMethod();
    recorded.uri = request.getURI();
    for (const auto& [k, v] : request) recorded.headers[k] = v;
    Poco::StreamCopier::copyToString(request.stream(), recorded.body);
    auto answer = handler_(std::move(recorded));
    if (answer.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(answer.delay_ms));
    if (answer.drop) {
      static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket().shutdown();
      return;
    }
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status));
    response.setContentType("application/json");  // unless the answer says otherwise
    for (const auto& [k, v] : answer.headers) response.set(k, v);
    response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
    response.send() << answer.body;
  }

 private:
  const LocalHttpServer::Handler& handler_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(const LocalHttpServer::Handler& handler) : handler_(handler) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(handler_);
  }

 private:
  const LocalHttpServer::Handler& handler_;
};

}  // namespace

LocalHttpServer::LocalHttpServer(int port, Handler handler) : handler_(std::move(handler)) {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
  auto params = new Poco::Net::HTTPServerParams;
  params->setKeepAlive(true);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(handler_), pool_, socket, params);
  server_->start();
}

LocalHttpServer::~LocalHttpServer() {
  server_->stopAll(true);
  pool_.joinAll();
}

int LocalHttpServer::port() const { return server_->port(); }

}  // namespace billing::testing

#include "tests/support/scripted_http_server.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>

#include <thread>

namespace billing::testing {
namespace {

class ScriptedHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit ScriptedHandler(ScriptedHttpServer& server) : server_(server) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    RecordedRequest recorded;
    recorded.method = request.getMethod();
    recorded.uri = request.getURI();
    for (const auto& [k, v] : request) recorded.headers[k] = v;
    Poco::StreamCopier::copyToString(request.stream(), recorded.body);
    auto answer = server_.next(std::move(recorded));
    if (answer.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(answer.delay_ms));
    if (answer.drop) {
      static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket().shutdown();
      return;
    }
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status));
    for (const auto& [k, v] : answer.headers) response.set(k, v);
    response.setContentType("application/json");
    response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
    response.send() << answer.body;
  }

 private:
  ScriptedHttpServer& server_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(ScriptedHttpServer& server) : server_(server) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new ScriptedHandler(server_);
  }

 private:
  ScriptedHttpServer& server_;
};

}  // namespace

ScriptedHttpServer::ScriptedHttpServer(std::vector<ScriptedResponse> script) : script_(script.begin(), script.end()) {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), pool_, socket, new Poco::Net::HTTPServerParams);
  server_->start();
}

ScriptedHttpServer::~ScriptedHttpServer() {
  server_->stopAll(true);
  pool_.joinAll();  // a handler still in its scripted delay finishes before the server's memory goes away
}

int ScriptedHttpServer::port() const { return server_->port(); }

std::vector<RecordedRequest> ScriptedHttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

ScriptedResponse ScriptedHttpServer::next(RecordedRequest request) {
  std::lock_guard lock(mutex_);
  requests_.push_back(std::move(request));
  auto answer = script_.front();
  if (script_.size() > 1) script_.pop_front();
  return answer;
}

}  // namespace billing::testing

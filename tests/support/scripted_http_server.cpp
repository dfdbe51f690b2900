#include "tests/support/scripted_http_server.h"

namespace billing::testing {

ScriptedHttpServer::ScriptedHttpServer(std::vector<ScriptedResponse> script) : script_(script.begin(), script.end()) {
  server_ = std::make_unique<LocalHttpServer>(0, [this](RecordedRequest request) { return next(std::move(request)); });
}

ScriptedHttpServer::~ScriptedHttpServer() { server_.reset(); }

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

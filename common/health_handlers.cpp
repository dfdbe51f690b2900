#include "common/health_handlers.h"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include "common/http_util.h"
#include "common/metrics.h"

namespace billing::http {

void HealthHandler::handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  if (request.getMethod() != "GET" && request.getMethod() != "HEAD") {
    discardBody(request, response, 65536);
    response.set("Allow", "GET, HEAD");
    sendJson(response, Status::HTTP_METHOD_NOT_ALLOWED,
             errorBody("invalid_request_error", "method_not_allowed", "use GET"));
    return;
  }
  switch (kind_) {
    case Kind::Live: {
      bool ok = !checks_.live || checks_.live();
      sendJson(response, ok ? Status::HTTP_OK : Status::HTTP_SERVICE_UNAVAILABLE, {{"status", ok ? "ok" : "failing"}});
      return;
    }
    case Kind::Ready: {
      bool ok = !checks_.ready || checks_.ready();
      nlohmann::json body = {{"status", ok ? "ready" : "not_ready"}};
      if (checks_.ready_detail) body["detail"] = checks_.ready_detail();
      sendJson(response, ok ? Status::HTTP_OK : Status::HTTP_SERVICE_UNAVAILABLE, body);
      return;
    }
    case Kind::Metrics:
      sendText(response, Status::HTTP_OK, metrics::defaultRegistry().render(), "text/plain; version=0.0.4");
      return;
  }
}

Poco::Net::HTTPRequestHandler* makeHealthHandler(const std::string& path, const HealthChecks& checks) {
  if (path == "/healthz") return new HealthHandler(HealthHandler::Kind::Live, checks);
  if (path == "/readyz") return new HealthHandler(HealthHandler::Kind::Ready, checks);
  if (path == "/metrics") return new HealthHandler(HealthHandler::Kind::Metrics, checks);
  return nullptr;
}

}  // namespace billing::http

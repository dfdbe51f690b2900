#pragma once
#include <Poco/Net/HTTPRequestHandler.h>

#include <functional>
#include <nlohmann/json.hpp>

namespace billing::http {

/// Probe answers shared by every role. Liveness fails only when the process can't recover by itself (e.g. the
/// Kafka producer hit a fatal error) so Kubernetes restarts it; readiness follows the dependencies.
struct HealthChecks {
  std::function<bool()> live;
  std::function<bool()> ready;
  std::function<nlohmann::json()> ready_detail;  // optional: shown as `detail` in /readyz's body
};

/// GET /healthz, /readyz and /metrics (Prometheus text from the default registry).
class HealthHandler : public Poco::Net::HTTPRequestHandler {
 public:
  enum class Kind { Live, Ready, Metrics };
  HealthHandler(Kind kind, const HealthChecks& checks) : kind_(kind), checks_(checks) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override;

 private:
  Kind kind_;
  const HealthChecks& checks_;
};

/// The handler for an ops path, or nullptr if `path` is not one.
Poco::Net::HTTPRequestHandler* makeHealthHandler(const std::string& path, const HealthChecks& checks);

}  // namespace billing::http

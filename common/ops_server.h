#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/health_handlers.h"
#include "common/http_server.h"
#include "common/http_settings.h"

namespace billing::http {

/// An HTTP server with only /healthz, /readyz and /metrics, for roles without an API of their own (the worker).
class OpsServer {
 public:
  OpsServer(std::string host, std::uint16_t port, ConnectionSettings connections, HealthChecks checks);
  ~OpsServer();
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  void start();
  void stop();
  std::uint16_t port() const;

 private:
  std::string host_;
  std::uint16_t port_;
  ConnectionSettings connections_;
  HealthChecks checks_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace billing::http

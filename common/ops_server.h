#pragma once
#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/health_handlers.h"

namespace billing::http {

/// An HTTP server with only /healthz, /readyz and /metrics, for roles without an API of their own (the worker).
class OpsServer {
 public:
  OpsServer(std::string host, std::uint16_t port, HealthChecks checks);
  ~OpsServer();
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  void start();
  void stop();
  std::uint16_t port() const;

 private:
  std::string host_;
  std::uint16_t port_;
  HealthChecks checks_;
  Poco::ThreadPool pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace billing::http

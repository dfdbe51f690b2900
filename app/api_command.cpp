#include <iostream>

#include "api/api_config.h"
#include "api/api_server.h"
#include "app/commands.h"
#include "common/json_log.h"

namespace billing::app {

int runApi(const Args& args) {
  bool check_only = false;
  for (const auto& arg : args) {
    if (arg == "--check-config") {
      check_only = true;
    } else {
      std::cerr << "billing api: unknown option '" << arg << "'\n";
      return kExitUsage;
    }
  }
  auto loaded = api::loadApiConfig(common::Environment::fromProcess());
  if (!loaded.errors.empty()) {
    std::cerr << "billing api: invalid configuration (" << loaded.errors.size() << " problems):\n";
    for (const auto& e : loaded.errors) std::cerr << "  - " << e << "\n";
    return kExitUsage;
  }
  const auto& config = loaded.config;
  if (check_only) {
    std::cout << "configuration ok: port " << config.port << ", " << config.api_keys.size() << " API key(s), "
              << config.allowed_origins.size() << " allowed origin(s), Stripe " << config.stripe.base_url << "\n";
    return kExitOk;
  }
  log::Level level = log::Level::Info;
  log::parseLevel(config.log_level, level);
  log::setLevel(level);
  blockShutdownSignals();
  stripe::StripeClient stripe(config.stripe);
  api::ApiServer server(config, stripe);
  server.start();
  int signal = waitForShutdownSignal();
  log::info("shutting down", {{"signal", signal}});
  server.stop();
  return kExitOk;
}

}  // namespace billing::app

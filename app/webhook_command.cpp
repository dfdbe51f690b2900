#include <iostream>

#include "app/commands.h"
#include "common/json_log.h"
#include "webhook/webhook_config.h"
#include "webhook/webhook_server.h"

namespace billing::app {

int runWebhook(const Args& args) {
  bool check_only = false;
  for (const auto& arg : args) {
    if (arg == "--check-config") {
      check_only = true;
    } else {
      std::cerr << "billing webhook: unknown option '" << arg << "'\n";
      return kExitUsage;
    }
  }

  auto loaded = webhook::loadWebhookConfig(common::Environment::fromProcess());
  if (!loaded.errors.empty()) {
    std::cerr << "billing webhook: invalid configuration (" << loaded.errors.size() << " problems):\n";
    for (const auto& e : loaded.errors) std::cerr << "  - " << e << "\n";
    return kExitUsage;
  }
  const auto& config = loaded.config;
  if (check_only) {
    std::cout << "configuration ok: port " << config.port << ", topic " << config.topic << ", "
              << config.secrets.size() << " signing secret(s), tolerance " << config.tolerance_seconds << "s\n";
    return kExitOk;
  }

  log::Level level = log::Level::Info;
  log::parseLevel(config.log_level, level);
  log::setLevel(level);

  blockShutdownSignals();
  kafka::DurableProducer producer(config.kafka, config.producer);
  webhook::WebhookServer server(config, producer);
  server.start();
  int signal = waitForShutdownSignal();
  log::info("shutting down", {{"signal", signal}});
  server.stop();
  producer.flush(5000);
  return kExitOk;
}

}  // namespace billing::app

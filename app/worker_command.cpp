#include <atomic>
#include <iostream>
#include <thread>

#include "app/commands.h"
#include "common/json_log.h"
#include "common/ops_server.h"
#include "workers/event_worker.h"
#include "workers/worker_config.h"

namespace billing::app {

int runWorker(const Args& args) {
  bool check_only = false;
  for (const auto& arg : args) {
    if (arg == "--check-config") {
      check_only = true;
    } else {
      std::cerr << "billing worker: unknown option '" << arg << "'\n";
      return kExitUsage;
    }
  }
  auto loaded = workers::loadWorkerConfig(common::Environment::fromProcess());
  if (!loaded.errors.empty()) {
    std::cerr << "billing worker: invalid configuration (" << loaded.errors.size() << " problems):\n";
    for (const auto& e : loaded.errors) std::cerr << "  - " << e << "\n";
    return kExitUsage;
  }
  const auto& config = loaded.config;
  if (check_only) {
    std::cout << "configuration ok: topic " << config.consumer.topic << ", group " << config.consumer.group_id
              << ", dead letters to " << config.dlq_topic << ", refetch from Stripe "
              << (config.stripe_enabled ? "on" : "off (no BILLING_STRIPE_API_KEY)") << "\n";
    return kExitOk;
  }
  log::Level level = log::Level::Info;
  log::parseLevel(config.log_level, level);
  log::setLevel(level);
  if (!config.stripe_enabled) {
    log::warn("BILLING_STRIPE_API_KEY not set: objects in doubt stay in refetch_queue until a worker with a key runs");
  }

  blockShutdownSignals();
  kafka::DurableProducer dlq(config.kafka, {});
  std::unique_ptr<stripe::StripeClient> stripe;
  if (config.stripe_enabled) stripe = std::make_unique<stripe::StripeClient>(config.stripe);
  workers::EventWorker worker(config, dlq, stripe.get());
  http::OpsServer ops(config.host, config.port, {[&] { return worker.live(); }, [&] { return worker.ready(); }});
  ops.start();
  log::info("worker ops endpoints listening", {{"host", config.host}, {"port", ops.port()}});

  std::atomic<bool> stop{false};
  std::thread loop([&] { worker.run(stop); });
  int signal = waitForShutdownSignal();
  log::info("shutting down", {{"signal", signal}});
  stop = true;
  loop.join();
  ops.stop();
  dlq.flush(5000);
  return kExitOk;
}

}  // namespace billing::app

#include <atomic>
#include <iostream>
#include <thread>

#include "app/commands.h"
#include "common/json_log.h"
#include "common/ops_server.h"
#include "workers/usage_drift_check.h"
#include "workers/usage_reporter.h"
#include "workers/usage_reporter_config.h"

namespace billing::app {

int runUsageReporter(const Args& args) {
  bool check_only = false;
  for (const auto& arg : args) {
    if (arg == "--check-config") {
      check_only = true;
    } else {
      std::cerr << "billing usage-reporter: unknown option '" << arg << "'\n";
      return kExitUsage;
    }
  }
  auto loaded = workers::loadUsageReporterConfig(common::Environment::fromProcess());
  if (!loaded.errors.empty()) {
    std::cerr << "billing usage-reporter: invalid configuration (" << loaded.errors.size() << " problems):\n";
    for (const auto& e : loaded.errors) std::cerr << "  - " << e << "\n";
    return kExitUsage;
  }
  const auto& config = loaded.config;
  if (check_only) {
    std::cout << "configuration ok: topic " << config.consumer.topic << ", group " << config.consumer.group_id
              << ", windows of " << config.window_seconds << " s, v2 stream from " << config.stream_threshold
              << " aggregates\n";
    return kExitOk;
  }
  log::Level level = log::Level::Info;
  log::parseLevel(config.log_level, level);
  log::setLevel(level);

  blockShutdownSignals();
  kafka::DurableProducer dlq(config.kafka, {});
  stripe::StripeClient stripe(config.stripe);
  workers::UsageReporter reporter(config, dlq, stripe);
  http::OpsServer ops(config.host, config.port, config.connections, {[&] { return reporter.live(); }, [&] { return reporter.ready(); }, {}});
  ops.start();
  log::info("usage reporter ops endpoints listening", {{"host", config.host}, {"port", ops.port()}});
  std::atomic<bool> stop{false};
  std::thread loop([&] { reporter.run(stop); });
  workers::UsageDriftCheck drift(config);
  std::thread drift_loop;
  if (config.drift_check_seconds > 0) drift_loop = std::thread([&] { drift.run(stop); });
  int signal = waitForShutdownSignal();
  log::info("shutting down", {{"signal", signal}});
  stop = true;
  loop.join();
  if (drift_loop.joinable()) drift_loop.join();
  ops.stop();
  dlq.flush(5000);
  return kExitOk;
}

}  // namespace billing::app

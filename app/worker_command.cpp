#include <atomic>
#include <iostream>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "common/json_log.h"
#include "common/ops_server.h"
#include "workers/api_version_check.h"
#include "workers/event_worker.h"
#include "workers/refetch_pool.h"
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
  if (!dlq.topicAvailable(config.dlq_topic, 5000)) {
    // Not fatal (the broker may be starting), but a poison event would wait here until it exists.
    log::error("dead-letter topic not available: run `billing create-topics`", {{"topic", config.dlq_topic}});
  }
  std::unique_ptr<stripe::StripeClient> stripe;
  if (config.stripe_enabled) stripe = std::make_unique<stripe::StripeClient>(config.stripe);
  // Several consumers in one group: while one waits for PostgreSQL, another parses; each owns its partitions, so
  // per-object order holds.
  std::vector<std::unique_ptr<workers::EventWorker>> consumers;
  for (int i = 0; i < config.consumers; ++i) {
    consumers.push_back(std::make_unique<workers::EventWorker>(config, dlq, i));
  }
  std::unique_ptr<workers::RefetchPool> refetch;
  if (stripe && config.refetch_concurrency > 0) {
    refetch = std::make_unique<workers::RefetchPool>(config.database_url, *stripe, config.refetch_concurrency,
                                                     config.stripe_reads_per_second);
    refetch->start();
  }
  std::thread version_check;
  if (stripe) version_check = std::thread([client = stripe.get()] { workers::warnAboutEndpointApiVersions(*client); });
  auto all = [&](bool (workers::EventWorker::*check)() const) {
    for (const auto& c : consumers) {
      if (!((*c).*check)()) return false;
    }
    return true;
  };
  http::OpsServer ops(config.host, config.port, config.connections,
                      {[&] { return all(&workers::EventWorker::live); }, [&] { return all(&workers::EventWorker::ready); },
                       [&] { return nlohmann::json{{"refetch", refetch ? refetch->backlog() : nlohmann::json(nullptr)}}; }});
  ops.start();
  log::info("worker ops endpoints listening", {{"host", config.host}, {"port", ops.port()}, {"consumers", config.consumers}});

  std::atomic<bool> stop{false};
  std::vector<std::thread> loops;
  for (auto& c : consumers) loops.emplace_back([&stop, worker = c.get()] { worker->run(stop); });
  int signal = waitForShutdownSignal();
  log::info("shutting down", {{"signal", signal}});
  stop = true;
  for (auto& t : loops) t.join();
  if (refetch) refetch->stop();
  if (version_check.joinable()) version_check.join();
  ops.stop();
  dlq.flush(5000);
  return kExitOk;
}

}  // namespace billing::app

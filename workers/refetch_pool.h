#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "stripe/stripe_client.h"
#include "workers/read_budget.h"

namespace billing::workers {

/// Fetches the objects in refetch_queue from Stripe concurrently: `concurrency` threads, each with its own database
/// connection, all within one ReadBudget. Independent of the event consumers, so a backlog of doubtful objects
/// (e.g. events from an endpoint left on another API version) never slows applying events, and applying events
/// never starves the fetches. Keeps the backlog gauges current and reports the backlog for /readyz.
class RefetchPool {
 public:
  RefetchPool(std::string database_url, stripe::StripeClient& stripe, int concurrency, double reads_per_second);
  ~RefetchPool();
  RefetchPool(const RefetchPool&) = delete;
  RefetchPool& operator=(const RefetchPool&) = delete;

  void start();
  /// Finishes the fetches in flight and joins.
  void stop();

  /// {queued, due, oldest_age_seconds, reads_per_second, concurrency} as last measured (every 2 s).
  nlohmann::json backlog() const;

 private:
  void fetchLoop();
  void measureLoop();

  std::string database_url_;
  stripe::StripeClient& stripe_;
  int concurrency_;
  ReadBudget budget_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex backlog_mutex_;
  nlohmann::json backlog_ = nlohmann::json::object();
};

}  // namespace billing::workers

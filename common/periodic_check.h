#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace billing::common {

/// Runs a (possibly slow) check on its own thread every `interval` and caches the verdict, so /readyz answers
/// instantly and probes never pile requests onto Kafka or the database.
class PeriodicCheck {
 public:
  PeriodicCheck(std::function<bool()> check, std::chrono::milliseconds interval);
  ~PeriodicCheck();
  PeriodicCheck(const PeriodicCheck&) = delete;
  PeriodicCheck& operator=(const PeriodicCheck&) = delete;

  bool ok() const { return ok_.load(std::memory_order_relaxed); }

 private:
  void run();

  std::function<bool()> check_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> ok_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace billing::common

#include "common/periodic_check.h"

#include <exception>

#include "common/json_log.h"

namespace billing::common {

PeriodicCheck::PeriodicCheck(std::function<bool()> check, std::chrono::milliseconds interval)
    : check_(std::move(check)), interval_(interval), thread_([this] { run(); }) {}

PeriodicCheck::~PeriodicCheck() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void PeriodicCheck::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    bool result = false;
    try {
      result = check_();
    } catch (const std::exception& e) {
      log::warn("readiness check failed", {{"error", e.what()}});
    }
    bool previous = ok_.exchange(result);
    if (previous != result) log::info(result ? "ready" : "not ready");
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace billing::common

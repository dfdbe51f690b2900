#include "workers/read_budget.h"

#include <algorithm>
#include <thread>

namespace billing::workers {

ReadBudget::ReadBudget(double per_second) : per_second_(per_second), tokens_(per_second), last_(Clock::now()) {}

void ReadBudget::refill(Clock::time_point now) {
  auto elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(per_second_, tokens_ + elapsed * per_second_);
  last_ = now;
}

bool ReadBudget::acquire(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    std::chrono::duration<double> wait{0};
    {
      std::lock_guard lock(mutex_);
      auto now = Clock::now();
      if (now < paused_until_) {
        wait = paused_until_ - now;
      } else {
        refill(now);
        if (tokens_ >= 1) {
          tokens_ -= 1;
          return true;
        }
        wait = std::chrono::duration<double>((1 - tokens_) / per_second_);
      }
    }
    // Short sleeps keep shutdown prompt.
    std::this_thread::sleep_for(std::min<std::chrono::duration<double>>(wait, std::chrono::milliseconds(100)));
  }
  return false;
}

void ReadBudget::refund() {
  std::lock_guard lock(mutex_);
  tokens_ = std::min(per_second_, tokens_ + 1);
}

void ReadBudget::pauseFor(std::chrono::milliseconds pause) {
  std::lock_guard lock(mutex_);
  paused_until_ = std::max(paused_until_, Clock::now() + pause);
  tokens_ = 0;
}

}  // namespace billing::workers

#include "workers/retry_wait.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace billing::workers {

bool waitBeforeRetry(int attempt, const std::atomic<bool>& stop) {
  auto delay = std::chrono::milliseconds(std::min(10000, 100 << std::min(attempt, 7)));
  auto until = std::chrono::steady_clock::now() + delay;
  while (std::chrono::steady_clock::now() < until) {
    if (stop.load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !stop.load();
}

}  // namespace billing::workers

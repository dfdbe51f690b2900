#pragma once
#include <atomic>

namespace billing::workers {

/// Waits before retry number `attempt` (0-based): 100 ms doubling to 10 s, in 50 ms slices so shutdown stays prompt.
/// Returns false when `stop` was set (the caller gives up and leaves the work for the next owner).
bool waitBeforeRetry(int attempt, const std::atomic<bool>& stop);

}  // namespace billing::workers

#pragma once
#include <cstdint>

#include "common/postgres.h"

namespace billing::sync {

/// Forgets processed event ids older than `days` (a chunk at a time, so no long lock). Keep them longer than Stripe
/// can send an event again: 3 days of webhook retries, 30 days of `billing replay-events`. An event older than the
/// retention that still arrives is applied by the usual rule, which finds it stale. Returns rows removed.
std::int64_t pruneProcessedEvents(pg::Connection& db, int days, int chunk = 10000);

}  // namespace billing::sync

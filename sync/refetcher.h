#pragma once
#include <cstdint>

#include "common/postgres.h"
#include "stripe/stripe_client.h"

namespace billing::sync {

struct RefetchStats {
  int leased = 0;        // due entries taken in this round
  int fetched = 0;       // written through SnapshotWriter (whatever it decided)
  int failed = 0;        // Stripe refused or was unreachable: retried later with backoff
  int rate_limited = 0;  // of the failed: Stripe answered 429
};

/// What waits in refetch_queue: every entry, those due now, and how long the oldest has waited (0 when empty).
struct RefetchBacklog {
  std::int64_t queued = 0;
  std::int64_t due = 0;
  double oldest_age_seconds = 0;
};

/// Reads refetch_queue's size and age (and sets the billing_sync_refetch_* gauges). Throws PgError.
RefetchBacklog refetchBacklog(pg::Connection& db);

/// Works through refetch_queue: objects whose stored state is in doubt are fetched from the Stripe API and written
/// with the same rule as events. Entries are leased (not_before moves forward) before the fetch, so several workers
/// share the queue without fetching the same object twice, and a crash mid-fetch only delays the entry. A new doubt
/// about an object whose fetch is in flight makes the entry due again at once (SnapshotWriter::queueRefetch).
class Refetcher {
 public:
  Refetcher(pg::Connection& db, stripe::StripeClient& stripe) : db_(db), stripe_(stripe) {}

  /// Handles up to `limit` due entries. Throws PgError on database trouble (entries stay queued).
  RefetchStats runDue(int limit);

 private:
  pg::Connection& db_;
  stripe::StripeClient& stripe_;
};

}  // namespace billing::sync

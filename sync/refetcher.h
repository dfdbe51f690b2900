#pragma once
#include <cstdint>

#include "common/postgres.h"
#include "stripe/stripe_client.h"

namespace billing::sync {

struct RefetchStats {
  int fetched = 0;   // written through SnapshotWriter (whatever it decided)
  int failed = 0;    // Stripe refused or was unreachable: retried later with backoff
  int pending = 0;   // still queued after this round (due or not)
};

/// Works through refetch_queue: objects whose stored state is in doubt are fetched from the Stripe API and written
/// with the same rule as events. Entries are leased (not_before moves forward) before the fetch, so several workers
/// share the queue without fetching the same object twice, and a crash mid-fetch only delays the entry.
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

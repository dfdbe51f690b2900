#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/postgres.h"
#include "stripe/stripe_client.h"
#include "sync/object_kind.h"
#include "sync/snapshot_writer.h"

namespace billing::sync {

struct ReconcileOptions {
  std::vector<ObjectKind> kinds;
  int sample = 0;      // check this many random stored objects per kind; 0 = everything (list walk)
  bool repair = false; // write Stripe's state where ours differs (through SnapshotWriter)
};

struct DriftReport {
  ObjectKind kind = ObjectKind::Customer;
  std::int64_t checked = 0;
  std::int64_t missing_locally = 0;    // in Stripe, not in PostgreSQL
  std::int64_t different = 0;          // stored state differs from Stripe's
  std::int64_t deleted_in_stripe = 0;  // deleted in Stripe, alive here
  std::int64_t repaired = 0;
  std::vector<std::string> examples;   // a few ids with drift, for the operator
  std::int64_t drift() const { return missing_locally + different + deleted_in_stripe; }
};

/// Compares the synced tables with Stripe: a random sample of stored objects fetched one by one, or every object
/// (each kind's list endpoint walked, then stored objects the list didn't show fetched one by one). With repair,
/// Stripe's state is written through the same rule as events.
class Reconciler {
 public:
  Reconciler(pg::Connection& db, stripe::StripeClient& stripe) : db_(db), stripe_(stripe) {}

  /// Throws StripeError or PgError.
  std::vector<DriftReport> run(const ReconcileOptions& options);

 private:
  DriftReport sampleKind(ObjectKind kind, const ReconcileOptions& options);
  DriftReport walkKind(ObjectKind kind, const ReconcileOptions& options);
  /// Checks fetched snapshots (one kind) against the stored rows; repairs if asked.
  void compare(const std::vector<Snapshot>& snapshots, const ReconcileOptions& options, DriftReport& report);

  pg::Connection& db_;
  stripe::StripeClient& stripe_;
};

}  // namespace billing::sync

#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/postgres.h"
#include "stripe/stripe_client.h"
#include "sync/object_kind.h"

namespace billing::sync {

struct BackfillOptions {
  std::vector<ObjectKind> kinds;     // in the order given (allKinds() order by default)
  std::optional<std::int64_t> since; // only objects created at or after (unix seconds)
  bool restart = false;              // forget saved progress and start over
  int page_size = 100;
};

struct BackfillProgress {
  ObjectKind kind = ObjectKind::Customer;
  std::int64_t pages = 0;
  std::int64_t objects = 0;   // seen in this run
  std::int64_t written = 0;   // newer than what we had
  bool resumed = false;       // continued a run that had stopped
  bool already_done = false;  // a finished run with the same options: nothing to do
};

/// Copies existing Stripe objects into PostgreSQL through SnapshotWriter (so a backfill racing the workers can
/// never overwrite a newer event). Walks each kind's list endpoint page by page, each page in one transaction with its
/// cursor in sync_state: an interrupted backfill resumes after the last committed page. Payment methods are listed
/// per customer (Stripe has no account-wide list for them), so backfill customers first.
class Backfill {
 public:
  Backfill(pg::Connection& db, stripe::StripeClient& stripe) : db_(db), stripe_(stripe) {}

  /// Throws StripeError or PgError; progress up to the last page stays saved.
  std::vector<BackfillProgress> run(const BackfillOptions& options,
                                    const std::function<void(const BackfillProgress&)>& on_page = {});

 private:
  BackfillProgress runKind(ObjectKind kind, const BackfillOptions& options,
                           const std::function<void(const BackfillProgress&)>& on_page);
  BackfillProgress runPaymentMethods(const BackfillOptions& options,
                                     const std::function<void(const BackfillProgress&)>& on_page);

  pg::Connection& db_;
  stripe::StripeClient& stripe_;
};

/// Parses "2026-06-01" or "2026-06-01T12:00:00Z" (UTC) to unix seconds.
std::optional<std::int64_t> parseDateArgument(const std::string& text);

}  // namespace billing::sync

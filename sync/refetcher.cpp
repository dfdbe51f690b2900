#include "sync/refetcher.h"

#include <algorithm>

#include "common/json_log.h"
#include "common/metrics.h"
#include "sync/object_fetcher.h"
#include "sync/snapshot_writer.h"

namespace billing::sync {
namespace {

constexpr int kLeaseSeconds = 120;

metrics::Counter& refetchCounter(const std::string& outcome) {
  return metrics::defaultRegistry().counter("billing_sync_refetches_total",
                                            "Objects fetched again from Stripe because their state was in doubt",
                                            {{"outcome", outcome}});
}

// 2 s, 4 s, ... capped at 10 minutes: Stripe outages and rate limits pass; a bad key needs a human and the metric.
int backoffSeconds(int attempts) { return std::min(600, 1 << std::min(attempts, 10)); }

}  // namespace

RefetchStats Refetcher::runDue(int limit) {
  RefetchStats stats;
  auto leased = db_.query(
      "UPDATE refetch_queue q SET not_before = now() + make_interval(secs => $2::int), attempts = q.attempts + 1\n"
      "FROM (SELECT object_type, object_id FROM refetch_queue WHERE not_before <= now()\n"
      "      ORDER BY not_before LIMIT $1::int FOR UPDATE SKIP LOCKED) due\n"
      "WHERE q.object_type = due.object_type AND q.object_id = due.object_id\n"
      "RETURNING q.object_type, q.object_id, q.doubt_version, q.attempts",
      {std::to_string(limit), std::to_string(kLeaseSeconds)});
  stats.leased = static_cast<int>(leased.size());
  for (const auto& row : leased) {
    std::string object_type = row[0].value_or(""), id = row[1].value_or("");
    std::string doubt_version = row[2].value_or("0");
    int attempts = std::stoi(row[3].value_or("1"));
    auto kind = kindForObjectType(object_type);
    if (!kind) {  // written by a newer release: leave it for that one
      continue;
    }
    try {
      auto snapshot = fetchSnapshot(stripe_, *kind, id);
      auto outcome = pg::inTransaction(db_, [&] {
        // Locks in the worker's order, the object's row before its queue entry: the other way round, a fetch and a
        // batch writing the same object deadlocked (the chaos run saw hundreds, each costing a retry).
        db_.query("SELECT 1 FROM " + std::string(info(*kind).table) + " WHERE id = $1 FOR UPDATE", {id});
        // Remove the entry unless a newer doubt arrived meanwhile (its own fetch will follow); then write, which may
        // queue the object again if Stripe's clock still reads the doubtful second.
        db_.query("DELETE FROM refetch_queue WHERE object_type = $1 AND object_id = $2 AND doubt_version <= $3::bigint",
                  {object_type, id, doubt_version});
        return SnapshotWriter(db_).write({snapshot}).front();
      });
      refetchCounter(toString(outcome)).inc();
      ++stats.fetched;
    } catch (const stripe::StripeError& e) {
      ++stats.failed;
      if (e.isRateLimit()) ++stats.rate_limited;
      refetchCounter(e.isTransient() ? "transient_error" : "error").inc();
      log::warn("refetch failed", {{"object_type", object_type},
                                   {"object_id", id},
                                   {"status", e.status()},
                                   {"code", e.code()},
                                   {"request_id", e.requestId()},
                                   {"attempts", attempts}});
      db_.query("UPDATE refetch_queue SET not_before = now() + make_interval(secs => $3::int), last_error = $4\n"
                "WHERE object_type = $1 AND object_id = $2",
                {object_type, id, std::to_string(backoffSeconds(attempts)),
                 std::to_string(e.status()) + " " + e.code() + ": " + e.what()});
    }
  }
  return stats;
}

RefetchBacklog refetchBacklog(pg::Connection& db) {
  auto row = db.query(
      "SELECT count(*), count(*) FILTER (WHERE not_before <= now()),\n"
      "       coalesce(extract(epoch FROM now() - min(enqueued_at)), 0)::float8\n"
      "FROM refetch_queue").at(0);
  RefetchBacklog b;
  b.queued = std::stoll(row[0].value_or("0"));
  b.due = std::stoll(row[1].value_or("0"));
  b.oldest_age_seconds = std::stod(row[2].value_or("0"));
  auto& registry = metrics::defaultRegistry();
  registry.gauge("billing_sync_refetch_queue", "Objects waiting for a fetch from Stripe").set(static_cast<double>(b.queued));
  registry.gauge("billing_sync_refetch_due", "Objects whose fetch from Stripe is due now").set(static_cast<double>(b.due));
  registry.gauge("billing_sync_refetch_backlog_age_seconds",
                 "How long the oldest object in refetch_queue has waited for its fetch").set(b.oldest_age_seconds);
  return b;
}

}  // namespace billing::sync

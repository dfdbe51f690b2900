#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/postgres.h"
#include "sync/object_kind.h"

namespace billing::sync {

/// One object's state at one moment, from an event or from the API.
struct Snapshot {
  ObjectKind kind = ObjectKind::Customer;
  std::string id;
  std::int64_t version = 0;  // Stripe-clock seconds: event.created, or the Date of the API response
  std::string event_id;      // empty when fetched from the API
  bool deleted = false;      // tombstone
  std::string raw_json;      // the object as Stripe sent it (a `deleted: true` stub is fine for a tombstone)
  /// Fetched snapshots only: Stripe read the object at some moment in [read_from, version] (the request left at
  /// read_from, Date was stamped at version). 0: unknown, taken as version.
  std::int64_t read_from = 0;
};

/// How long a fetched snapshot may have been read before its Date (a list page of 100 objects can take seconds): an
/// event up to this much older than a fetched row may still be newer than what was read, so it is settled by a
/// fetch instead of being dropped as stale.
inline constexpr std::int64_t kFetchedSnapshotDoubtSeconds = 10;

enum class WriteOutcome {
  Applied,         // newer than what we had: written
  Deleted,         // tombstone written
  Stale,           // we already hold a newer snapshot
  Unchanged,       // same second, same content: nothing to do
  RefetchQueued,   // same second, different content: which is later is unknowable, Stripe will tell (refetch_queue)
  AlreadyDeleted,  // the object is a tombstone: nothing resurrects it
};

const char* toString(WriteOutcome outcome);

/// Why an object is queued for a fetch from the Stripe API.
struct RefetchRequest {
  ObjectKind kind;
  std::string id;
  std::string reason;          // same_second | list_truncated | api_version_mismatch | ...
  std::int64_t doubt_version;  // the snapshot version in doubt; the fetch waits until Stripe's clock is past it
};

/// Writes snapshots with the one rule every path shares (events, backfill, refetch, reconcile, the API's own
/// writes): a snapshot replaces the stored one only if its version is strictly newer, a tombstone always wins and
/// is final. On the same second with different content, an event's snapshot waits and a fetched one (no event id:
/// the answer to our own write, which is later than anything stored before it was sent) replaces the stored one;
/// either way the object is queued for a fetch that settles it. A fetched snapshot is older than its Date, so two
/// more doubts are settled by a fetch: an event at most kFetchedSnapshotDoubtSeconds older than a fetched row
/// (queued, not dropped as stale), and a fetched snapshot written over an event that may have happened after the
/// read began (written, and confirmed). Children (subscription items, invoice lines) are replaced from the parent's lists in the same
/// transaction. Set-based: one statement per kind, however many snapshots. Runs inside the caller's transaction.
class SnapshotWriter {
 public:
  explicit SnapshotWriter(pg::Connection& db) : db_(db) {}

  /// At most one snapshot per (kind, id). Returns one outcome per snapshot, in order. Throws PgError.
  std::vector<WriteOutcome> write(const std::vector<Snapshot>& snapshots);
  /// write() in a transaction of its own, for callers outside one.
  std::vector<WriteOutcome> writeInTransaction(const std::vector<Snapshot>& snapshots);

  /// Queues fetches (deduplicated per object; an existing entry keeps its later not_before). Throws PgError.
  void queueRefetch(const std::vector<RefetchRequest>& requests);

 private:
  void writeKind(ObjectKind kind, const std::vector<const Snapshot*>& snapshots, std::vector<WriteOutcome*>& outcomes,
                 std::vector<RefetchRequest>& refetch);
  void replaceChildren(ObjectKind kind, const std::vector<std::string>& parent_ids, std::vector<RefetchRequest>& refetch);

  pg::Connection& db_;
};

}  // namespace billing::sync

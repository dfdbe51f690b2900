#include "sync/snapshot_writer.h"

#include <map>
#include <unordered_map>

#include "sync/stripe_event.h"

namespace billing::sync {
namespace {

// `raw ? 'deleted'`: a `deleted: true` stub (what GET answers for a deleted customer) keeps the last full state.
// The CTE `prior` reads the rows as they were before this statement, which tells a stale snapshot from a tie.
std::string upsertSql(std::string_view table) {
  std::string t(table);
  return "WITH input AS (\n"
         "  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id text, version bigint, event_id text, deleted boolean, raw jsonb)\n"
         "), prior AS (\n"
         "  SELECT t.id, t.version, t.deleted, t.raw = i.raw AS same, t.source_event_id IS NULL AS fetched\n"
         "  FROM input i JOIN " + t + " t ON t.id = i.id\n"
         "), written AS (\n"
         "  INSERT INTO " + t + " AS t (id, raw, version, source_event_id, deleted, deleted_at, synced_at)\n"
         "  SELECT id, raw, version, event_id, deleted, CASE WHEN deleted THEN to_timestamp(version) END, now() FROM input\n"
         "  ON CONFLICT (id) DO UPDATE SET\n"
         "    raw = CASE WHEN excluded.raw ? 'deleted' THEN t.raw ELSE excluded.raw END,\n"
         "    version = excluded.version, source_event_id = excluded.source_event_id, deleted = excluded.deleted,\n"
         "    deleted_at = excluded.deleted_at, synced_at = excluded.synced_at\n"
         "  WHERE NOT t.deleted AND (t.version < excluded.version OR excluded.deleted\n"
         "    OR (t.version = excluded.version AND excluded.source_event_id IS NULL AND t.raw <> excluded.raw))\n"
         "  RETURNING t.id\n"
         ")\n"
         "SELECT i.id, w.id IS NOT NULL, p.version, p.deleted, p.same, p.fetched\n"
         "FROM input i LEFT JOIN written w ON w.id = i.id LEFT JOIN prior p ON p.id = i.id";
}

struct ChildSpec {
  std::string_view parent_table;
  std::string_view list_key;    // the parent's list member: items | lines
  std::string_view table;
  std::string_view parent_column;
  std::string_view conflict;    // the child table's key
  std::string_view distinct;    // the same key over the `children` rows: one row per key per statement
};

const ChildSpec* childSpec(ObjectKind kind) {
  static const ChildSpec items{"subscriptions", "items", "subscription_items", "subscription_id", "id", "raw ->> 'id'"};
  static const ChildSpec lines{"invoices", "lines", "invoice_lines", "invoice_id", "invoice_id, id",
                               "parent_id, raw ->> 'id'"};
  if (kind == ObjectKind::Subscription) return &items;
  if (kind == ObjectKind::Invoice) return &lines;
  return nullptr;
}

// Children listed by the parent replace the stored ones; those no longer listed are removed, unless the list was
// cut short (has_more), which the caller queues for a full fetch. Returns the parents whose list was cut short.
std::string childrenSql(const ChildSpec& c) {
  std::string list(c.list_key), table(c.table), parent(c.parent_column), parent_table(c.parent_table);
  return "WITH parents AS (\n"
         "  SELECT id, version, raw, coalesce((raw #>> '{" + list + ",has_more}')::boolean, false) AS truncated\n"
         "  FROM " + parent_table + " WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)) AND NOT deleted\n"
         "), children AS (\n"
         "  SELECT p.id AS parent_id, p.version, e.value AS raw\n"
         "  FROM parents p CROSS JOIN LATERAL jsonb_array_elements(coalesce(p.raw #> '{" + list + ",data}', '[]'::jsonb)) AS e(value)\n"
         "), removed AS (\n"
         "  DELETE FROM " + table + " c USING parents p\n"
         "  WHERE c." + parent + " = p.id AND NOT p.truncated\n"
         "    AND NOT EXISTS (SELECT 1 FROM children ch WHERE ch.parent_id = p.id AND ch.raw ->> 'id' = c.id)\n"
         "), upserted AS (\n"
         "  INSERT INTO " + table + " AS c (id, " + parent + ", raw, version, synced_at)\n"
         "  SELECT DISTINCT ON (" + std::string(c.distinct) + ") raw ->> 'id', parent_id, raw, version, now() FROM children\n"
         "  ON CONFLICT (" + std::string(c.conflict) + ") DO UPDATE SET " + parent + " = excluded." + parent + ",\n"
         "    raw = excluded.raw, version = excluded.version, synced_at = excluded.synced_at\n"
         ")\n"
         "SELECT id, version FROM parents WHERE truncated";
}

}  // namespace

const char* toString(WriteOutcome outcome) {
  switch (outcome) {
    case WriteOutcome::Applied: return "applied";
    case WriteOutcome::Deleted: return "deleted";
    case WriteOutcome::Stale: return "stale";
    case WriteOutcome::Unchanged: return "unchanged";
    case WriteOutcome::RefetchQueued: return "refetch_queued";
    case WriteOutcome::AlreadyDeleted: return "already_deleted";
  }
  return "unknown";
}

std::vector<WriteOutcome> SnapshotWriter::write(const std::vector<Snapshot>& snapshots) {
  std::vector<WriteOutcome> outcomes(snapshots.size(), WriteOutcome::Stale);
  std::map<ObjectKind, std::vector<std::size_t>> by_kind;
  for (std::size_t i = 0; i < snapshots.size(); ++i) by_kind[snapshots[i].kind].push_back(i);

  std::vector<RefetchRequest> refetch;
  for (const auto& [kind, indices] : by_kind) {
    std::string input = "[";
    for (auto i : indices) {
      const auto& s = snapshots[i];
      if (input.size() > 1) input.push_back(',');
      input += "{\"id\":";
      appendJsonString(input, s.id);
      input += ",\"version\":" + std::to_string(s.version) + ",\"event_id\":";
      if (s.event_id.empty()) input += "null";
      else appendJsonString(input, s.event_id);
      input += s.deleted ? ",\"deleted\":true,\"raw\":" : ",\"deleted\":false,\"raw\":";
      input += s.raw_json;
      input.push_back('}');
    }
    input.push_back(']');

    auto rows = db_.query(upsertSql(info(kind).table), {input});
    std::unordered_map<std::string, const pg::Row*> by_id;
    for (const auto& row : rows) by_id.emplace(row[0].value_or(""), &row);

    std::vector<std::string> written_parents;
    for (auto i : indices) {
      const auto& s = snapshots[i];
      auto it = by_id.find(s.id);
      if (it == by_id.end()) continue;
      const auto& row = *it->second;
      bool written = row[1] == "t";
      bool fetched = s.event_id.empty();
      bool prior_fetched = row[5] == "t";
      if (written) {
        outcomes[i] = s.deleted ? WriteOutcome::Deleted : WriteOutcome::Applied;
        if (!s.deleted) written_parents.push_back(s.id);
        if (!s.deleted && row[2] && fetched) {
          auto prior_version = std::stoll(*row[2]);
          auto read_from = s.read_from > 0 ? s.read_from : s.version;
          if (prior_version == s.version) {
            // A fetched snapshot (our own write's answer, a backfill page) that shares its second with the stored
            // one replaced it, but which is later is still unknowable: confirm with a fetch.
            refetch.push_back({kind, s.id, "same_second", s.version});
          } else if (!prior_fetched && prior_version >= read_from) {
            // The stored event may have happened after Stripe read this snapshot (it was read somewhere between
            // read_from and its Date): confirm with a fetch that starts after that event.
            refetch.push_back({kind, s.id, "read_during_change", prior_version});
          }
        }
        continue;
      }
      // Not written: a row existed (without one the INSERT always writes).
      bool prior_deleted = row[3] == "t";
      std::int64_t prior_version = row[2] ? std::stoll(*row[2]) : 0;
      if (prior_deleted) {
        outcomes[i] = WriteOutcome::AlreadyDeleted;
      } else if (prior_version == s.version && row[4] == "t") {
        outcomes[i] = WriteOutcome::Unchanged;
      } else if (prior_version == s.version) {
        outcomes[i] = WriteOutcome::RefetchQueued;
        refetch.push_back({kind, s.id, "same_second", s.version});
      } else if (!fetched && prior_fetched && row[4] != "t" &&
                 prior_version - s.version <= kFetchedSnapshotDoubtSeconds) {
        // The stored row was fetched, and Stripe read it some time before its Date: this event may be newer than
        // what was read. Not dropped: a fetch (after the event's second) settles it.
        outcomes[i] = WriteOutcome::RefetchQueued;
        refetch.push_back({kind, s.id, "fetched_before_event", s.version});
      } else {
        outcomes[i] = WriteOutcome::Stale;
      }
    }
    if (!written_parents.empty() && childSpec(kind)) replaceChildren(kind, written_parents, refetch);
  }
  if (!refetch.empty()) queueRefetch(refetch);
  return outcomes;
}

std::vector<WriteOutcome> SnapshotWriter::writeInTransaction(const std::vector<Snapshot>& snapshots) {
  return pg::inTransaction(db_, [&] { return write(snapshots); });
}

void SnapshotWriter::replaceChildren(ObjectKind kind, const std::vector<std::string>& parent_ids,
                                     std::vector<RefetchRequest>& refetch) {
  std::string ids = "[";
  for (const auto& id : parent_ids) {
    if (ids.size() > 1) ids.push_back(',');
    appendJsonString(ids, id);
  }
  ids.push_back(']');
  for (const auto& row : db_.query(childrenSql(*childSpec(kind)), {ids})) {
    refetch.push_back({kind, row[0].value_or(""), "list_truncated", std::stoll(row[1].value_or("0"))});
  }
}

void SnapshotWriter::queueRefetch(const std::vector<RefetchRequest>& requests) {
  std::string input = "[";
  for (const auto& r : requests) {
    if (input.size() > 1) input.push_back(',');
    input += "{\"object_type\":";
    appendJsonString(input, info(r.kind).object_type);
    input += ",\"object_id\":";
    appendJsonString(input, r.id);
    input += ",\"reason\":";
    appendJsonString(input, r.reason);
    input += ",\"doubt_version\":" + std::to_string(r.doubt_version) + "}";
  }
  input.push_back(']');
  // Fetch once Stripe's clock is past the doubtful second, so the answer is strictly newer than both snapshots. A
  // newer doubt makes a leased entry (fetch in flight, maybe read before this change) due again instead of waiting
  // out the lease; the fetch in flight removes the entry only if its doubt was the latest.
  db_.query(
      "INSERT INTO refetch_queue AS q (object_type, object_id, reason, doubt_version, not_before)\n"
      "SELECT DISTINCT ON (object_type, object_id) object_type, object_id, reason, doubt_version,\n"
      "       greatest(now(), to_timestamp(doubt_version + 2))\n"
      "FROM jsonb_to_recordset($1::jsonb) AS x(object_type text, object_id text, reason text, doubt_version bigint)\n"
      "ORDER BY object_type, object_id, doubt_version DESC\n"
      "ON CONFLICT (object_type, object_id) DO UPDATE SET reason = excluded.reason,\n"
      "  doubt_version = greatest(q.doubt_version, excluded.doubt_version),\n"
      "  not_before = CASE WHEN excluded.doubt_version > q.doubt_version THEN excluded.not_before\n"
      "                    ELSE greatest(q.not_before, excluded.not_before) END",
      {input});
}

}  // namespace billing::sync

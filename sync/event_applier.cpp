#include "sync/event_applier.h"

#include <map>
#include <mutex>
#include <set>
#include <unordered_set>

#include "common/json_log.h"
#include "common/metrics.h"

#include "stripe/api_version.h"
#include "sync/event_routes.h"
#include "sync/snapshot_writer.h"

namespace billing::sync {
namespace {

EventOutcome fromWrite(WriteOutcome w) {
  switch (w) {
    case WriteOutcome::Applied: return EventOutcome::Applied;
    case WriteOutcome::Deleted: return EventOutcome::Deleted;
    case WriteOutcome::Stale: return EventOutcome::Stale;
    case WriteOutcome::Unchanged: return EventOutcome::Unchanged;
    case WriteOutcome::RefetchQueued: return EventOutcome::RefetchQueued;
    case WriteOutcome::AlreadyDeleted: return EventOutcome::AlreadyDeleted;
  }
  return EventOutcome::Stale;
}

std::string jsonArray(const std::vector<std::string>& values) {
  std::string out = "[";
  for (const auto& v : values) {
    if (out.size() > 1) out.push_back(',');
    appendJsonString(out, v);
  }
  out.push_back(']');
  return out;
}

// Within one batch, which of two snapshots of the same object stands: a tombstone over anything, then the later
// second; on the same second with different content the later delivery stands for now and the object is queued for a
// fetch (the writer does the same against the stored row).
enum class Versus { Replaces, Loses, Same, Tie };
Versus compare(const Snapshot& incoming, const Snapshot& held) {
  if (incoming.deleted != held.deleted) return incoming.deleted ? Versus::Replaces : Versus::Loses;
  if (incoming.version != held.version) return incoming.version > held.version ? Versus::Replaces : Versus::Loses;
  return incoming.raw_json == held.raw_json ? Versus::Same : Versus::Tie;
}

// Events at another API version cost a fetch each: loud in the log (once per version and process) and counted.
void countOtherApiVersion(const std::string& api_version) {
  static std::mutex mutex;
  static std::set<std::string> warned;
  metrics::defaultRegistry()
      .counter("billing_sync_events_other_api_version_total",
               "Events rendered at another API version than ours (each is fetched again from Stripe)",
               {{"api_version", api_version}})
      .inc();
  std::lock_guard lock(mutex);
  if (warned.insert(api_version).second) {
    log::warn("events arrive at another API version: each is fetched again from Stripe; move the webhook endpoint "
              "to ours (docs/deploy.md)",
              {{"event_api_version", api_version}, {"api_version", stripe::kApiVersion}});
  }
}

}  // namespace

const char* toString(EventOutcome outcome) {
  switch (outcome) {
    case EventOutcome::Applied: return "applied";
    case EventOutcome::Deleted: return "deleted";
    case EventOutcome::Stale: return "stale";
    case EventOutcome::Unchanged: return "unchanged";
    case EventOutcome::RefetchQueued: return "refetch_queued";
    case EventOutcome::AlreadyDeleted: return "already_deleted";
    case EventOutcome::Skipped: return "skipped";
    case EventOutcome::Duplicate: return "duplicate";
    case EventOutcome::OtherMode: return "other_mode";
  }
  return "unknown";
}

std::optional<std::string> poisonReason(const StripeEvent& event) {
  if (event.thin) return std::nullopt;
  auto route = routeFor(event.type);
  if (!route) return std::nullopt;
  auto expected = info(route->kind).object_type;
  if (event.object_type != expected) {
    return "event type " + event.type + " carries a " + event.object_type + " object, expected " + std::string(expected);
  }
  if (event.object_id.empty()) return "event type " + event.type + " carries an object without an id";
  return std::nullopt;
}

std::vector<EventOutcome> EventApplier::apply(const std::vector<PositionedEvent>& events) {
  return pg::inTransaction(db_, [&] { return applyInTransaction(events); });
}

std::vector<EventOutcome> EventApplier::applyInTransaction(const std::vector<PositionedEvent>& events) {
  std::vector<EventOutcome> outcomes(events.size(), EventOutcome::Skipped);

  // 1. Duplicates: recorded before, or twice in this batch.
  std::vector<std::string> ids;
  ids.reserve(events.size());
  for (const auto& e : events) ids.push_back(e.event->id);
  std::unordered_set<std::string> seen;
  for (const auto& row : db_.query("SELECT event_id FROM processed_events WHERE event_id IN "
                                   "(SELECT jsonb_array_elements_text($1::jsonb))",
                                   {jsonArray(ids)})) {
    seen.insert(row[0].value_or(""));
  }

  // 2. One snapshot per object: the latest of the batch.
  std::vector<Snapshot> snapshots;
  std::vector<std::vector<std::size_t>> events_of_snapshot;  // which events each snapshot stands for
  std::map<std::pair<ObjectKind, std::string>, std::size_t> slot;
  std::vector<RefetchRequest> refetch;
  std::vector<bool> recorded(events.size(), false);
  std::vector<std::size_t> meter_reports;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = *events[i].event;
    if (!seen.insert(e.id).second) {
      outcomes[i] = EventOutcome::Duplicate;
      continue;
    }
    recorded[i] = true;
    if (livemode_ && e.livemode != *livemode_) {
      outcomes[i] = EventOutcome::OtherMode;
      continue;
    }
    if (e.thin && (e.type == kMeterErrorReportType || e.type == kNoMeterFoundType)) {
      // A thin event carries no data: the usage reporter fetches it from the v2 Events API.
      meter_reports.push_back(i);
      outcomes[i] = EventOutcome::RefetchQueued;
      continue;
    }
    auto route = e.thin ? std::nullopt : routeFor(e.type);
    if (!route) continue;  // Skipped
    Snapshot s{route->kind, e.object_id, e.created, e.id, route->action == EventAction::Delete || e.object_deleted,
               e.object_json};
    // A payload rendered for another API version doesn't have the shapes our columns read: fetch the object at
    // ours instead. A deletion is unambiguous whatever the version.
    if (!s.deleted && !e.api_version.empty() && e.api_version != stripe::kApiVersion) {
      countOtherApiVersion(e.api_version);
      refetch.push_back({s.kind, s.id, "api_version_mismatch", s.version});
      outcomes[i] = EventOutcome::RefetchQueued;
      continue;
    }
    auto key = std::make_pair(s.kind, s.id);
    auto found = slot.find(key);
    if (found == slot.end()) {
      slot.emplace(key, snapshots.size());
      snapshots.push_back(std::move(s));
      events_of_snapshot.push_back({i});
      continue;
    }
    auto& held = snapshots[found->second];
    auto& held_events = events_of_snapshot[found->second];
    switch (compare(s, held)) {
      case Versus::Replaces:
        for (auto j : held_events) outcomes[j] = EventOutcome::Stale;
        held = std::move(s);
        held_events = {i};
        break;
      case Versus::Loses: outcomes[i] = EventOutcome::Stale; break;
      case Versus::Same: outcomes[i] = EventOutcome::Unchanged; break;
      case Versus::Tie:
        for (auto j : held_events) outcomes[j] = EventOutcome::RefetchQueued;
        refetch.push_back({s.kind, s.id, "same_second", s.version});
        held = std::move(s);
        held_events = {i};
        break;
    }
  }

  // 3. Write against the stored state.
  SnapshotWriter writer(db_);
  if (!snapshots.empty()) {
    auto written = writer.write(snapshots);
    for (std::size_t k = 0; k < snapshots.size(); ++k) outcomes[events_of_snapshot[k].front()] = fromWrite(written[k]);
  }
  if (!refetch.empty()) writer.queueRefetch(refetch);
  for (auto i : meter_reports) {
    db_.query("INSERT INTO meter_error_reports (event_id, created) VALUES ($1, to_timestamp($2::bigint))\n"
             "ON CONFLICT (event_id) DO NOTHING",
             {events[i].event->id, std::to_string(events[i].event->created)});
  }

  // 4. Record every new event with its outcome. Fewer rows than expected: another worker got there first.
  std::string input = "[";
  std::size_t expected = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (!recorded[i]) continue;
    const auto& e = *events[i].event;
    if (input.size() > 1) input.push_back(',');
    input += "{\"event_id\":";
    appendJsonString(input, e.id);
    input += ",\"type\":";
    appendJsonString(input, e.type);
    input += ",\"object_type\":";
    appendJsonString(input, e.object_type);
    input += ",\"object_id\":";
    appendJsonString(input, e.object_id);
    input += ",\"created\":" + std::to_string(e.created) + ",\"livemode\":" + (e.livemode ? "true" : "false") +
             ",\"outcome\":\"" + toString(outcomes[i]) + "\",\"partition\":" + std::to_string(events[i].partition) +
             ",\"offset\":" + std::to_string(events[i].offset) + "}";
    ++expected;
  }
  input.push_back(']');
  if (expected > 0) {
    auto inserted = db_.query(
        "INSERT INTO processed_events (event_id, type, object_type, object_id, event_created, livemode, outcome,\n"
        "                              kafka_partition, kafka_offset)\n"
        "SELECT event_id, type, nullif(object_type, ''), nullif(object_id, ''), to_timestamp(created), livemode,\n"
        "       outcome, nullif(\"partition\", -1), nullif(\"offset\", -1)\n"
        "FROM jsonb_to_recordset($1::jsonb) AS x(event_id text, type text, object_type text, object_id text,\n"
        "     created bigint, livemode boolean, outcome text, \"partition\" integer, \"offset\" bigint)\n"
        "ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        {input});
    if (inserted.size() != expected) {
      throw ConcurrentApply("another worker recorded " + std::to_string(expected - inserted.size()) +
                            " of these events meanwhile");
    }
  }
  return outcomes;
}

}  // namespace billing::sync

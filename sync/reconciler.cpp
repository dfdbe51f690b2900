#include "sync/reconciler.h"

#include <unordered_map>
#include <unordered_set>

#include "sync/object_fetcher.h"
#include "sync/snapshot_writer.h"
#include "sync/stripe_event.h"

namespace billing::sync {
namespace {

constexpr std::size_t kMaxExamples = 10;

void note(DriftReport& report, const std::string& id) {
  if (report.examples.size() < kMaxExamples) report.examples.push_back(id);
}

}  // namespace

std::vector<DriftReport> Reconciler::run(const ReconcileOptions& options) {
  std::vector<DriftReport> reports;
  for (auto kind : options.kinds) {
    // Payment methods have no account-wide list: always checked one by one.
    bool walk = options.sample == 0 && kind != ObjectKind::PaymentMethod;
    reports.push_back(walk ? walkKind(kind, options) : sampleKind(kind, options));
  }
  return reports;
}

void Reconciler::compare(const std::vector<Snapshot>& snapshots, const ReconcileOptions& options,
                         DriftReport& report) {
  if (snapshots.empty()) return;
  const auto& k = info(snapshots.front().kind);
  std::string input = "[";
  for (const auto& s : snapshots) {
    if (input.size() > 1) input.push_back(',');
    input += "{\"id\":";
    appendJsonString(input, s.id);
    input += ",\"raw\":" + (s.deleted ? std::string("null") : s.raw_json) + "}";
  }
  input.push_back(']');
  auto rows = db_.query("SELECT i.id, t.id IS NOT NULL, coalesce(t.deleted, false), coalesce(t.raw = i.raw, false)\n"
                        "FROM jsonb_to_recordset($1::jsonb) AS i(id text, raw jsonb)\n"
                        "LEFT JOIN " + std::string(k.table) + " t ON t.id = i.id",
                        {input});
  std::unordered_map<std::string, const pg::Row*> by_id;
  for (const auto& row : rows) by_id.emplace(row[0].value_or(""), &row);
  std::vector<Snapshot> repairs;
  for (const auto& s : snapshots) {
    ++report.checked;
    const auto& row = *by_id.at(s.id);
    bool stored = row[1] == "t", stored_deleted = row[2] == "t", same = row[3] == "t";
    if (s.deleted) {
      if (stored && !stored_deleted) {
        ++report.deleted_in_stripe;
        note(report, s.id);
        repairs.push_back(s);
      }
      continue;
    }
    if (!stored) {
      ++report.missing_locally;
    } else if (stored_deleted || same) {
      continue;  // a tombstone is final; identical state is fine
    } else {
      ++report.different;
    }
    note(report, s.id);
    repairs.push_back(s);
  }
  if (!options.repair || repairs.empty()) return;
  for (auto outcome : SnapshotWriter(db_).writeInTransaction(repairs)) {
    if (outcome == WriteOutcome::Applied || outcome == WriteOutcome::Deleted) ++report.repaired;
  }
}

DriftReport Reconciler::sampleKind(ObjectKind kind, const ReconcileOptions& options) {
  DriftReport report;
  report.kind = kind;
  std::string sql = "SELECT id FROM " + std::string(info(kind).table) + " WHERE NOT deleted";
  if (options.sample > 0) sql += " ORDER BY random() LIMIT " + std::to_string(options.sample);
  std::vector<Snapshot> batch;
  for (const auto& row : db_.query(sql)) {
    batch.push_back(fetchSnapshot(stripe_, kind, row[0].value_or("")));
    if (batch.size() == 100) {
      compare(batch, options, report);
      batch.clear();
    }
  }
  compare(batch, options, report);
  return report;
}

DriftReport Reconciler::walkKind(ObjectKind kind, const ReconcileOptions& options) {
  const auto& k = info(kind);
  DriftReport report;
  report.kind = kind;
  std::unordered_set<std::string> seen;
  std::string starting_after;
  for (;;) {
    stripe::FormParams query = {{"limit", "100"}};
    if (!k.list_query.empty()) {
      auto eq = k.list_query.find('=');
      query.emplace_back(std::string(k.list_query.substr(0, eq)), std::string(k.list_query.substr(eq + 1)));
    }
    if (!starting_after.empty()) query.emplace_back("starting_after", starting_after);
    auto page = stripe_.fetch(std::string(k.api_path), query);
    std::vector<Snapshot> snapshots;
    for (auto& object : page.body.at("data")) {
      if (kind == ObjectKind::Subscription || kind == ObjectKind::Invoice) completeEmbeddedList(stripe_, kind, object);
      Snapshot s{kind, object.at("id").get<std::string>(), page.server_time, "", false, object.dump(), earliestRead(page)};
      seen.insert(s.id);
      snapshots.push_back(std::move(s));
    }
    compare(snapshots, options, report);
    if (snapshots.empty() || !page.body.value("has_more", false)) break;
    starting_after = snapshots.back().id;
  }
  // Alive here but not listed: deleted in Stripe (or listed under a filter we don't use). Ask for each.
  std::vector<Snapshot> unlisted;
  for (const auto& row : db_.query("SELECT id FROM " + std::string(k.table) + " WHERE NOT deleted")) {
    auto id = row[0].value_or("");
    if (!seen.count(id)) unlisted.push_back(fetchSnapshot(stripe_, kind, id));
  }
  compare(unlisted, options, report);
  return report;
}

}  // namespace billing::sync

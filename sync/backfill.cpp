#include "sync/backfill.h"

#include <nlohmann/json.hpp>

#include "common/utc_time.h"
#include "sync/object_fetcher.h"
#include "sync/snapshot_writer.h"

namespace billing::sync {
namespace {

std::string stateKey(ObjectKind kind) { return "backfill:" + std::string(info(kind).name); }

nlohmann::json loadState(pg::Connection& db, ObjectKind kind) {
  auto rows = db.query("SELECT value FROM sync_state WHERE key = $1", {stateKey(kind)});
  if (rows.empty() || !rows[0][0]) return nlohmann::json::object();
  return nlohmann::json::parse(*rows[0][0], nullptr, false);
}

void saveState(pg::Connection& db, ObjectKind kind, const nlohmann::json& state) {
  db.query("INSERT INTO sync_state (key, value, updated_at) VALUES ($1, $2::jsonb, now())\n"
           "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
           {stateKey(kind), state.dump()});
}

// One page of objects and the cursor after it, committed together.
std::int64_t commitPage(pg::Connection& db, ObjectKind kind, const std::vector<Snapshot>& snapshots,
                        const nlohmann::json& state) {
  return pg::inTransaction(db, [&] {
    std::int64_t written = 0;
    if (!snapshots.empty()) {
      for (auto outcome : SnapshotWriter(db).write(snapshots)) {
        if (outcome == WriteOutcome::Applied) ++written;
      }
    }
    saveState(db, kind, state);
    return written;
  });
}

std::vector<Snapshot> snapshotsOf(ObjectKind kind, const stripe::StripeClient::Response& page) {
  std::vector<Snapshot> out;
  for (const auto& object : page.body.at("data")) {
    Snapshot s;
    s.kind = kind;
    s.id = object.at("id").get<std::string>();
    s.version = page.server_time;
    s.read_from = earliestRead(page);
    s.raw_json = object.dump();
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::optional<std::int64_t> parseDateArgument(const std::string& text) {
  if (text.size() == 10) return common::parseIso8601Utc(text + "T00:00:00Z");
  return common::parseIso8601Utc(text);
}

std::vector<BackfillProgress> Backfill::run(const BackfillOptions& options,
                                            const std::function<void(const BackfillProgress&)>& on_page) {
  std::vector<BackfillProgress> results;
  for (auto kind : options.kinds) {
    results.push_back(kind == ObjectKind::PaymentMethod ? runPaymentMethods(options, on_page)
                                                        : runKind(kind, options, on_page));
  }
  return results;
}

BackfillProgress Backfill::runKind(ObjectKind kind, const BackfillOptions& options,
                                   const std::function<void(const BackfillProgress&)>& on_page) {
  const auto& k = info(kind);
  BackfillProgress progress;
  progress.kind = kind;
  auto state = loadState(db_, kind);
  nlohmann::json since = options.since ? nlohmann::json(*options.since) : nlohmann::json();
  // Saved progress counts only for the same question (same --since).
  if (options.restart || !state.is_object() || state.value("since", nlohmann::json()) != since) {
    state = {{"since", since}, {"starting_after", nullptr}, {"done", false}};
  }
  if (state.value("done", false)) {
    progress.already_done = true;
    return progress;
  }
  progress.resumed = state["starting_after"].is_string();
  for (;;) {
    stripe::FormParams query = {{"limit", std::to_string(options.page_size)}};
    if (!k.list_query.empty()) {
      auto eq = k.list_query.find('=');
      query.emplace_back(std::string(k.list_query.substr(0, eq)), std::string(k.list_query.substr(eq + 1)));
    }
    if (options.since) query.emplace_back("created[gte]", std::to_string(*options.since));
    if (state["starting_after"].is_string()) query.emplace_back("starting_after", state["starting_after"].get<std::string>());
    auto page = stripe_.fetch(std::string(k.api_path), query);
    auto snapshots = snapshotsOf(kind, page);
    bool has_more = page.body.value("has_more", false) && !snapshots.empty();
    if (!snapshots.empty()) state["starting_after"] = snapshots.back().id;
    state["done"] = !has_more;
    progress.written += commitPage(db_, kind, snapshots, state);
    progress.objects += static_cast<std::int64_t>(snapshots.size());
    ++progress.pages;
    if (on_page) on_page(progress);
    if (!has_more) break;
  }
  return progress;
}

BackfillProgress Backfill::runPaymentMethods(const BackfillOptions& options,
                                             const std::function<void(const BackfillProgress&)>& on_page) {
  const ObjectKind kind = ObjectKind::PaymentMethod;
  BackfillProgress progress;
  progress.kind = kind;
  auto state = loadState(db_, kind);
  if (options.restart || !state.is_object() || !state.contains("after_customer")) {
    state = {{"after_customer", ""}, {"done", false}};
  }
  if (state.value("done", false)) {
    progress.already_done = true;
    return progress;
  }
  progress.resumed = !state["after_customer"].get<std::string>().empty();
  // Customers in id order, so the cursor is simply the last customer finished.
  for (;;) {
    auto customers = db_.query("SELECT id FROM customers WHERE NOT deleted AND id > $1 ORDER BY id LIMIT 100",
                               {state["after_customer"].get<std::string>()});
    if (customers.empty()) break;
    for (const auto& row : customers) {
      const std::string customer = row[0].value_or("");
      std::vector<Snapshot> snapshots;
      std::string starting_after;
      for (;;) {
        stripe::FormParams query = {{"limit", std::to_string(options.page_size)}};
        if (!starting_after.empty()) query.emplace_back("starting_after", starting_after);
        auto page = stripe_.fetch("/v1/customers/" + customer + "/payment_methods", query);
        auto more = snapshotsOf(kind, page);
        ++progress.pages;
        if (more.empty()) break;
        starting_after = more.back().id;
        for (auto& s : more) snapshots.push_back(std::move(s));
        if (!page.body.value("has_more", false)) break;
      }
      state["after_customer"] = customer;
      progress.written += commitPage(db_, kind, snapshots, state);
      progress.objects += static_cast<std::int64_t>(snapshots.size());
      if (on_page) on_page(progress);
    }
  }
  state["done"] = true;
  commitPage(db_, kind, {}, state);
  return progress;
}

}  // namespace billing::sync

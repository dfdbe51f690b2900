#include "tests/support/sync_database.h"

#include <atomic>
#include <stdexcept>

#include "schema/migrator.h"
#include "stripe/api_version.h"
#include "tests/support/postgres_server.h"

namespace billing::testing {
namespace {

PostgresServer& sharedServer() {
  static PostgresServer server;
  return server;
}

}  // namespace

std::string freshSyncDatabase() {
  static std::atomic<int> counter{0};
  auto& server = sharedServer();
  std::string name = "sync_test_" + std::to_string(++counter);
  {
    pg::Connection admin(server.url());
    admin.exec("CREATE DATABASE " + name);
  }
  auto url = server.url().substr(0, server.url().rfind('/') + 1) + name;
  pg::Connection db(url);
  schema::migrate(db, schema::embeddedMigrations());
  return url;
}

std::string syncedState(pg::Connection& db) {
  std::string out;
  for (const char* table : {"customers", "products", "prices", "subscriptions", "subscription_schedules", "invoices",
                            "payment_methods"}) {
    for (const auto& row : db.query(std::string("SELECT id, deleted, raw::text FROM ") + table + " ORDER BY id")) {
      out += std::string(table) + " " + row[0].value_or("") + " deleted=" + row[1].value_or("") + " " +
             row[2].value_or("") + "\n";
    }
  }
  for (const auto& row : db.query("SELECT subscription_id, id, raw::text FROM subscription_items ORDER BY 1, 2")) {
    out += "subscription_items " + row[0].value_or("") + " " + row[1].value_or("") + " " + row[2].value_or("") + "\n";
  }
  for (const auto& row : db.query("SELECT invoice_id, id, raw::text FROM invoice_lines ORDER BY 1, 2")) {
    out += "invoice_lines " + row[0].value_or("") + " " + row[1].value_or("") + " " + row[2].value_or("") + "\n";
  }
  return out;
}

std::vector<sync::EventOutcome> applyPayloads(pg::Connection& db, const std::vector<std::string>& payloads,
                                              std::size_t batch, std::optional<bool> livemode) {
  std::vector<sync::ParseResult> parsed;
  parsed.reserve(payloads.size());
  for (const auto& p : payloads) {
    parsed.push_back(sync::parseStripeEvent(p));
    if (!parsed.back().ok) throw std::runtime_error("test event does not parse: " + parsed.back().error);
  }
  std::vector<sync::EventOutcome> outcomes;
  sync::EventApplier applier(db, livemode);
  for (std::size_t start = 0; start < parsed.size(); start += batch) {
    std::vector<sync::PositionedEvent> events;
    for (std::size_t i = start; i < std::min(parsed.size(), start + batch); ++i) {
      events.push_back({&parsed[i].event, 0, static_cast<std::int64_t>(i)});
    }
    for (auto o : applier.apply(events)) outcomes.push_back(o);
  }
  return outcomes;
}

std::string makeEvent(const std::string& type, std::int64_t created, const nlohmann::json& object,
                      const std::string& event_id, const std::string& api_version) {
  static std::atomic<int> counter{0};
  nlohmann::json event = {
      {"id", event_id.empty() ? "evt_test" + std::to_string(++counter) + "_" + std::to_string(created) : event_id},
      {"object", "event"},
      {"api_version", api_version.empty() ? std::string(stripe::kApiVersion) : api_version},
      {"created", created},
      {"data", {{"object", object}}},
      {"livemode", false},
      {"pending_webhooks", 1},
      {"request", {{"id", nullptr}, {"idempotency_key", nullptr}}},
      {"type", type},
  };
  return event.dump(2);
}

std::string scalar(pg::Connection& db, const std::string& sql, const std::vector<std::string>& params) {
  auto rows = db.query(sql, params);
  if (rows.empty() || rows[0].empty()) return "(no row)";
  return rows[0][0].value_or("NULL");
}

}  // namespace billing::testing

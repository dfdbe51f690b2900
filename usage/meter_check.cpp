#include "usage/meter_check.h"

#include <map>

namespace billing::usage {

MeterCheck checkMeters(stripe::StripeClient& stripe, const std::vector<std::string>& event_names) {
  std::map<std::string, nlohmann::json> by_event;  // active meters first: an inactive twin doesn't hide an active one
  std::string starting_after;
  for (int page = 0; page < 100; ++page) {
    stripe::FormParams query = {{"limit", "100"}};
    if (!starting_after.empty()) query.push_back({"starting_after", starting_after});
    auto list = stripe.get("/v1/billing/meters", query);
    for (const auto& meter : list.value("data", nlohmann::json::array())) {
      const auto name = meter.value("event_name", "");
      auto found = by_event.find(name);
      if (found == by_event.end() || meter.value("status", "") == "active") by_event[name] = meter;
      starting_after = meter.value("id", "");
    }
    if (!list.value("has_more", false) || starting_after.empty()) break;
  }
  MeterCheck check;
  auto& problems = check.problems;
  for (const auto& name : event_names) {
    auto found = by_event.find(name);
    if (found == by_event.end()) {
      problems.push_back("no Stripe meter has event_name '" + name + "' (create it, or fix BILLING_USAGE_METERS)");
      continue;
    }
    const auto& meter = found->second;
    const auto id = meter.value("id", "");
    check.meter_ids[name] = id;
    if (meter.value("status", "") != "active") {
      problems.push_back("Stripe meter " + id + " ('" + name + "') is " + meter.value("status", "not active") +
                         ": Stripe refuses its events");
    }
    const auto formula = meter.value("default_aggregation", nlohmann::json::object()).value("formula", "");
    if (formula != "sum") {
      problems.push_back("Stripe meter " + id + " ('" + name + "') aggregates by '" + formula +
                         "': usage is summed per window before it is sent, which bills correctly only for 'sum'");
    }
  }
  return check;
}

void recordMeters(pg::Connection& db, const std::map<std::string, std::string>& meter_ids) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& [name, id] : meter_ids) rows.push_back({{"event_name", name}, {"meter_id", id}});
  db.query(
      "INSERT INTO usage_meters (event_name, meter_id, checked_at)\n"
      "SELECT event_name, meter_id, now() FROM jsonb_to_recordset($1::jsonb) AS x(event_name text, meter_id text)\n"
      "ON CONFLICT (event_name) DO UPDATE SET meter_id = excluded.meter_id, checked_at = excluded.checked_at",
      {rows.dump()});
}

}  // namespace billing::usage

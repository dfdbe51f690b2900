#include "usage/meter_check.h"

#include <map>

#include "usage/meter_reporter.h"

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
    // The events this service sends name the customer and the value under fixed keys
    // (https://docs.stripe.com/api/billing/meter/object: customer_mapping, value_settings): a meter that reads other
    // keys would find no customer or no value in them, and Stripe would drop every event asynchronously.
    const auto mapping = meter.value("customer_mapping", nlohmann::json::object());
    if (mapping.value("type", "by_id") != "by_id" ||
        mapping.value("event_payload_key", kCustomerPayloadKey) != kCustomerPayloadKey) {
      problems.push_back("Stripe meter " + id + " ('" + name + "') maps customers by " + mapping.value("type", "?") +
                         " '" + mapping.value("event_payload_key", "?") + "': events carry the customer id as '" +
                         kCustomerPayloadKey + "' (customer_mapping type by_id)");
    }
    const auto value_key = meter.value("value_settings", nlohmann::json::object()).value("event_payload_key", kValuePayloadKey);
    if (value_key != kValuePayloadKey) {
      problems.push_back("Stripe meter " + id + " ('" + name + "') reads its value from '" + value_key +
                         "': events carry it as '" + kValuePayloadKey + "'");
    }
    // A meter with an event_time_window takes each event as the pre-aggregate of its hour or day. This service
    // sends one sum per short window and more for late usage, so several events fall in one such window; the
    // docs don't say how Stripe treats that (stricter reading: refused, not guessed).
    if (auto window = meter.find("event_time_window"); window != meter.end() && !window->is_null()) {
      problems.push_back("Stripe meter " + id + " ('" + name + "') has event_time_window '" +
                         (window->is_string() ? window->get<std::string>() : window->dump()) +
                         "': usage is sent as several sums per window, so use a meter without event_time_window");
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

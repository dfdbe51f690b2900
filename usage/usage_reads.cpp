// The usage tables' reads for the API (the usage read of an account): usage tables are read only here and in the
// rest of usage/.
#include "usage/usage_reads.h"

#include <map>

#include "common/utc_time.h"

namespace billing::usage {

std::map<std::string, BillingPeriod> billingPeriods(pg::Connection& db, const std::vector<std::string>& customer_ids) {
  std::map<std::string, BillingPeriod> out;
  if (customer_ids.empty()) return out;
  // The invoice that closes the previous period: the subscription's invoice whose period ends where this one
  // starts (Stripe's renewal invoice bills the period just ended for metered usage).
  auto rows = db.query(
      "SELECT p.customer_id, extract(epoch FROM p.period_start)::bigint, extract(epoch FROM p.period_end)::bigint,\n"
      "       coalesce(extract(epoch FROM prev.period_start)::bigint, 0), coalesce(prev.status <> 'draft', false)\n"
      "FROM customer_billing_periods p\n"
      "LEFT JOIN LATERAL (SELECT inv.period_start, inv.status FROM invoices inv\n"
      "                   WHERE inv.subscription_id = p.subscription_id AND NOT inv.deleted\n"
      "                     AND inv.period_end = p.period_start AND inv.period_start < p.period_start\n"
      "                   ORDER BY inv.created DESC LIMIT 1) prev ON true\n"
      "WHERE p.customer_id IN (SELECT jsonb_array_elements_text($1::jsonb))",
      {nlohmann::json(customer_ids).dump()});
  for (const auto& r : rows) {
    out[*r.at(0)] = {std::stoll(*r.at(1)), std::stoll(*r.at(2)), std::stoll(*r.at(3)), r.at(4) == "t"};
  }
  return out;
}

nlohmann::json accountUsage(pg::Connection& db, const std::vector<std::string>& configured_meters, const std::string& customer_id) {
  // The billing period: the current subscription's, else the calendar month (UTC).
  auto period = db.query(
      "SELECT extract(epoch FROM coalesce(p.start_at, date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'))::bigint,\n"
      "       extract(epoch FROM coalesce(p.end_at, (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'))::bigint\n"
      "FROM (SELECT min(i.current_period_start) AS start_at, max(i.current_period_end) AS end_at\n"
      "      FROM subscriptions s JOIN subscription_items i ON i.subscription_id = s.id\n"
      "      WHERE s.id = (SELECT id FROM current_subscriptions WHERE customer_id = $1 AND billable)) p",
      {customer_id});
  const std::string start = *period[0][0], end = *period[0][1];
  auto totals = db.query(
      "SELECT e.meter, sum(e.value)::bigint,\n"
      "       coalesce(sum(e.value) FILTER (WHERE a.status = 'reported'), 0)::bigint,\n"
      "       coalesce(sum(e.value) FILTER (WHERE a.status = 'failed'), 0)::bigint\n"
      "FROM usage_events e JOIN usage_aggregates a ON a.id = e.aggregate_id\n"
      "WHERE e.customer_id = $1 AND e.event_time >= to_timestamp($2::bigint) AND e.event_time < to_timestamp($3::bigint)\n"
      "GROUP BY e.meter",
      {customer_id, start, end});
  auto daily = db.query(
      "SELECT meter, to_char(date_trunc('day', event_time AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), sum(value)::bigint\n"
      "FROM usage_events WHERE customer_id = $1 AND event_time >= to_timestamp($2::bigint) AND event_time < to_timestamp($3::bigint)\n"
      "GROUP BY 1, 2 ORDER BY 1, 2",
      {customer_id, start, end});
  std::map<std::string, nlohmann::json> meters;
  for (const auto& m : configured_meters) {
    meters[m] = {{"event_name", m}, {"total", 0}, {"reported", 0}, {"pending", 0}, {"failed", 0},
                 {"daily", nlohmann::json::array()}};
  }
  for (const auto& r : totals) {
    auto& m = meters[*r[0]];
    auto total = std::stoll(*r[1]), reported = std::stoll(*r[2]), failed = std::stoll(*r[3]);
    m["event_name"] = *r[0];
    m["total"] = total;
    m["reported"] = reported;
    m["failed"] = failed;
    m["pending"] = total - reported - failed;
  }
  for (const auto& r : daily) {
    auto& m = meters[*r[0]];
    if (!m.contains("daily")) m["daily"] = nlohmann::json::array();
    m["daily"].push_back({{"date", *r[1]}, {"value", std::stoll(*r[2])}});
  }
  auto errors = db.query(
      "SELECT me.code, me.message, a.meter, iso_utc(me.occurred_at), me.identifier\n"
      "FROM meter_errors me JOIN usage_aggregates a ON a.identifier = me.identifier\n"
      "WHERE a.customer_id = $1 ORDER BY me.occurred_at DESC LIMIT 20",
      {customer_id});
  nlohmann::json error_list = nlohmann::json::array();
  for (const auto& r : errors) {
    error_list.push_back({{"code", *r[0]}, {"message", r[1].value_or("")}, {"event_name", *r[2]},
                          {"occurred_at", *r[3]}, {"identifier", *r[4]}});
  }
  nlohmann::json list = nlohmann::json::array();
  for (auto& [name, m] : meters) list.push_back(m);
  return {{"period_start", common::formatIso8601Utc(std::stoll(start))},
          {"period_end", common::formatIso8601Utc(std::stoll(end))},
          {"meters", list},
          {"meter_errors", error_list}};
}

}  // namespace billing::usage

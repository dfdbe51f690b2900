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
      // Each customer's periods looked up by customer (LATERAL): the view groups and deduplicates by customer, and
      // only a condition on that column inside its query lets PostgreSQL use the index instead of computing the
      // view for every customer (an IN (SELECT ...) outside it does not; tests/scale). OFFSET 0 keeps the LATERAL a
      // subquery: flattened into a join, its condition would be a join condition again.
      "FROM (SELECT DISTINCT jsonb_array_elements_text($1::jsonb) AS customer_id) wanted\n"
      "CROSS JOIN LATERAL (SELECT v.* FROM customer_billing_periods v WHERE v.customer_id = wanted.customer_id\n"
      "                    OFFSET 0) p\n"
      "LEFT JOIN LATERAL (SELECT inv.period_start, inv.status FROM invoices inv\n"
      "                   WHERE inv.subscription_id = p.subscription_id AND NOT inv.deleted\n"
      "                     AND inv.period_end = p.period_start AND inv.period_start < p.period_start\n"
      "                   ORDER BY inv.created DESC LIMIT 1) prev ON true",
      {nlohmann::json(customer_ids).dump()});
  for (const auto& r : rows) {
    out[*r.at(0)] = {std::stoll(*r.at(1)), std::stoll(*r.at(2)), std::stoll(*r.at(3)), r.at(4) == "t"};
  }
  return out;
}

std::map<std::string, std::set<std::string>> billedMeters(pg::Connection& db, const std::vector<std::string>& customer_ids) {
  std::map<std::string, std::set<std::string>> out;
  if (customer_ids.empty()) return out;
  // Per customer (LATERAL, OFFSET 0), as billingPeriods: the view's customer condition then uses the index.
  auto rows = db.query(
      "SELECT m.customer_id, m.event_name\n"
      "FROM (SELECT DISTINCT jsonb_array_elements_text($1::jsonb) AS customer_id) wanted\n"
      "CROSS JOIN LATERAL (SELECT v.* FROM customer_billed_meters v WHERE v.customer_id = wanted.customer_id OFFSET 0) m",
      {nlohmann::json(customer_ids).dump()});
  for (const auto& r : rows) out[*r.at(0)].insert(*r.at(1));
  return out;
}

namespace {

// One period's usage per meter: what was ingested (our records), where it stands (reported to Stripe, pending,
// failed, refused by Stripe after it accepted it, with the reasons), and what Stripe billed for it (the synced
// invoice lines of the meter's prices in the period: the renewal's usage line, and usage billed by a plan change).
std::map<std::string, nlohmann::json> periodUsage(pg::Connection& db, const std::vector<std::string>& configured_meters,
                                                  const std::string& customer_id, std::int64_t start, std::int64_t end) {
  std::map<std::string, nlohmann::json> meters;
  for (const auto& m : configured_meters) {
    meters[m] = {{"event_name", m}, {"total", 0}, {"reported", 0}, {"pending", 0}, {"failed", 0}, {"refused", 0},
                 {"refusals", nlohmann::json::array()}, {"billed", nullptr}, {"daily", nlohmann::json::array()}};
  }
  const std::vector<std::string> params = {customer_id, std::to_string(start), std::to_string(end)};
  auto totals = db.query(
      "SELECT e.meter, sum(e.value)::bigint,\n"
      "       coalesce(sum(e.value) FILTER (WHERE a.status = 'reported' AND NOT r.refused), 0)::bigint,\n"
      "       coalesce(sum(e.value) FILTER (WHERE a.status = 'failed' AND NOT r.refused), 0)::bigint,\n"
      "       coalesce(sum(e.value) FILTER (WHERE r.refused), 0)::bigint\n"
      "FROM usage_events e JOIN usage_aggregates a ON a.id = e.aggregate_id\n"
      "CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM meter_errors me WHERE me.identifier = a.identifier) AS refused) r\n"
      "WHERE e.customer_id = $1 AND e.event_time >= to_timestamp($2::bigint) AND e.event_time < to_timestamp($3::bigint)\n"
      "GROUP BY e.meter",
      params);
  for (const auto& r : totals) {
    auto& m = meters[*r.at(0)];
    auto total = std::stoll(*r.at(1)), reported = std::stoll(*r.at(2)), failed = std::stoll(*r.at(3)),
         refused = std::stoll(*r.at(4));
    m["event_name"] = *r.at(0);
    m["total"] = total;
    m["reported"] = reported;
    m["failed"] = failed;
    m["refused"] = refused;
    m["pending"] = total - reported - failed - refused;
  }
  auto refusals = db.query(
      "SELECT meter, code, sum(quantity)::bigint, max(message)\n"
      "FROM (SELECT DISTINCT ON (a.id, me.code) a.meter, me.code, a.quantity, me.message\n"
      "      FROM usage_aggregates a JOIN meter_errors me ON me.identifier = a.identifier\n"
      "      WHERE a.customer_id = $1 AND a.window_start >= to_timestamp($2::bigint)\n"
      "        AND a.window_start < to_timestamp($3::bigint)) x\n"
      "GROUP BY meter, code ORDER BY 1, 2",
      params);
  for (const auto& r : refusals) {
    meters[*r.at(0)]["refusals"].push_back({{"code", *r.at(1)}, {"units", std::stoll(*r.at(2))}, {"message", r.at(3).value_or("")}});
  }
  auto billed = db.query(
      "SELECT um.event_name, coalesce(sum(l.quantity), 0)::bigint\n"
      "FROM usage_meters um JOIN prices pr ON pr.meter = um.meter_id\n"
      "JOIN invoice_lines l ON l.price_id = pr.id\n"
      "JOIN invoices inv ON inv.id = l.invoice_id AND inv.customer_id = $1 AND NOT inv.deleted AND inv.status IN ('open', 'paid', 'uncollectible')\n"
      "WHERE l.period_start >= to_timestamp($2::bigint) AND l.period_end <= to_timestamp($3::bigint)\n"
      "GROUP BY um.event_name",
      params);
  for (const auto& r : billed) {
    if (meters.count(*r.at(0))) meters[*r.at(0)]["billed"] = std::stoll(*r.at(1));
  }
  auto daily = db.query(
      "SELECT meter, to_char(date_trunc('day', event_time AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), sum(value)::bigint\n"
      "FROM usage_events WHERE customer_id = $1 AND event_time >= to_timestamp($2::bigint) AND event_time < to_timestamp($3::bigint)\n"
      "GROUP BY 1, 2 ORDER BY 1, 2",
      params);
  for (const auto& r : daily) meters[*r.at(0)]["daily"].push_back({{"date", *r.at(1)}, {"value", std::stoll(*r.at(2))}});
  return meters;
}

nlohmann::json meterList(std::map<std::string, nlohmann::json> meters) {
  nlohmann::json list = nlohmann::json::array();
  for (auto& [name, m] : meters) list.push_back(std::move(m));
  return list;
}

}  // namespace

nlohmann::json accountUsage(pg::Connection& db, const std::vector<std::string>& configured_meters, const std::string& customer_id) {
  // The billing period: the current billable subscription's, else the calendar month (UTC); and the one before it,
  // as its renewal invoice says, once that is synced.
  auto periods = billingPeriods(db, {customer_id});
  std::int64_t start = 0, end = 0, previous_start = 0;
  // "subscription": the subscription's billing period; "calendar_month": no billable subscription, so no billing
  // period yet, and the usage is shown by calendar month (the page says so).
  std::string period_kind = "subscription";
  if (auto found = periods.find(customer_id); found != periods.end()) {
    start = found->second.start;
    end = found->second.end;
    previous_start = found->second.previous_start;
  } else {
    period_kind = "calendar_month";
    auto month = db.query(
        "SELECT extract(epoch FROM date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')::bigint,\n"
        "       extract(epoch FROM (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC')::bigint");
    start = std::stoll(*month[0].at(0));
    end = std::stoll(*month[0].at(1));
  }
  auto current = periodUsage(db, configured_meters, customer_id, start, end);
  // Whether an invoice will carry this period's usage of each meter: only a meter the subscription bills. Said per
  // meter, so the page never shows unbilled usage as if it were billed (it still reaches Stripe's meter).
  const auto billed = billedMeters(db, {customer_id});
  const auto found_billed = billed.find(customer_id);
  for (auto& [name, m] : current) {
    const bool on_plan = found_billed != billed.end() && found_billed->second.count(name) > 0;
    m["billed_on_plan"] = on_plan;
    m["not_billed_reason"] = on_plan ? nlohmann::json()
                             : period_kind == "calendar_month" ? nlohmann::json("no_billable_subscription")
                                                               : nlohmann::json("meter_not_on_plan");
  }
  nlohmann::json period_list = nlohmann::json::array();
  period_list.push_back({{"period_start", common::formatIso8601Utc(start)}, {"period_end", common::formatIso8601Utc(end)},
                         {"period_kind", period_kind}, {"current", true}, {"meters", meterList(current)}});
  if (previous_start > 0) {
    period_list.push_back({{"period_start", common::formatIso8601Utc(previous_start)},
                           {"period_end", common::formatIso8601Utc(start)}, {"period_kind", "subscription"}, {"current", false},
                           {"meters", meterList(periodUsage(db, configured_meters, customer_id, previous_start, start))}});
  }
  auto errors = db.query(
      "SELECT me.code, me.message, a.meter, iso_utc(me.occurred_at), me.identifier\n"
      "FROM meter_errors me JOIN usage_aggregates a ON a.identifier = me.identifier\n"
      "WHERE a.customer_id = $1 ORDER BY me.occurred_at DESC LIMIT 20",
      {customer_id});
  nlohmann::json error_list = nlohmann::json::array();
  for (const auto& r : errors) {
    error_list.push_back({{"code", *r.at(0)}, {"message", r.at(1).value_or("")}, {"event_name", *r.at(2)},
                          {"occurred_at", *r.at(3)}, {"identifier", *r.at(4)}});
  }
  return {{"period_start", common::formatIso8601Utc(start)},
          {"period_end", common::formatIso8601Utc(end)},
          {"period_kind", period_kind},
          {"meters", meterList(current)},
          {"periods", period_list},
          {"meter_errors", error_list}};
}

}  // namespace billing::usage

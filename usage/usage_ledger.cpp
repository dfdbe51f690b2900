#include "usage/usage_ledger.h"

#include <nlohmann/json.hpp>
#include <set>

namespace billing::usage {
namespace {

std::int64_t toInt(const std::optional<std::string>& v) { return v ? std::stoll(*v) : 0; }

std::string idList(const std::vector<std::int64_t>& ids) {
  nlohmann::json list = ids;
  return list.dump();
}

}  // namespace

std::size_t UsageLedger::record(const std::vector<UsageEvent>& events, std::int64_t window_seconds) {
  if (events.empty()) return 0;
  nlohmann::json input = nlohmann::json::array();
  for (const auto& e : events) {
    input.push_back({{"identifier", e.identifier}, {"account_id", e.account_id}, {"customer_id", e.customer_id},
                     {"meter", e.meter}, {"value", e.value}, {"ts", e.timestamp}});
  }
  const auto text = input.dump();
  const auto window = std::to_string(window_seconds);
  return pg::inTransaction(db_, [&]() -> std::size_t {
    // 1. The events, once: a concurrent reporter inserting the same identifier waits for this transaction and then
    //    finds it, so each event is summed by exactly one transaction.
    auto fresh = db_.query(
        "INSERT INTO usage_events (identifier, account_id, customer_id, meter, value, event_time, aggregate_id)\n"
        "SELECT DISTINCT ON (account_id, identifier) identifier, account_id, customer_id, meter, value, to_timestamp(ts), 0\n"
        "FROM jsonb_to_recordset($1::jsonb) AS x(identifier text, account_id text, customer_id text, meter text,\n"
        "                                        value bigint, ts bigint)\n"
        "ON CONFLICT (account_id, identifier) DO NOTHING RETURNING identifier",
        {text});
    if (fresh.empty()) return 0;
    // 2. Their sums into each window's open aggregate (a new one when the window's earlier one is sealed), and
    //    each new event pointed at it. New events are the rows with aggregate_id 0: only this transaction's, since
    //    every committed row has its aggregate. The identifier Stripe dedupes by is derived from the row's id and
    //    key, so it never changes once the row exists. A window is cut at the customer's billing period
    //    boundaries (view customer_billing_periods): the part from a boundary on starts there, so its timestamp
    //    (the window start) lies in the period its usage belongs to, never in the one before.
    db_.query(
        "WITH periods AS MATERIALIZED (\n"
        "  SELECT customer_id, period_start, period_end FROM customer_billing_periods\n"
        "  WHERE customer_id IN (SELECT DISTINCT customer_id FROM usage_events WHERE aggregate_id = 0)\n"
        "), new_events AS (\n"
        "  SELECT e.account_id, e.identifier, e.customer_id, e.meter, e.value,\n"
        "         greatest(w.floor_start,\n"
        "                  CASE WHEN p.period_start > w.floor_start AND p.period_start <= e.event_time THEN p.period_start END,\n"
        "                  CASE WHEN p.period_end > w.floor_start AND p.period_end <= e.event_time THEN p.period_end END)\n"
        "           AS window_start\n"
        "  FROM usage_events e\n"
        "  CROSS JOIN LATERAL (SELECT to_timestamp(floor(extract(epoch FROM e.event_time) / $1::bigint) * $1::bigint)\n"
        "                      AS floor_start) w\n"
        "  LEFT JOIN periods p ON p.customer_id = e.customer_id\n"
        "  WHERE e.aggregate_id = 0\n"
        "), sums AS (\n"
        "  SELECT customer_id, meter, window_start, sum(value)::bigint AS quantity, nextval('usage_aggregates_id_seq') AS id\n"
        "  FROM new_events GROUP BY customer_id, meter, window_start\n"
        "), upserted AS (\n"
        "  INSERT INTO usage_aggregates (id, customer_id, meter, window_start, quantity, identifier)\n"
        "  SELECT id, customer_id, meter, window_start, quantity,\n"
        "         'sbu_' || left(encode(sha256(convert_to(customer_id || '|' || meter || '|' ||\n"
        "                   extract(epoch FROM window_start)::bigint || '|' || id, 'UTF8')), 'hex'), 40)\n"
        "  FROM sums ORDER BY customer_id, meter, window_start\n"
        "  ON CONFLICT (customer_id, meter, window_start) WHERE status = 'open'\n"
        "  DO UPDATE SET quantity = usage_aggregates.quantity + excluded.quantity\n"
        "  RETURNING id, customer_id, meter, window_start\n"
        ")\n"
        "UPDATE usage_events e SET aggregate_id = u.id\n"
        "FROM new_events n JOIN upserted u USING (customer_id, meter, window_start)\n"
        "WHERE e.account_id = n.account_id AND e.identifier = n.identifier AND e.aggregate_id = 0",
        {window});
    return fresh.size();
  });
}

std::set<std::pair<std::string, std::string>> UsageLedger::knownIdentifiers(
    const std::vector<std::pair<std::string, std::string>>& account_identifiers) {
  std::set<std::pair<std::string, std::string>> out;
  if (account_identifiers.empty()) return out;
  nlohmann::json input = nlohmann::json::array();
  for (const auto& [account, identifier] : account_identifiers) input.push_back({{"a", account}, {"i", identifier}});
  // One query for the whole request, on the primary key (account_id, identifier).
  // LATERAL: one primary-key lookup per pair, whatever the planner guesses of the list's size.
  for (const auto& row : db_.query("SELECT e.account_id, e.identifier FROM jsonb_to_recordset($1::jsonb) AS x(a text, i text)\n"
                                   "CROSS JOIN LATERAL (SELECT account_id, identifier FROM usage_events\n"
                                   "                    WHERE account_id = x.a AND identifier = x.i) e",
                                   {input.dump()})) {
    out.insert({*row[0], *row[1]});
  }
  return out;
}

void UsageLedger::sealClosedWindows(std::int64_t now, std::int64_t window_seconds, std::int64_t grace_seconds) {
  db_.query(
      "UPDATE usage_aggregates SET status = 'sealed', next_attempt_at = now()\n"
      "WHERE status = 'open' AND window_start <= to_timestamp($1::bigint)",
      {std::to_string(now - window_seconds - grace_seconds)});
}

std::vector<DueAggregate> UsageLedger::claimDue(std::size_t limit, std::int64_t lease_seconds) {
  // Usage of a period that has ended goes first: Stripe bills it only until it finalizes that period's invoice,
  // about an hour after the period's end (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period).
  auto rows = db_.query(
      "WITH due AS (\n"
      "  SELECT u.id, CASE WHEN u.window_start < p.period_start THEN p.period_start END AS period_ended\n"
      "  FROM usage_aggregates u LEFT JOIN customer_billing_periods p ON p.customer_id = u.customer_id\n"
      "  WHERE u.status = 'sealed' AND u.next_attempt_at <= now()\n"
      "  ORDER BY (u.window_start < p.period_start) IS TRUE DESC, u.next_attempt_at, u.id\n"
      "  LIMIT $1::bigint FOR UPDATE OF u SKIP LOCKED\n"
      ")\n"
      "UPDATE usage_aggregates a SET next_attempt_at = now() + make_interval(secs => $2::bigint)\n"
      "FROM due WHERE a.id = due.id\n"
      "RETURNING a.id, a.customer_id, a.meter, a.identifier, a.quantity, extract(epoch FROM a.window_start)::bigint,\n"
      "          a.attempts, coalesce(extract(epoch FROM a.first_attempt_at)::bigint, 0),\n"
      "          coalesce(extract(epoch FROM due.period_ended)::bigint, 0)",
      {std::to_string(limit), std::to_string(lease_seconds)});
  std::vector<DueAggregate> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    DueAggregate a{toInt(r[0]), *r[1], *r[2], *r[3], toInt(r[4]), toInt(r[5]), static_cast<int>(toInt(r[6])), toInt(r[7]), 0};
    if (toInt(r[8]) > 0) a.period_closes_at = toInt(r[8]) + kStripeFinalizationSeconds;
    out.push_back(a);
  }
  return out;
}

void UsageLedger::markReported(const std::vector<std::int64_t>& ids, const std::string& via) {
  if (ids.empty()) return;
  db_.query(
      "UPDATE usage_aggregates SET status = 'reported', reported_at = now(), reported_via = $2, attempts = attempts + 1,\n"
      "       first_attempt_at = coalesce(first_attempt_at, now()), next_attempt_at = NULL, last_error = NULL\n"
      "WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint) AND status = 'sealed'",
      {idList(ids), via});
}

void UsageLedger::markAttemptFailed(std::int64_t id, const std::string& error, std::int64_t retry_at, bool final) {
  db_.query(
      "UPDATE usage_aggregates SET attempts = attempts + 1, first_attempt_at = coalesce(first_attempt_at, now()),\n"
      "       last_error = $2, next_attempt_at = CASE WHEN $4 THEN NULL ELSE to_timestamp($3::bigint) END,\n"
      "       status = CASE WHEN $4 THEN 'failed' ELSE status END\n"
      "WHERE id = $1::bigint AND status = 'sealed'",
      {std::to_string(id), error.substr(0, 1000), std::to_string(retry_at), final ? "true" : "false"});
}

std::vector<std::string> UsageLedger::failed(int limit) {
  std::vector<std::string> out;
  for (const auto& row : db_.query(
           "SELECT jsonb_build_object('id', id, 'customer_id', customer_id, 'meter', meter,\n"
           "  'window_start', iso_utc(window_start), 'quantity', quantity, 'identifier', identifier,\n"
           "  'attempts', attempts, 'first_attempt_at', iso_utc(first_attempt_at), 'last_error', last_error)::text\n"
           "FROM usage_aggregates WHERE status = 'failed' ORDER BY window_start DESC, id DESC LIMIT $1::int",
           {std::to_string(limit)})) {
    out.push_back(*row[0]);
  }
  return out;
}

std::size_t UsageLedger::retryFailed(std::int64_t id) {
  return db_.query(
             "UPDATE usage_aggregates SET status = 'sealed', next_attempt_at = now(), attempts = 0,\n"
             "       first_attempt_at = NULL\n"
             "WHERE status = 'failed' AND ($1::bigint = 0 OR id = $1::bigint) RETURNING id",
             {std::to_string(id)})
      .size();
}

std::int64_t UsageLedger::pendingCount() {
  // Two counts, each matching a partial index, instead of one scan over every aggregate ever reported.
  return toInt(db_.query("SELECT (SELECT count(*) FROM usage_aggregates WHERE status = 'open') +\n"
                         "       (SELECT count(*) FROM usage_aggregates WHERE status = 'sealed')")[0][0]);
}

std::int64_t UsageLedger::oldestPendingAge(std::int64_t now, std::int64_t window_seconds) {
  auto rows = db_.query("SELECT extract(epoch FROM min(window_start))::bigint FROM usage_aggregates WHERE status = 'sealed'");
  if (!rows[0][0]) return 0;
  return std::max<std::int64_t>(0, now - (toInt(rows[0][0]) + window_seconds));
}

}  // namespace billing::usage

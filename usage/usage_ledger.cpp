#include "usage/usage_ledger.h"

#include <nlohmann/json.hpp>
#include <map>
#include <set>

namespace billing::usage {
namespace {

std::int64_t toInt(const std::optional<std::string>& v) { return v ? std::stoll(*v) : 0; }

std::string idList(const std::vector<std::int64_t>& ids) {
  nlohmann::json list = ids;
  return list.dump();
}

}  // namespace

std::size_t UsageLedger::record(const std::vector<UsageEvent>& events, const std::vector<PartitionRange>& ranges,
                                const RecordingRules& rules, std::int64_t now,
                                const std::set<std::int32_t>& gaps_accepted) {
  if (events.empty() && ranges.empty()) return 0;
  nlohmann::json input = nlohmann::json::array();
  for (const auto& e : events) {
    input.push_back({{"identifier", e.identifier}, {"account_id", e.account_id}, {"customer_id", e.customer_id},
                     {"meter", e.meter}, {"value", e.value}, {"ts", e.timestamp}, {"rcv", e.received_at},
                     {"part", e.partition}, {"cut", e.period_cut}, {"n", input.size()}});
  }
  const auto text = input.dump();
  // Per partition: the next offset and how far acceptance times are recorded. An acceptance time ahead of this
  // host's clock (a fast API clock) counts as now, so it can't close aggregates early for everyone else.
  nlohmann::json marks = nlohmann::json::array();
  for (const auto& r : ranges) {
    marks.push_back({{"part", r.partition}, {"next", r.next_offset},
                     {"rcv", std::min(r.newest_received_at, now) - rules.arrival_margin_seconds}});
  }
  const auto window = std::to_string(rules.window_seconds);
  const auto grace = std::to_string(rules.grace_seconds);
  return pg::inTransaction(db_, [&]() -> std::size_t {
    // 0. The batch must continue where this database's record of each partition ends. It starting further on
    //    means the database lost what lies between (restored from a backup while the consumer kept its place):
    //    those messages are read again first (UsageLedger::BehindTopic), never skipped.
    nlohmann::json parts = nlohmann::json::array();
    for (const auto& r : ranges) parts.push_back(r.partition);
    std::map<std::int32_t, std::int64_t> recorded;
    for (const auto& row : db_.query("SELECT source_partition, next_offset FROM usage_watermarks\n"
                                     "WHERE source_partition IN (SELECT jsonb_array_elements_text($1::jsonb)::int)\n"
                                     "FOR UPDATE",
                                     {parts.dump()})) {
      recorded[static_cast<std::int32_t>(toInt(row[0]))] = toInt(row[1]);
    }
    BehindTopic behind;
    for (const auto& r : ranges) {
      // A partition without a row has nothing recorded: its record ends at offset 0 (a database restored to
      // before the partition's first batch must read it from the start, not from where the consumer is).
      auto found = recorded.find(r.partition);
      const std::int64_t recorded_to = found != recorded.end() ? found->second : 0;
      if (r.first_offset > recorded_to && !gaps_accepted.count(r.partition)) behind.resume_at[r.partition] = recorded_to;
    }
    if (!behind.resume_at.empty()) throw behind;
    // 1. The events, once: a concurrent reporter inserting the same identifier waits for this transaction and then
    //    finds it, so each event is summed by exactly one transaction. Twice in one batch: the first in topic order.
    auto fresh = db_.query(
        "INSERT INTO usage_events (identifier, account_id, customer_id, meter, value, event_time, aggregate_id,\n"
        "                          received_at, source_partition, period_cut)\n"
        "SELECT DISTINCT ON (account_id, identifier) identifier, account_id, customer_id, meter, value, to_timestamp(ts),\n"
        "       0, to_timestamp(rcv), part, CASE WHEN cut >= 0 THEN to_timestamp(cut) END\n"
        "FROM jsonb_to_recordset($1::jsonb) AS x(identifier text, account_id text, customer_id text,\n"
        "                                        meter text, value bigint, ts bigint, rcv bigint, part int, cut bigint,\n"
        "                                        n bigint)\n"
        "ORDER BY account_id, identifier, n\n"
        "ON CONFLICT (account_id, identifier) DO NOTHING RETURNING identifier",
        {text});
    // 2. How far each partition is recorded now (duplicates count: their messages are read too).
    db_.query(
        "INSERT INTO usage_watermarks (source_partition, received_through, next_offset)\n"
        "SELECT part, to_timestamp(rcv), next FROM jsonb_to_recordset($1::jsonb) AS x(part int, rcv bigint, next bigint)\n"
        "ON CONFLICT (source_partition) DO UPDATE\n"
        "SET received_through = greatest(usage_watermarks.received_through, excluded.received_through),\n"
        "    next_offset = greatest(usage_watermarks.next_offset, excluded.next_offset)",
        {marks.dump()});
    if (fresh.empty()) return 0;
    // 3. Their sums into their aggregates, and each new event pointed at its aggregate. New events are the rows
    //    with aggregate_id 0: only this transaction's, since every committed row has its aggregate. An event's
    //    aggregate follows from what its message carries (migration 0010): customer, meter, window (cut at the
    //    billing period boundary the API stamped, period_cut, so its timestamp, the window start, lies in the
    //    period its usage belongs to; messages from before that stamp use the view customer_billing_periods),
    //    partition and generation (from received_at: accepted within
    //    the window or its grace is generation 0; later, the minute (or shorter window) of acceptance, counted
    //    from the epoch). So is the identifier.
    db_.query(
        "WITH periods AS MATERIALIZED (\n"
        // (per customer through LATERAL, so the view is read through its index: see usage_reads.cpp)
        "  SELECT p.customer_id, p.period_start, p.period_end\n"
        "  FROM (SELECT DISTINCT customer_id FROM usage_events WHERE aggregate_id = 0 AND period_cut IS NULL) n\n"
        "  CROSS JOIN LATERAL (SELECT v.customer_id, v.period_start, v.period_end FROM customer_billing_periods v\n"
        "                      WHERE v.customer_id = n.customer_id OFFSET 0) p\n"
        "), new_events AS (\n"
        "  SELECT e.account_id, e.identifier, e.customer_id, e.meter, e.value, e.source_partition, w.floor_start,\n"
        "         CASE WHEN e.period_cut IS NOT NULL\n"
        "              THEN greatest(w.floor_start, CASE WHEN e.period_cut > w.floor_start THEN e.period_cut END)\n"
        "              ELSE greatest(w.floor_start,\n"
        "                  CASE WHEN p.period_start > w.floor_start AND p.period_start <= e.event_time THEN p.period_start END,\n"
        "                  CASE WHEN p.period_end > w.floor_start AND p.period_end <= e.event_time THEN p.period_end END)\n"
        "         END AS window_start,\n"
        "         CASE WHEN e.received_at < w.floor_start + make_interval(secs => $1::bigint + $2::bigint) THEN 0\n"
        "              ELSE floor(extract(epoch FROM e.received_at) / $3::bigint)::bigint END AS generation\n"
        "  FROM usage_events e\n"
        "  CROSS JOIN LATERAL (SELECT to_timestamp(floor(extract(epoch FROM e.event_time) / $1::bigint) * $1::bigint)\n"
        "                      AS floor_start) w\n"
        "  LEFT JOIN periods p ON p.customer_id = e.customer_id AND e.period_cut IS NULL\n"
        "  WHERE e.aggregate_id = 0\n"
        "), keyed AS (\n"
        // Accepted after its aggregate was sealed (it waited in Kafka beyond the arrival margin): an aggregate of
        // its own, named by the event, so nothing is added to a sum Stripe may have counted. (source_partition >= 0
        // lets the planner use the partial index usage_aggregates_content.)
        "  SELECT n.*, CASE WHEN EXISTS (\n"
        "           SELECT 1 FROM usage_aggregates a\n"
        "           WHERE a.customer_id = n.customer_id AND a.meter = n.meter AND a.window_start = n.window_start\n"
        "             AND a.generation = n.generation AND a.source_partition = n.source_partition\n"
        "             AND a.source_partition >= 0 AND a.late_event = '' AND a.status <> 'open')\n"
        "         THEN n.account_id || '|' || n.identifier ELSE '' END AS late_event\n"
        "  FROM new_events n\n"
        "), sums AS (\n"
        "  SELECT customer_id, meter, window_start, generation, source_partition, late_event,\n"
        "         sum(value)::bigint AS quantity,\n"
        "         CASE WHEN late_event <> '' THEN '-infinity'::timestamptz\n"
        "              WHEN generation = 0 THEN min(floor_start) + make_interval(secs => $1::bigint + $2::bigint)\n"
        "              ELSE to_timestamp((generation + 1) * $3::bigint) END AS received_until\n"
        "  FROM keyed GROUP BY customer_id, meter, window_start, generation, source_partition, late_event\n"
        "), upserted AS (\n"
        "  INSERT INTO usage_aggregates (customer_id, meter, window_start, generation, source_partition, late_event,\n"
        "                                received_until, quantity, identifier)\n"
        "  SELECT customer_id, meter, window_start, generation, source_partition, late_event, received_until, quantity,\n"
        "         'sbu_' || left(encode(sha256(convert_to(customer_id || '|' || meter || '|' ||\n"
        "                   extract(epoch FROM window_start)::bigint || '|' || generation || '|' || source_partition ||\n"
        "                   '|' || late_event, 'UTF8')), 'hex'), 40)\n"
        "  FROM sums ORDER BY customer_id, meter, window_start, generation, source_partition, late_event\n"
        "  ON CONFLICT (customer_id, meter, window_start, generation, source_partition, late_event)\n"
        "     WHERE source_partition >= 0\n"
        "  DO UPDATE SET quantity = usage_aggregates.quantity + excluded.quantity WHERE usage_aggregates.status = 'open'\n"
        "  RETURNING id, customer_id, meter, window_start, generation, source_partition, late_event\n"
        ")\n"
        "UPDATE usage_events e SET aggregate_id = u.id\n"
        "FROM keyed n JOIN upserted u USING (customer_id, meter, window_start, generation, source_partition, late_event)\n"
        "WHERE e.account_id = n.account_id AND e.identifier = n.identifier AND e.aggregate_id = 0",
        {window, grace, std::to_string(rules.lateSlotSeconds())});
    // Another reporter sealed an aggregate between this statement's snapshot and its write (possible only for
    // events past the arrival margin): undone and recorded again, when the seal is visible.
    if (toInt(db_.query("SELECT count(*) FROM usage_events WHERE aggregate_id = 0")[0][0]) > 0) {
      throw pg::PgError("40001", "an aggregate was sealed while usage was added to it; recording again");
    }
    return fresh.size();
  });
}

std::map<std::int32_t, std::int64_t> UsageLedger::markReadToEnd(
    const std::vector<std::pair<std::int32_t, std::int64_t>>& positions, std::int64_t checked_at,
    std::int64_t arrival_margin_seconds) {
  std::map<std::int32_t, std::int64_t> behind;
  if (positions.empty()) return behind;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [partition, position] : positions) list.push_back({{"part", partition}, {"pos", position}});
  // Only where the database has recorded up to the consumer's position: a database that is behind it (restored)
  // must not be marked complete; its partitions are returned to be read again from where its record ends.
  for (const auto& row : db_.query(
           "WITH read AS (SELECT part, pos FROM jsonb_to_recordset($1::jsonb) AS x(part int, pos bigint)),\n"
           // A partition without a row has nothing recorded (offset 0): a row is made only for an empty partition.
           "marked AS (\n"
           "  INSERT INTO usage_watermarks (source_partition, received_through, next_offset)\n"
           "  SELECT part, to_timestamp($2::bigint), pos FROM read r\n"
           "  WHERE r.pos = 0 OR EXISTS (SELECT 1 FROM usage_watermarks w WHERE w.source_partition = r.part)\n"
           "  ON CONFLICT (source_partition) DO UPDATE\n"
           "  SET received_through = greatest(usage_watermarks.received_through, excluded.received_through)\n"
           "  WHERE usage_watermarks.next_offset >= excluded.next_offset\n"
           ")\n"
           "SELECT r.part, coalesce(w.next_offset, 0) FROM read r\n"
           "LEFT JOIN usage_watermarks w ON w.source_partition = r.part\n"
           "WHERE coalesce(w.next_offset, 0) < r.pos",
           {list.dump(), std::to_string(checked_at - arrival_margin_seconds)})) {
    behind[static_cast<std::int32_t>(toInt(row[0]))] = toInt(row[1]);
  }
  return behind;
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

void UsageLedger::sealComplete() {
  // Complete: its partition is recorded past the end of its generation's acceptance time. Rows from before
  // migration 0010 (no partition) by the clock.
  db_.query(
      "UPDATE usage_aggregates a SET status = 'sealed', next_attempt_at = now()\n"
      "WHERE a.status = 'open' AND (\n"
      "  a.received_until <= (SELECT w.received_through FROM usage_watermarks w\n"
      "                       WHERE w.source_partition = a.source_partition)\n"
      "  OR (a.source_partition < 0 AND a.received_until <= now()))");
}

std::vector<DueAggregate> UsageLedger::claimDue(std::size_t limit, std::int64_t lease_seconds) {
  // Usage of a period that has ended goes first: Stripe bills it only until it finalizes that period's invoice,
  // about an hour after the period's end (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period).
  auto rows = db_.query(
      "WITH due AS (\n"
      "  SELECT u.id, CASE WHEN u.window_start < p.period_start THEN p.period_start END AS period_ended\n"
      "  FROM usage_aggregates u\n"
      "  LEFT JOIN LATERAL (SELECT v.period_start FROM customer_billing_periods v WHERE v.customer_id = u.customer_id\n"
      "                     OFFSET 0) p ON true\n"  // the view read per customer, by index (usage_reads.cpp)

      "  WHERE u.status = 'sealed' AND u.next_attempt_at <= now()\n"
      "  ORDER BY (u.window_start < p.period_start) IS TRUE DESC, u.next_attempt_at, u.id\n"
      "  LIMIT $1::bigint FOR UPDATE OF u SKIP LOCKED\n"
      ")\n"
      "UPDATE usage_aggregates a SET next_attempt_at = now() + make_interval(secs => $2::bigint)\n"
      "FROM due WHERE a.id = due.id\n"
      // Usage of the current period dated no earlier than the last change of the customer's metered price on that
      // meter: Stripe invoiced the time before the change already (migration 0015). An ended period's usage keeps
      // its date (its invoice is still open for it until finalized).
      "RETURNING a.id, a.customer_id, a.meter, a.identifier, a.quantity,\n"
      "          extract(epoch FROM greatest(a.window_start, CASE WHEN due.period_ended IS NULL THEN (\n"
      "            SELECT max(mc.changed_at) FROM metered_price_changes mc JOIN usage_meters um ON um.meter_id = mc.meter_id\n"
      "            WHERE um.event_name = a.meter AND mc.customer_id = a.customer_id) END))::bigint,\n"
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

void UsageLedger::markMeteredPriceChanged(const std::string& customer_id, const std::vector<std::string>& meter_ids,
                                          std::int64_t at) {
  if (meter_ids.empty()) return;
  nlohmann::json list = meter_ids;
  db_.query(
      "INSERT INTO metered_price_changes (customer_id, meter_id, changed_at)\n"
      "SELECT $1, m, to_timestamp($3::bigint) FROM jsonb_array_elements_text($2::jsonb) AS x(m)\n"
      "ON CONFLICT DO NOTHING",
      {customer_id, list.dump(), std::to_string(at)});
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

#include "usage/meter_error_reports.h"

#include <nlohmann/json.hpp>

#include "common/json_log.h"

namespace billing::usage {

std::size_t fetchMeterErrorReports(pg::Connection& db, stripe::StripeClient& stripe, std::size_t limit) {
  auto due = db.query(
      "SELECT event_id, attempts FROM meter_error_reports WHERE fetched_at IS NULL AND next_attempt_at <= now()\n"
      "ORDER BY next_attempt_at LIMIT $1::bigint",
      {std::to_string(limit)});
  std::size_t done = 0;
  for (const auto& row : due) {
    const auto& event_id = *row[0];
    int attempts = std::stoi(*row[1]);
    nlohmann::json event;
    try {
      event = stripe.get("/v2/core/events/" + event_id);
    } catch (const stripe::StripeError& e) {
      // 2 s doubling to an hour; a 404 (e.g. an event of the other mode) is kept for operators, not retried often.
      int delay = std::min(3600, 2 << std::min(attempts, 11));
      db.query("UPDATE meter_error_reports SET attempts = attempts + 1, last_error = $2,\n"
               "       next_attempt_at = now() + make_interval(secs => $3::bigint) WHERE event_id = $1",
               {event_id, std::string(e.what()).substr(0, 1000), std::to_string(delay)});
      log::warn("meter error report fetch failed", {{"event_id", event_id}, {"status", e.status()}, {"error", e.what()}});
      continue;
    }
    nlohmann::json rows = nlohmann::json::array();
    const auto& data = event.value("data", nlohmann::json::object());
    const auto meter_id = event.value("related_object", nlohmann::json::object()).value("id", "");
    int position = 0;
    for (const auto& type : data.value("reason", nlohmann::json::object()).value("error_types", nlohmann::json::array())) {
      auto samples = type.value("sample_errors", nlohmann::json::array());
      if (samples.empty()) samples.push_back(nlohmann::json::object());
      for (const auto& sample : samples) {
        nlohmann::json identifier = nullptr;
        if (sample.contains("request") && sample["request"].is_object() && sample["request"].contains("identifier")) {
          identifier = sample["request"]["identifier"];
        }
        rows.push_back({{"position", position++}, {"code", type.value("code", "unknown")},
                        {"message", sample.value("error_message", data.value("developer_message_summary", ""))},
                        {"error_count", type.value("error_count", 0)}, {"identifier", identifier}, {"raw", sample}});
      }
    }
    pg::inTransaction(db, [&] {
      db.query(
          "INSERT INTO meter_errors (event_id, position, meter_id, code, message, error_count, identifier, occurred_at, raw)\n"
          "SELECT $1, position, nullif($2, ''), code, message, error_count, identifier,\n"
          "       coalesce(nullif($4, '')::timestamptz, now()), raw\n"
          "FROM jsonb_to_recordset($3::jsonb) AS x(position integer, code text, message text, error_count integer,\n"
          "                                        identifier text, raw jsonb)\n"
          "ON CONFLICT (event_id, position) DO NOTHING",
          {event_id, meter_id, rows.dump(), event.value("created", "")});
      db.query("UPDATE meter_error_reports SET fetched_at = now(), attempts = attempts + 1, last_error = NULL\n"
               "WHERE event_id = $1",
               {event_id});
    });
    ++done;
  }
  return done;
}

}  // namespace billing::usage

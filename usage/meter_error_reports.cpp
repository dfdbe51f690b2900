#include "usage/meter_error_reports.h"

#include <nlohmann/json.hpp>

#include "common/json_log.h"

namespace billing::usage {
namespace {

nlohmann::json objectAt(const nlohmann::json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_object()) return j[key];
  return nlohmann::json::object();
}

std::string stringAt(const nlohmann::json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  return "";
}

}  // namespace

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
    // Any of these may be null or missing: v1.billing.meter.no_meter_found has no related meter at all.
    const auto data = objectAt(event, "data");
    const auto meter_id = stringAt(objectAt(event, "related_object"), "id");
    int position = 0;
    auto types = objectAt(data, "reason").value("error_types", nlohmann::json::array());
    if (!types.is_array()) types = nlohmann::json::array();
    for (const auto& type : types) {
      if (!type.is_object()) continue;
      auto samples = type.value("sample_errors", nlohmann::json::array());
      if (!samples.is_array()) samples = nlohmann::json::array();
      if (samples.empty()) samples.push_back(nlohmann::json::object());
      for (const auto& sample : samples) {
        nlohmann::json identifier = nullptr;
        const auto request = objectAt(sample, "request");
        if (request.contains("identifier") && request["identifier"].is_string()) identifier = request["identifier"];
        auto message = stringAt(sample, "error_message");
        if (message.empty()) message = stringAt(data, "developer_message_summary");
        auto code = stringAt(type, "code");
        auto count = type.contains("error_count") && type["error_count"].is_number_integer() ? type["error_count"].get<int>() : 0;
        rows.push_back({{"position", position++}, {"code", code.empty() ? "unknown" : code}, {"message", message},
                        {"error_count", count}, {"identifier", identifier}, {"raw", sample}});
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
          {event_id, meter_id, rows.dump(), stringAt(event, "created")});
      db.query("UPDATE meter_error_reports SET fetched_at = now(), attempts = attempts + 1, last_error = NULL\n"
               "WHERE event_id = $1",
               {event_id});
    });
    ++done;
  }
  return done;
}

}  // namespace billing::usage

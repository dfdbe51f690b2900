#include "usage/usage_batch.h"

#include <nlohmann/json.hpp>

namespace billing::usage {

std::string encodeUsageBatch(const std::vector<UsageEvent>& events, std::int64_t received_at) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : events) {
    list.push_back({{"identifier", e.identifier}, {"account_id", e.account_id}, {"customer_id", e.customer_id},
                    {"meter", e.meter}, {"value", e.value}, {"timestamp", e.timestamp}, {"period_cut", e.period_cut}});
  }
  return nlohmann::json{{"v", 1}, {"received_at", received_at}, {"events", list}}.dump();
}

std::optional<std::vector<UsageEvent>> decodeUsageBatch(const std::string& payload, std::int64_t fallback_received_at,
                                                        std::string& error) {
  auto doc = nlohmann::json::parse(payload, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("v", 0) != 1 || !doc.contains("events") ||
      !doc["events"].is_array()) {
    error = "not a usage batch (version 1)";
    return std::nullopt;
  }
  std::int64_t received_at = fallback_received_at;
  if (doc.contains("received_at")) {
    if (!doc["received_at"].is_number_integer()) {
      error = "received_at is not an integer";
      return std::nullopt;
    }
    received_at = doc["received_at"].get<std::int64_t>();
  }
  std::vector<UsageEvent> out;
  out.reserve(doc["events"].size());
  for (const auto& e : doc["events"]) {
    if (!e.is_object() || !e.contains("identifier") || !e["identifier"].is_string() || !e.contains("customer_id") ||
        !e["customer_id"].is_string() || !e.contains("meter") || !e["meter"].is_string() || !e.contains("value") ||
        !e["value"].is_number_integer() || e["value"].get<std::int64_t>() < 0 || !e.contains("timestamp") ||
        !e["timestamp"].is_number_integer()) {
      error = "usage event " + std::to_string(out.size()) + " lacks a field or has a wrong type";
      return std::nullopt;
    }
    std::int64_t period_cut = -1;
    if (e.contains("period_cut")) {
      if (!e["period_cut"].is_number_integer() || e["period_cut"].get<std::int64_t>() < 0) {
        error = "usage event " + std::to_string(out.size()) + " has a bad period_cut";
        return std::nullopt;
      }
      period_cut = e["period_cut"].get<std::int64_t>();
    }
    out.push_back({e["identifier"].get<std::string>(), e.value("account_id", ""), e["customer_id"].get<std::string>(),
                   e["meter"].get<std::string>(), e["value"].get<std::int64_t>(), e["timestamp"].get<std::int64_t>(),
                   received_at, period_cut});
  }
  return out;
}

}  // namespace billing::usage

#include "usage/usage_batch.h"

#include <nlohmann/json.hpp>

#include <limits>

namespace billing::usage {
namespace {

enum class Field { Absent, Wrong, Ok };

// An integer member that fits int64 (nlohmann keeps large positive numbers as unsigned, which a plain get would wrap).
Field int64Field(const nlohmann::json& object, const char* name, std::int64_t& out) {
  auto it = object.find(name);
  if (it == object.end()) return Field::Absent;
  if (it->is_number_unsigned()) {
    auto value = it->get<std::uint64_t>();
    if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return Field::Wrong;
    out = static_cast<std::int64_t>(value);
    return Field::Ok;
  }
  if (!it->is_number_integer()) return Field::Wrong;
  out = it->get<std::int64_t>();
  return Field::Ok;
}

Field stringField(const nlohmann::json& object, const char* name, std::string& out) {
  auto it = object.find(name);
  if (it == object.end()) return Field::Absent;
  if (!it->is_string()) return Field::Wrong;
  out = it->get<std::string>();
  return Field::Ok;
}

}  // namespace

std::string encodeUsageBatch(const std::vector<UsageEvent>& events, std::int64_t received_at) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : events) {
    nlohmann::json item = {{"identifier", e.identifier}, {"account_id", e.account_id}, {"customer_id", e.customer_id},
                           {"meter", e.meter}, {"value", e.value}, {"timestamp", e.timestamp}};
    // A negative cut means "not stamped" (a message from before the stamp existed), which is its absence.
    if (e.period_cut >= 0) item["period_cut"] = e.period_cut;
    list.push_back(std::move(item));
  }
  return nlohmann::json{{"v", 1}, {"received_at", received_at}, {"events", list}}.dump();
}

// Never throws: whatever a message holds (a replayed old topic, a foreign producer), it decodes or is refused with a
// reason, and the reporter dead-letters it instead of stopping at it.
std::optional<std::vector<UsageEvent>> decodeUsageBatch(const std::string& payload, std::int64_t fallback_received_at,
                                                        std::string& error) {
  auto doc = nlohmann::json::parse(payload, nullptr, false);
  std::int64_t version = 0;
  auto list = doc.is_object() ? doc.find("events") : doc.end();
  if (doc.is_discarded() || !doc.is_object() || int64Field(doc, "v", version) != Field::Ok || version != 1 ||
      list == doc.end() || !list->is_array()) {
    error = "not a usage batch (version 1)";
    return std::nullopt;
  }
  std::int64_t received_at = fallback_received_at;
  if (int64Field(doc, "received_at", received_at) == Field::Wrong) {
    error = "received_at is not an integer";
    return std::nullopt;
  }
  std::vector<UsageEvent> out;
  out.reserve(list->size());
  for (const auto& e : *list) {
    UsageEvent event;
    event.received_at = received_at;
    bool complete = e.is_object() && stringField(e, "identifier", event.identifier) == Field::Ok &&
                    stringField(e, "customer_id", event.customer_id) == Field::Ok &&
                    stringField(e, "meter", event.meter) == Field::Ok &&
                    int64Field(e, "value", event.value) == Field::Ok && event.value >= 0 &&
                    int64Field(e, "timestamp", event.timestamp) == Field::Ok &&
                    stringField(e, "account_id", event.account_id) != Field::Wrong;
    if (!complete) {
      error = "usage event " + std::to_string(out.size()) + " lacks a field or has a wrong type";
      return std::nullopt;
    }
    event.period_cut = -1;
    auto cut = int64Field(e, "period_cut", event.period_cut);
    if (cut == Field::Wrong || (cut == Field::Ok && event.period_cut < 0)) {
      error = "usage event " + std::to_string(out.size()) + " has a bad period_cut";
      return std::nullopt;
    }
    out.push_back(std::move(event));
  }
  return out;
}

}  // namespace billing::usage

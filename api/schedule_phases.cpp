#include "api/schedule_phases.h"

#include <stdexcept>

namespace billing::api {
namespace {

using json = nlohmann::json;

// An expandable field: an id, or the object with its id.
json idOf(const json& value) {
  if (value.is_object()) return value.value("id", json());
  return value;
}

bool present(const json& object, const char* key) {
  return object.contains(key) && !object[key].is_null() &&
         !((object[key].is_array() || object[key].is_object()) && object[key].empty());
}

json discountParams(const json& discounts) {
  json out = json::array();
  for (const auto& d : discounts) {
    json param = json::object();
    for (const char* key : {"coupon", "discount", "promotion_code"}) {
      if (present(d, key)) param[key] = idOf(d[key]);
    }
    if (!param.empty()) out.push_back(param);
  }
  return out;
}

json idList(const json& values) {
  json out = json::array();
  for (const auto& v : values) {
    auto id = idOf(v);
    if (id.is_string()) out.push_back(id);
  }
  return out;
}

json itemParams(const json& item) {
  json out = {{"price", idOf(item.at("price"))}};
  if (present(item, "quantity")) out["quantity"] = item["quantity"];
  if (present(item, "metadata")) out["metadata"] = item["metadata"];
  if (present(item, "discounts")) {
    auto d = discountParams(item["discounts"]);
    if (!d.empty()) out["discounts"] = d;
  }
  if (present(item, "tax_rates")) {
    auto t = idList(item["tax_rates"]);
    if (!t.empty()) out["tax_rates"] = t;
  }
  return out;
}

// Settings a phase carries that the next phase keeps (not the trial, not the dates).
void carrySettings(const json& phase, json& out) {
  if (present(phase, "discounts")) {
    auto d = discountParams(phase["discounts"]);
    if (!d.empty()) out["discounts"] = d;
  }
  if (present(phase, "default_payment_method")) out["default_payment_method"] = idOf(phase["default_payment_method"]);
  for (const char* key : {"collection_method", "currency", "description"}) {
    if (present(phase, key)) out[key] = phase[key];
  }
  if (present(phase, "metadata")) out["metadata"] = phase["metadata"];
  if (present(phase, "default_tax_rates")) {
    auto t = idList(phase["default_tax_rates"]);
    if (!t.empty()) out["default_tax_rates"] = t;
  }
  if (phase.contains("automatic_tax") && phase["automatic_tax"].is_object() &&
      phase["automatic_tax"].value("enabled", false)) {
    out["automatic_tax"] = {{"enabled", true}};
  }
  if (phase.contains("invoice_settings") && phase["invoice_settings"].is_object() &&
      phase["invoice_settings"].value("days_until_due", json()).is_number()) {
    out["invoice_settings"] = {{"days_until_due", phase["invoice_settings"]["days_until_due"]}};
  }
}

}  // namespace

bool scheduleIsOurs(const json& schedule) {
  return schedule.contains("metadata") && schedule["metadata"].is_object() &&
         schedule["metadata"].value("managed_by", "") == kScheduleManagedBy;
}

std::optional<json> currentPhase(const json& schedule) {
  if (!schedule.contains("current_phase") || !schedule["current_phase"].is_object()) return std::nullopt;
  const auto& start = schedule["current_phase"]["start_date"];
  for (const auto& phase : schedule.value("phases", json::array())) {
    if (phase.value("start_date", json()) == start) return phase;
  }
  return std::nullopt;
}

bool hasPhaseAfter(const json& schedule, std::int64_t now) {
  // Stripe's current phase says where the schedule is on its own clock (a test clock's frozen time is not ours).
  std::int64_t after = now;
  if (schedule.contains("current_phase") && schedule["current_phase"].is_object() &&
      schedule["current_phase"].value("start_date", json()).is_number()) {
    after = schedule["current_phase"]["start_date"].get<std::int64_t>();
  }
  for (const auto& phase : schedule.value("phases", json::array())) {
    if (phase.value("start_date", json()).is_number() && phase["start_date"].get<std::int64_t>() > after) return true;
  }
  return false;
}

json phaseParams(const json& phase) {
  json out = {{"start_date", phase.at("start_date")}, {"end_date", phase.at("end_date")}, {"items", json::array()}};
  for (const auto& item : phase.at("items")) out["items"].push_back(itemParams(item));
  if (phase.value("trial_end", json()).is_number()) out["trial_end"] = phase["trial_end"];
  if (phase.value("billing_cycle_anchor", json()) == "phase_start") out["billing_cycle_anchor"] = "phase_start";
  carrySettings(phase, out);
  return out;
}

json downgradeParams(const json& schedule, const PlanSwap& swap) {
  auto phase = currentPhase(schedule);
  if (!phase) throw std::invalid_argument("the schedule has no current phase");
  json current = phaseParams(*phase);
  json next = {{"items", json::array()},
               {"duration", {{"interval", swap.interval}, {"interval_count", swap.interval_count}}}};
  bool swapped = false;
  for (const auto& item : current["items"]) {
    json moved = item;
    if (!swapped && item.value("price", "") == swap.from_price) {
      moved["price"] = swap.to_price;
      moved["quantity"] = swap.quantity;
      moved.erase("discounts");  // item-level discounts belonged to the old price
      swapped = true;
    } else if (auto metered = swap.metered_swaps.find(item.value("price", "")); metered != swap.metered_swaps.end()) {
      if (metered->second.empty()) continue;  // the new plan bills no usage on that meter
      moved["price"] = metered->second;
      moved.erase("discounts");
    }
    next["items"].push_back(moved);
  }
  for (const auto& price : swap.metered_added) next["items"].push_back({{"price", price}});  // metered: no quantity
  if (!swapped) throw std::invalid_argument("the plan price " + swap.from_price + " is not in the schedule's current phase");
  carrySettings(*phase, next);
  return {{"end_behavior", "release"},
          {"proration_behavior", "none"},
          {"metadata", {{"managed_by", kScheduleManagedBy}}},
          {"phases", json::array({current, next})}};
}

}  // namespace billing::api

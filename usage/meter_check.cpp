#include "usage/meter_check.h"

#include <map>

namespace billing::usage {

std::vector<std::string> checkMeters(stripe::StripeClient& stripe, const std::vector<std::string>& event_names) {
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
  std::vector<std::string> problems;
  for (const auto& name : event_names) {
    auto found = by_event.find(name);
    if (found == by_event.end()) {
      problems.push_back("no Stripe meter has event_name '" + name + "' (create it, or fix BILLING_USAGE_METERS)");
      continue;
    }
    const auto& meter = found->second;
    const auto id = meter.value("id", "");
    if (meter.value("status", "") != "active") {
      problems.push_back("Stripe meter " + id + " ('" + name + "') is " + meter.value("status", "not active") +
                         ": Stripe refuses its events");
    }
    const auto formula = meter.value("default_aggregation", nlohmann::json::object()).value("formula", "");
    if (formula != "sum") {
      problems.push_back("Stripe meter " + id + " ('" + name + "') aggregates by '" + formula +
                         "': usage is summed per window before it is sent, which bills correctly only for 'sum'");
    }
  }
  return problems;
}

}  // namespace billing::usage

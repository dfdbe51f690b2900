#pragma once
#include <cstdint>
#include <optional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace billing::api {

/// The schedules this service makes carry metadata managed_by=stripe-billing; any other schedule (a contract or a
/// price rise set up in the Dashboard) is never rewritten or released by it.
inline constexpr const char* kScheduleManagedBy = "stripe-billing";
bool scheduleIsOurs(const nlohmann::json& schedule);

/// The phase Stripe is in (`current_phase` names it by its dates; past phases stay in `phases`), or nullopt.
std::optional<nlohmann::json> currentPhase(const nlohmann::json& schedule);

/// Whether a phase after the current one is still to come (a scheduled change): one starting after Stripe's
/// `current_phase` (the schedule's own clock, which for a test clock isn't ours), or after `now` without one.
bool hasPhaseAfter(const nlohmann::json& schedule, std::int64_t now);

/// A phase as Stripe returned it, as the parameters that send it back unchanged: items (price, quantity, metadata,
/// discounts, tax rates), dates, trial_end, discounts, default payment method, collection method, metadata,
/// currency, description, default tax rates, automatic tax, billing cycle anchor, invoice settings. Sending a phase
/// with fewer fields would change the subscription now (a trial ended, a discount dropped).
nlohmann::json phaseParams(const nlohmann::json& phase);

struct PlanSwap {
  std::string from_price;  // the plan item's price in the current phase
  std::string to_price;
  std::int64_t quantity = 1;
  std::string interval = "month";
  std::int64_t interval_count = 1;
  std::map<std::string, std::string> metered_swaps;  // the plan's metered prices: old -> new, "" when dropped
  std::vector<std::string> metered_added;            // the new plan's metered prices added next to it
};

/// The schedule update that keeps the current phase exactly as Stripe has it and appends, where it ends, one phase
/// in which the plan item moves to the new price and the plan's metered prices with it (every other item, the
/// discounts and payment settings carried over; no trial), lasting one interval of the new price; then released. No prorations: nothing changes now.
/// Throws std::invalid_argument when the schedule has no current phase or the plan price isn't in it.
nlohmann::json downgradeParams(const nlohmann::json& schedule, const PlanSwap& swap);

}  // namespace billing::api

#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/subscription_state.h"

namespace billing::api {

/// The rules of a plan change that need no database or Stripe (unit-tested).

/// Whether a change applies now (an upgrade: charged with proration) or at the period end (a downgrade: nothing
/// charged now). A longer period (monthly to annual) starts now; a shorter one (annual to monthly) waits for the
/// end of the period already paid for; on the same period length, paying more applies now and paying less (a
/// cheaper plan, fewer seats) waits.
/// The amounts are what one period of each costs at its quantity (subscription::priceAmount: any price shape).
bool appliesNow(const PriceRow& from, std::int64_t from_amount, const PriceRow& to, std::int64_t to_amount);

/// Which fact pinned in a preview token differs from the subscription's state now ("billing period", "trial",
/// "cancellation", "discounts", "latest invoice", "status", "pending payment", the customer's balance, discount
/// and tax location, the tax settings), if any: the charge depends on them.
std::optional<std::string> changedFact(const nlohmann::json& pinned, const nlohmann::json& now);

}  // namespace billing::api

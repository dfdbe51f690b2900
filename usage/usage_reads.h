#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/postgres.h"

namespace billing::usage {

/// An account's usage this billing period (the current subscription's period, else the calendar month, UTC): per
/// configured meter the total from our own records, split into reported to Stripe, pending and failed, with a
/// daily series, and Stripe's recent meter errors for the account's aggregates.
nlohmann::json accountUsage(pg::Connection& db, const std::vector<std::string>& configured_meters,
                            const std::string& customer_id);

}  // namespace billing::usage

#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/postgres.h"

namespace billing::usage {

/// An account's usage this billing period (the current subscription's period, else the calendar month, UTC): per
/// configured meter the total from our own records, split into reported to Stripe, pending and failed, with a
/// daily series, and Stripe's recent meter errors for the account's aggregates.
/// A customer's current billing period (its billable current subscription's, view customer_billing_periods) and
/// what is known of the one before: its start and whether its invoice is final (not a draft any more).
struct BillingPeriod {
  std::int64_t start = 0, end = 0;
  std::int64_t previous_start = 0;  // 0: unknown
  bool previous_invoice_final = false;
};

/// The billing periods of these customers (those with a billable subscription).
std::map<std::string, BillingPeriod> billingPeriods(pg::Connection& db, const std::vector<std::string>& customer_ids);

/// The configured meters (event names) each of these customers' billable subscription bills (view
/// customer_billed_meters): usage on any other meter, or of a customer without one, reaches Stripe's meter but no
/// invoice. Customers billed on no meter are absent.
std::map<std::string, std::set<std::string>> billedMeters(pg::Connection& db, const std::vector<std::string>& customer_ids);

nlohmann::json accountUsage(pg::Connection& db, const std::vector<std::string>& configured_meters,
                            const std::string& customer_id);

}  // namespace billing::usage

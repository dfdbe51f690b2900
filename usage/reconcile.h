#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/postgres.h"
#include "stripe/stripe_client.h"

namespace billing::usage {

/// Our reported units against Stripe's for one customer and meter over [start, end).
struct UsageDrift {
  std::string customer_id, meter, meter_id;
  std::int64_t start = 0, end = 0;
  std::int64_t ours = 0;    // reported aggregates whose timestamp lies in the range (Stripe refusals excluded)
  std::int64_t stripe = 0;  // Stripe's meter event summary over the range
  std::int64_t drift() const { return stripe - ours; }
};

/// Compares, for every customer with usage reported in [start, end) (unix seconds, cut to whole minutes as
/// Stripe's summaries require), the units we reported per meter with Stripe's meter event summaries
/// (GET /v1/billing/meters/{id}/event_summaries). Stripe aggregates asynchronously: leave a few minutes between
/// the last report and `end`. Meter ids come from usage_meters (recorded by the API at start). Throws StripeError,
/// PgError, or std::runtime_error for a meter whose id isn't known.
std::vector<UsageDrift> reconcileUsage(pg::Connection& db, stripe::StripeClient& stripe, std::int64_t start, std::int64_t end);

}  // namespace billing::usage

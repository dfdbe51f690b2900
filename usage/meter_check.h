#pragma once
#include <string>
#include <vector>

#include "stripe/stripe_client.h"

namespace billing::usage {

/// Checks the configured meters against Stripe's (GET /v1/billing/meters, every page): each event name must belong
/// to an active meter that sums (`default_aggregation.formula` = sum). This service pre-aggregates usage per window
/// before sending it, which is right only for sums: a `count` meter would count one event per window, a `last` one
/// keep only the last window's sum. Returns one message per problem (empty: all good). Throws StripeError when Stripe
/// can't be asked.
std::vector<std::string> checkMeters(stripe::StripeClient& stripe, const std::vector<std::string>& event_names);

}  // namespace billing::usage

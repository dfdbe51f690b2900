#pragma once
#include <map>
#include <string>
#include <vector>

#include "common/postgres.h"
#include "stripe/stripe_client.h"

namespace billing::usage {

/// Checks the configured meters against Stripe's (GET /v1/billing/meters, every page): each event name must belong
/// to an active meter that sums (`default_aggregation.formula` = sum), maps customers by id from the key the events
/// carry and reads the value from theirs (MeterReporter's payload keys), and has no `event_time_window`. This service pre-aggregates usage per window
/// before sending it, which is right only for sums: a `count` meter would count one event per window, a `last` one
/// keep only the last window's sum. Returns one message per problem (none: all good) and the meters found. Throws
/// StripeError when Stripe can't be asked.
struct MeterCheck {
  std::vector<std::string> problems;
  std::map<std::string, std::string> meter_ids;  // event_name -> Stripe meter id, for those found
};
MeterCheck checkMeters(stripe::StripeClient& stripe, const std::vector<std::string>& event_names);

/// Records which Stripe meter bills each event name (table usage_meters), so the usage read can find the invoice
/// lines of a meter's prices.
void recordMeters(pg::Connection& db, const std::map<std::string, std::string>& meter_ids);

}  // namespace billing::usage

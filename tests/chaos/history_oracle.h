#pragma once
// What Stripe holds at the end of a history, computed apart from sync/ (none of its code or rules): the chaos
// test compares every row with it, and the Stripe fake serves it to the worker's fetches.
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/chaos/stripe_history.h"

namespace billing::chaos {

struct ExpectedObject {
  std::string object_type;  // customer, subscription, invoice, payment_method, product, price
  nlohmann::json object;    // its state after its last change
  bool deleted = false;     // deleted at Stripe: a retrieve answers 404 (https://docs.stripe.com/api/customers/delete)
};

/// By object id (ids are unique across types). Stripe's rule, nothing more: an object is what its last change in
/// Stripe's order made it, whatever the order or number of deliveries; a deleted object changes no more.
std::map<std::string, ExpectedObject> expectedState(const History& history);

}  // namespace billing::chaos

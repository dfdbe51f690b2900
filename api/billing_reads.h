#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/postgres.h"

namespace billing::api {

/// Reads for product backends and the billing page, all from the synced tables (no Stripe call, no rate limit).
/// Times are ISO-8601 UTC strings; money is integer minor units with its currency.
class BillingReads {
 public:
  /// `livemode`: the mode of the deployment's API key; plans of the other mode are never shown.
  explicit BillingReads(pg::Connection& db, std::optional<bool> livemode = std::nullopt) : db_(db), livemode_(livemode) {}

  /// The Stripe customer an account bills to, if the account is known.
  std::optional<std::string> customerOf(const std::string& account_id);

  /// Products with an active recurring licensed price, ordered (metadata plan_order, then monthly price), each with
  /// its prices and marketing features; `current` marks the account's plan. `customer_id` may be empty.
  nlohmann::json plans(const std::string& customer_id);

  /// The account's current subscription (active, trialing, past due, unpaid, paused or incomplete; else the latest
  /// ended one), or null: status, items with plan and period, trial, cancellation, scheduled change, past_due.
  nlohmann::json subscription(const std::string& customer_id);

  /// What the current plan grants: product metadata `features` (comma list) and `limit_<name>` (integers), merged
  /// over the subscription's items. Active while the subscription is active, trialing or past due (Stripe is still
  /// retrying the payment).
  nlohmann::json entitlements(const std::string& customer_id);

  /// Finalized invoices, newest first, `limit` per page after `starting_after` (an invoice id).
  /// Returns nullopt when starting_after is not one of this customer's invoices.
  std::optional<nlohmann::json> invoices(const std::string& customer_id, int limit, const std::string& starting_after);

 private:
  pg::Connection& db_;
  std::optional<bool> livemode_;
};

}  // namespace billing::api

#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/postgres.h"
#include "stripe/stripe_client.h"

namespace billing::api {

/// Starting a subscription: Stripe Checkout in subscription mode (the Customer Portal can't start one). The
/// subscription Checkout makes arrives through the webhook path like any other. Throws ApiError.
class Checkout {
 public:
  Checkout(pg::Connection& db, stripe::StripeClient& stripe, const std::vector<std::string>& allowed_origins)
      : db_(db), stripe_(stripe), allowed_origins_(allowed_origins) {}

  /// `request`: {"price_id", "quantity"? (1..10000), "success_url", "cancel_url", "trial_days"? (1..730),
  /// "allow_promotion_codes"?}. The price must be an active licensed recurring price of a plan; the catalog's active
  /// metered prices on the same currency and interval are added next to it, so usage is billed from the start.
  /// Refused (409 subscription_exists) when the account already has a live subscription, synced or only at Stripe
  /// yet. The customer's other open sessions are expired first, so at most one can ever be paid. Returns {"id",
  /// "url", "expires_at"}.
  nlohmann::json createSession(const std::string& account_id, const std::string& customer_id,
                               const nlohmann::json& request);

 private:
  void requireNoSubscription(const std::string& customer_id);
  /// Expires every open Checkout Session of the customer (https://docs.stripe.com/api/checkout/sessions/expire).
  /// Throws ApiError 409 subscription_exists when one was completed meanwhile.
  void expireOpenSessions(const std::string& customer_id);

  pg::Connection& db_;
  stripe::StripeClient& stripe_;
  const std::vector<std::string>& allowed_origins_;
};

}  // namespace billing::api

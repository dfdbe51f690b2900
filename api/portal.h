#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/postgres.h"
#include "stripe/stripe_client.h"

namespace billing::api {

/// Customer Portal sessions: Stripe's hosted pages for what the API doesn't do itself (payment methods, tax ids,
/// cancellation with reasons...). Throws ApiError.
class Portal {
 public:
  /// `configuration`: the portal configuration every session uses (BILLING_API_PORTAL_CONFIGURATION, e.g. Terraform's
  /// output); empty: the one `billing configure-portal` manages, found by its metadata. Without either, Stripe uses
  /// the Dashboard's default configuration, whose features may not allow the flows the page offers.
  Portal(pg::Connection& db, stripe::StripeClient& stripe, const std::vector<std::string>& allowed_origins,
         const std::string& configuration = "")
      : db_(db), stripe_(stripe), allowed_origins_(allowed_origins), configuration_(configuration) {}

  /// `request`: {"return_url", "flow"?: "payment_method_update" | "subscription_cancel" | "subscription_update" |
  /// "subscription_update_confirm", "price_id"?, "quantity"?}. The return URL must be on an allowed origin; flows on
  /// a subscription use the account's current one. Returns {"url", "id", "return_url"}.
  nlohmann::json createSession(const std::string& account_id, const std::string& customer_id,
                               const nlohmann::json& request);

  /// The origin ("https://app.example.com[:port]") of an absolute http(s) URL, or "" if it isn't one.
  static std::string originOf(const std::string& url);

 private:
  pg::Connection& db_;
  stripe::StripeClient& stripe_;
  const std::vector<std::string>& allowed_origins_;
  std::string configuration_;
};

}  // namespace billing::api

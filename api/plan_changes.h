#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "api/api_config.h"
#include "api/api_error.h"
#include "api/authenticator.h"
#include "api/subscription_state.h"
#include "common/postgres.h"
#include "stripe/stripe_client.h"

namespace billing::api {

/// Plan changes for an account's current subscription: its plan item changes, and with it the plan's own metered
/// prices (paired by meter, so usage keeps being billed on the new plan); every other item (shared metered prices,
/// add-ons) stays as it is. An upgrade (a higher price per month,
/// or a longer interval) applies at once with proration invoiced now; its preview fixes the proration date so the
/// charge equals what the preview showed. A downgrade takes effect at the period end through a subscription
/// schedule (visible as `scheduled_change`), which can be cancelled. Every Stripe answer is written through the sync's write rule at once, so
/// the next read shows it and the webhook that follows is a no-op. Throws ApiError.
class PlanChanges {
 public:
  PlanChanges(pg::Connection& db, stripe::StripeClient& stripe, const Authenticator& auth)
      : db_(db), stripe_(stripe), auth_(auth) {}

  /// What changing to `price_id` × `quantity` would do, with a signed preview token (valid 10 minutes).
  nlohmann::json preview(const std::string& account_id, const std::string& customer_id, const std::string& price_id,
                         std::int64_t quantity, std::int64_t now);

  /// Applies a preview. An upgrade whose payment fails or needs the customer (3-D Secure) is not applied: it waits
  /// as Stripe's pending update, and the answer's `outcome` is `payment_required` with what the customer must do
  /// (`payment`: the invoice's hosted page and its PaymentIntent's client secret, and when the change expires).
  /// `idempotency_key` (the caller's, optional) names one attempt: the same key is the same
  /// Stripe attempt (a network retry); without one each call is a new attempt. Either way a preview is applied at
  /// most once (a per-subscription lock and the already-applied check).
  /// `authenticate_after_change`: a plan with usage billing, whose change is otherwise refused when the bank wants
  /// 3-D Secure, is changed now and its invoice waits for the customer's confirmation (outcome
  /// `applied_awaiting_payment`, `payment` as above without an expiry): the customer's explicit choice.
  nlohmann::json apply(const std::string& account_id, const std::string& customer_id, const std::string& preview_token,
                       const std::string& idempotency_key, std::int64_t now, bool authenticate_after_change = false);

  /// Drops a scheduled downgrade (releases the subscription schedule): the current plan simply continues.
  nlohmann::json cancelScheduledChange(const std::string& account_id, const std::string& customer_id,
                                       const std::string& idempotency_key);

  /// Cancel at the period end (`cancel` true: the last item period's end when the items' periods differ) or undo
  /// any cancellation (false), a date set in the Dashboard or the portal included. A scheduled downgrade of ours is
  /// dropped by a cancellation.
  nlohmann::json setCancelAtPeriodEnd(const std::string& account_id, const std::string& customer_id, bool cancel,
                                      const std::string& idempotency_key, std::int64_t now);

  static constexpr int kPreviewTtlSeconds = 600;

 private:
  using Current = CurrentSubscription;
  /// The current subscription a plan change applies to. Throws ApiError (404 no_subscription, 409 when its status
  /// allows no change, it has no plan item, or a change waits for its payment).
  Current current(const std::string& customer_id);
  /// What one period of `price` costs at `quantity` in `currency`, any price shape (its tiers fetched once when
  /// not yet known). Throws ApiError 409 price_not_priceable for what can't be priced (a custom amount, a currency
  /// it isn't offered in, malformed), never a price of 0.
  std::int64_t periodAmount(PriceRow& price, std::int64_t quantity, const std::string& currency);
  /// Whether a price bills usage (as synced), each price looked up once per call of the returned function's owner.
  std::function<bool(const std::string&)> meteredPrices();
  /// After a change that applied now: the meters whose metered price it swapped or removed (usage/usage_ledger.h).
  void recordMeteredSwaps(const std::string& customer_id, const std::map<std::string, std::string>& metered_swaps,
                          std::int64_t at);
  void sync(const stripe::StripeClient::Response& subscription);
  /// A Stripe write the caller named with `idempotency_key` (empty: each call its own attempt), under the Stripe
  /// key of its current attempt (subscription::WriteAttempts): after a definite Stripe error the next call is a new
  /// attempt, never the saved error replayed. `operation` prefixes the key ("change:<account>", ...).
  stripe::StripeClient::Response postAttempt(const std::string& path, const nlohmann::json& params,
                                             const std::string& operation, const std::string& idempotency_key);
  /// Earlier attempts of this caller key Stripe answered with an error (a 5xx leaves the outcome unknown).
  int endedAttempts(const std::string& operation, const std::string& idempotency_key);
  void syncSchedule(const stripe::StripeClient::Response& schedule, const std::string& subscription_id);
  void requireOurSchedule(const Current& sub) const;
  /// Releases a schedule this downgrade made before it failed, and ends the attempt that made it.
  void undoCreatedSchedule(const std::string& schedule_id, const std::string& subscription_id,
                           const std::string& create_attempt);
  /// What Stripe invoiced for an applied upgrade against its preview: {previewed, charged, matches, invoice_id}; a
  /// mismatch is counted (billing_api_charge_mismatch_total) and logged. Throws StripeError.
  nlohmann::json checkCharge(const nlohmann::json& invoice, std::int64_t previewed, const std::string& subscription_id);
  /// What the customer must do to pay a change's invoice: {invoice_id, amount_due, currency, hosted_invoice_url,
  /// client_secret, expires_at}.
  nlohmann::json paymentRequired(const nlohmann::json& invoice, const nlohmann::json& pending_update);
  static ApiError scheduleNotOurs(const std::string& schedule_id);
  static ApiError cancellationPending();
  /// Releases our schedule once no phase is left to come (at `now`), so the subscription is free again.
  void releaseFinishedSchedule(const Current& sub, std::int64_t now);
  /// Releases our schedule whatever is still to come in it (a cancellation drops a scheduled downgrade).
  void releaseOurSchedule(const Current& sub);
  /// The subscription update that sets (`cancel`) or clears its cancellation.
  static nlohmann::json cancellationParams(const Current& sub, bool cancel);
  nlohmann::json scheduleDowngrade(const std::string& account_id, const std::string& customer_id, const Current& sub,
                                   const nlohmann::json& claims, const std::string& idempotency_key);

  pg::Connection& db_;
  stripe::StripeClient& stripe_;
  const Authenticator& auth_;
};

}  // namespace billing::api

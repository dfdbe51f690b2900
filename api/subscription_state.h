#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/postgres.h"

namespace billing::api {

/// The synced state plan changes, Checkout and portal deep links work from: the account's current subscription
/// (the `current_subscriptions` view, migration 0007), its items by role (`subscription_item_roles`, 0006), its
/// schedule, and prices. Every such query lives here; the read answers (JSON for the page) live in BillingReads.

struct PriceRow {
  std::string id, product_id, currency, interval, usage_type, meter;
  std::int64_t interval_count = 1;
  std::optional<std::int64_t> unit_amount;  // Stripe's: null for tiered and fractional decimal prices
  bool usable = false;        // active, recurring, not deleted
  bool plan_product = false;  // its product is a plan (metadata plan_key)
  /// The price as Stripe sent it, with its tiers when known (price_tiers): what subscription::priceAmount prices.
  nlohmann::json raw;
  bool licensed() const { return usage_type != "metered"; }
  /// A tiered price whose tiers aren't known yet (Stripe sends them only when asked: expand[]=tiers).
  bool tiersMissing() const { return raw.value("billing_scheme", "") == "tiered" && !raw.contains("tiers"); }
};

std::optional<PriceRow> loadPrice(pg::Connection& db, const std::string& price_id);
/// Keeps a tiered price's tiers as fetched with expand[]=tiers (they never change once the price exists).
void storePriceTiers(pg::Connection& db, const std::string& price_id, const nlohmann::json& tiers);

/// A plan's metered prices: usable metered prices of `product_id` billed in `currency` every `interval_count`
/// `interval`s (Stripe bills every item of a subscription on one interval). They go with the plan: a plan change
/// swaps them together with the plan item, so usage keeps being billed on the new plan.
std::vector<PriceRow> meteredPricesOfPlan(pg::Connection& db, const std::string& product_id, const std::string& currency,
                                          const std::string& interval, std::int64_t interval_count);

struct SubscriptionItemRow {
  std::string id, price_id, product_id, role;  // role: plan, metered, add_on
  std::int64_t quantity = 1;
  std::int64_t period_end = 0;  // the item's own current_period_end (items differ with mixed intervals)
};

struct CurrentSubscription {
  std::string subscription_id, status, currency, schedule_id;
  std::string billing_mode;  // Stripe's billing_mode.type: flexible, or classic (also when Stripe didn't say)
  std::string collection_method;    // charge_automatically, or send_invoice (invoice terms)
  std::string payment_method_type;  // of the default payment method (subscription's, else customer's); "" unknown
  bool in_use = false;  // active, trialing or past_due
  std::optional<SubscriptionItemRow> plan;
  std::vector<SubscriptionItemRow> items;  // every item, the plan item included
  std::int64_t period_end = 0;
  bool schedule_ours = false;
  bool cancel_at_period_end = false;
  std::int64_t cancel_at = 0;  // Stripe's cancel_at, 0 if none: also a date set in the Dashboard or portal
  /// What the charge of a change depends on besides price and quantity (period, trial, cancellation, discounts,
  /// latest invoice, status, pending update); pinned in a preview token.
  nlohmann::json billing_state;
  nlohmann::json schedule;        // as synced, null if none
  nlohmann::json pending_update;  // Stripe's pending_update (a change waiting for its payment), null if none
  std::string latest_invoice_id;

  /// A change is still to come in the schedule (a phase after the current one).
  bool changeScheduled(std::int64_t now) const;
  /// Set to end: at the period end, or on a date (`cancel_at`, e.g. the portal's "cancel on date").
  bool cancelling() const { return cancel_at_period_end || cancel_at > 0; }
  /// Its items end their periods at different times (mixed intervals, flexible billing mode).
  bool mixedPeriods() const {
    for (const auto& item : items) {
      if (item.period_end != items.front().period_end) return true;
    }
    return false;
  }
  /// Some item bills usage (a metered price).
  bool hasMeteredItem() const {
    for (const auto& item : items) {
      if (item.role == "metered") return true;
    }
    return false;
  }
};

/// The account's current subscription (see migration 0007), or nullopt.
std::optional<CurrentSubscription> currentSubscription(pg::Connection& db, const std::string& customer_id);

}  // namespace billing::api

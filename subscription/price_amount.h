#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace billing::subscription {

/// Why a price can't be priced here for a quantity. Each is a refusal the API states in words (never a price of 0).
enum class Unpriceable {
  CustomAmount,        // custom_unit_amount: the customer names the amount (Checkout, Payment Links only)
  CurrencyNotOffered,  // neither the price's currency nor one of its currency_options
  TiersMissing,        // billing_scheme=tiered, but the tiers weren't in the object (Stripe includes them only when expanded)
  Malformed,           // an amount, tier list or quantity transformation Stripe wouldn't make
  TooLarge,            // beyond 2^63 minor units
};

/// The machine code of a refusal (API error codes, logs): custom_amount, currency_not_offered, tiers_missing,
/// malformed_price, amount_too_large.
const char* unpriceableCode(Unpriceable reason);

struct PriceAmount {
  std::optional<std::int64_t> amount;  // minor units of the currency, rounded as Stripe rounds an invoice line
  Unpriceable reason = Unpriceable::Malformed;
  std::string detail;  // what was wrong, for the error message
  bool priced() const { return amount.has_value(); }
};

/// What one billing period of `price` costs for `quantity` units in `currency` (lowercase ISO code; "" means the
/// price's own currency): a Stripe Price object as Stripe renders it, with `tiers` (and `currency_options` for
/// another currency) expanded. Every shape Stripe allows, each as its docs say:
/// - per_unit: unit_amount, or unit_amount_decimal (up to 12 decimal places of the minor unit), times the quantity,
///   after transform_quantity (divide_by, then round up or down);
///   https://docs.stripe.com/billing/subscriptions/usage-based/transform-quantities ("6 divided by 5 results in a quantity of 2")
/// - tiered, volume: the tier the whole quantity falls in prices every unit, plus its flat amount;
/// - tiered, graduated: each tier prices the units within it, plus the flat amount of every tier reached (the first
///   tier always: Stripe's "flat fee and overage" model charges the base fee with no usage);
///   https://docs.stripe.com/subscriptions/pricing-models/tiered-pricing
/// - currency_options: another currency's amounts or tiers (https://docs.stripe.com/payments/currencies/localize-prices/manual-currency-prices);
/// - custom_unit_amount: not priced (the customer names it).
/// Rounding: "Rounding occurs on the line item level of your invoices ... 0.05 * 30 = 1.5, which is then rounded up
/// to 2 cents" (https://docs.stripe.com/billing/subscriptions/decimal-amounts): half up, once per line. The docs
/// don't say whether a graduated line rounds per tier; this rounds the line's exact sum once (the stricter reading:
/// no rounding error accumulates across tiers).
PriceAmount priceAmount(const nlohmann::json& price, std::int64_t quantity, const std::string& currency = "");

}  // namespace billing::subscription

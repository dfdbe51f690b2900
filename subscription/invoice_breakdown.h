#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace billing::subscription {

/// A Stripe invoice (a preview or a real one) in the parts a customer is shown, each part summed from its lines or
/// taken from the invoice's own totals, never derived from the plan's price, so the parts add up to what Stripe
/// charges:
///   proration_charge - proration_credit + new_period_charge + usage_charge + other_charges == subtotal
///   subtotal - discount (+ tax when exclusive) == total;  total + balance_applied == amount_due
/// Lines are told apart by Stripe's fields (https://docs.stripe.com/api/invoice-line-item/object):
/// `parent.subscription_item_details.proration` and the line's price (`pricing.price_details.price`).
struct InvoiceBreakdown {
  std::int64_t proration_credit = 0;   // unused time of the old prices (a positive number)
  std::int64_t proration_charge = 0;   // remaining time of the new prices
  std::int64_t new_period_charge = 0;  // licensed items billed for a period starting now (an interval change)
  std::int64_t usage_charge = 0;       // metered usage billed on this invoice (e.g. up to a flexible-mode swap)
  std::int64_t other_charges = 0;      // invoice items, lines past the listed first page, anything else
  std::int64_t subtotal = 0;
  std::int64_t discount = 0;  // total_discount_amounts
  std::int64_t tax = 0;       // total_taxes (inclusive and exclusive)
  std::int64_t total = 0;
  std::int64_t amount_due = 0;
  /// amount_due - total: the customer's balance applied (negative: credit used; positive: an amount owed added, or
  /// a negative total moved to the balance as credit).
  std::int64_t balance_applied = 0;
};

/// `metered(price_id)`: whether that price bills usage (its recurring.usage_type). Stricter reading: a metered
/// line counts as usage whether Stripe marks it a proration or not (flexible mode bills usage up to a swap as an
/// invoice item), so usage is never shown as a plan's charge.
InvoiceBreakdown breakdownOf(const nlohmann::json& invoice, const std::function<bool(const std::string&)>& metered);

}  // namespace billing::subscription

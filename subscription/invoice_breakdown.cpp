#include "subscription/invoice_breakdown.h"

namespace billing::subscription {
namespace {

std::int64_t integer(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

std::int64_t sumAmounts(const nlohmann::json& invoice, const char* key) {
  std::int64_t sum = 0;
  auto it = invoice.find(key);
  if (it == invoice.end() || !it->is_array()) return 0;
  for (const auto& part : *it) sum += integer(part, "amount");
  return sum;
}

std::string linePrice(const nlohmann::json& line) {
  const auto price = line.value("pricing", nlohmann::json::object()).value("price_details", nlohmann::json::object())
                         .value("price", nlohmann::json());
  if (price.is_string()) return price.get<std::string>();
  if (price.is_object()) return price.value("id", "");  // expanded
  return "";
}

bool isProration(const nlohmann::json& line) {
  const auto parent = line.value("parent", nlohmann::json::object());
  for (const char* details : {"subscription_item_details", "invoice_item_details"}) {
    auto it = parent.find(details);
    if (it != parent.end() && it->is_object() && it->value("proration", false)) return true;
  }
  return false;
}

bool isSubscriptionItemLine(const nlohmann::json& line) {
  return line.value("parent", nlohmann::json::object()).value("type", "") == "subscription_item_details";
}

}  // namespace

InvoiceBreakdown breakdownOf(const nlohmann::json& invoice, const std::function<bool(const std::string&)>& metered) {
  InvoiceBreakdown b;
  const auto lines = invoice.value("lines", nlohmann::json::object()).value("data", nlohmann::json::array());
  std::int64_t listed = 0;
  for (const auto& line : lines) {
    const auto amount = integer(line, "amount");
    listed += amount;
    const auto price = linePrice(line);
    if (!price.empty() && metered(price)) {
      b.usage_charge += amount;
    } else if (isProration(line)) {
      (amount < 0 ? b.proration_credit : b.proration_charge) += amount < 0 ? -amount : amount;
    } else if (isSubscriptionItemLine(line)) {
      b.new_period_charge += amount;
    } else {
      b.other_charges += amount;
    }
  }
  b.subtotal = integer(invoice, "subtotal");
  // An invoice object lists only its first lines (`lines.has_more`): what the listed lines don't cover counts as
  // other charges, so the parts still add up to Stripe's subtotal.
  b.other_charges += b.subtotal - listed;
  b.discount = sumAmounts(invoice, "total_discount_amounts");
  b.tax = sumAmounts(invoice, "total_taxes");
  b.total = integer(invoice, "total");
  b.amount_due = integer(invoice, "amount_due");
  b.balance_applied = b.amount_due - b.total;
  return b;
}

}  // namespace billing::subscription

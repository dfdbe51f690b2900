// A preview's parts from Stripe's invoice (subscription/invoice_breakdown.h). Before, the preview summed every line of
// the first page into "credit" and "charge", usage up to a swap included, and took the next invoice from the plan's
// list price: the parts shown did not add up to what Stripe charged.
#include <catch2/catch.hpp>

#include "subscription/invoice_breakdown.h"

using billing::subscription::breakdownOf;
using nlohmann::json;

namespace {

// A line as Stripe shapes it (https://docs.stripe.com/api/invoice-line-item/object).
json line(std::int64_t amount, const std::string& price, bool proration, const char* parent = "subscription_item_details") {
  json details = {{"proration", proration}};
  return {{"amount", amount},
          {"pricing", {{"type", "price_details"}, {"price_details", {{"price", price}}}}},
          {"parent", {{"type", parent}, {parent, details}}}};
}

bool meteredCalls(const std::string& price) { return price == "price_calls"; }

}  // namespace

TEST_CASE("invoice breakdown: prorations, a new period, usage and invoice items add up to the subtotal", "[unit]") {
  json invoice = {{"lines", {{"data", json::array({line(-1000, "price_old", true), line(2500, "price_new", true),
                                                    line(12000, "price_year", false), line(300, "price_calls", true),
                                                    line(700, "", false, "invoice_item_details")})},
                             {"has_more", false}}},
                  {"subtotal", 14500}, {"total_discount_amounts", json::array({{{"amount", 1450}}})},
                  {"total_taxes", json::array({{{"amount", 1044}}, {{"amount", 200}}})},
                  {"total", 14294}, {"amount_due", 13794}};
  auto b = breakdownOf(invoice, meteredCalls);
  CHECK(b.proration_credit == 1000);
  CHECK(b.proration_charge == 2500);
  CHECK(b.new_period_charge == 12000);
  CHECK(b.usage_charge == 300);  // a proration line on a metered price is usage, not the plan's charge
  CHECK(b.other_charges == 700);
  CHECK(b.proration_charge - b.proration_credit + b.new_period_charge + b.usage_charge + b.other_charges == b.subtotal);
  CHECK(b.discount == 1450);
  CHECK(b.tax == 1244);
  CHECK(b.total == 14294);
  CHECK(b.balance_applied == -500);  // the customer's credit used
  CHECK(b.amount_due == 13794);
}

TEST_CASE("invoice breakdown: lines past the first page still count, as other charges", "[unit]") {
  json invoice = {{"lines", {{"data", json::array({line(-400, "price_old", true), line(900, "price_new", true)})},
                             {"has_more", true}}},
                  {"subtotal", 1800}, {"total", 1800}, {"amount_due", 1800}};
  auto b = breakdownOf(invoice, meteredCalls);
  CHECK(b.other_charges == 1300);
  CHECK(b.proration_charge - b.proration_credit + b.other_charges == b.subtotal);
  CHECK(b.balance_applied == 0);
}

TEST_CASE("invoice breakdown: an expanded price, a missing field and a credit moved to the balance", "[unit]") {
  auto expanded = line(-3000, "", true);
  expanded["pricing"]["price_details"]["price"] = {{"id", "price_old"}};
  json invoice = {{"lines", {{"data", json::array({expanded, line(1000, "price_new", true)})}}},
                  {"subtotal", -2000}, {"total", -2000}, {"amount_due", 0}};
  auto b = breakdownOf(invoice, meteredCalls);
  CHECK(b.proration_credit == 3000);
  CHECK(b.tax == 0);
  CHECK(b.discount == 0);
  CHECK(b.balance_applied == 2000);  // a negative total is not paid out: it goes to the balance
  CHECK(breakdownOf(json::object(), meteredCalls).subtotal == 0);
}

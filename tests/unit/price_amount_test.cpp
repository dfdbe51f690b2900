// One function prices a quantity of every price shape Stripe allows (subscription/price_amount.h), checked against
// the examples of Stripe's own pages.
#include <catch2/catch.hpp>

#include "subscription/price_amount.h"

using billing::subscription::priceAmount;
using billing::subscription::Unpriceable;
using nlohmann::json;

namespace {

std::int64_t amount(const json& price, std::int64_t quantity, const std::string& currency = "") {
  auto priced = priceAmount(price, quantity, currency);
  INFO(price.dump() << " x " << quantity << ": " << priced.detail);
  REQUIRE(priced.priced());
  return *priced.amount;
}

Unpriceable refusal(const json& price, std::int64_t quantity, const std::string& currency = "") {
  auto priced = priceAmount(price, quantity, currency);
  REQUIRE_FALSE(priced.priced());
  CHECK_FALSE(priced.detail.empty());
  return priced.reason;
}

// https://docs.stripe.com/subscriptions/pricing-models/tiered-pricing: 1-5 fonts 7 USD, 6-10 6.5 USD, 11+ 6 USD.
json typographic(const std::string& mode) {
  return {{"currency", "usd"}, {"billing_scheme", "tiered"}, {"tiers_mode", mode},
          {"tiers", {{{"up_to", 5}, {"unit_amount", 700}, {"unit_amount_decimal", "700"}, {"flat_amount", nullptr}},
                     {{"up_to", 10}, {"unit_amount", 650}, {"unit_amount_decimal", "650"}, {"flat_amount", nullptr}},
                     {{"up_to", nullptr}, {"unit_amount", 600}, {"unit_amount_decimal", "600"}, {"flat_amount", nullptr}}}}};
}

}  // namespace

TEST_CASE("per-unit prices: unit_amount times the quantity", "[unit][subscription]") {
  const json seat = {{"currency", "usd"}, {"billing_scheme", "per_unit"}, {"unit_amount", 999}, {"unit_amount_decimal", "999"}};
  CHECK(amount(seat, 1) == 999);
  CHECK(amount(seat, 3) == 2997);  // docs.stripe.com/billing/subscriptions/quantities: 9.99 USD per site
  CHECK(amount(seat, 0) == 0);
  // A price as a webhook renders it without billing_scheme (older shapes) is per unit.
  CHECK(amount({{"currency", "usd"}, {"unit_amount", 500}}, 2) == 1000);
}

TEST_CASE("volume tiers: the whole quantity at the tier it reaches", "[unit][subscription]") {
  // The page's table: 1 -> 7, 5 -> 35, 6 -> 39, 20 -> 120, 25 -> 150 USD.
  const auto volume = typographic("volume");
  CHECK(amount(volume, 1) == 700);
  CHECK(amount(volume, 5) == 3500);
  CHECK(amount(volume, 6) == 3900);
  CHECK(amount(volume, 20) == 12000);
  CHECK(amount(volume, 25) == 15000);
}

TEST_CASE("graduated tiers: each tier prices the units within it", "[unit][subscription]") {
  // The page's table: 1 -> 7, 5 -> 35, 6 -> 41.50, 20 -> 127.50, 25 -> 157.50 USD.
  const auto graduated = typographic("graduated");
  CHECK(amount(graduated, 1) == 700);
  CHECK(amount(graduated, 5) == 3500);
  CHECK(amount(graduated, 6) == 4150);
  CHECK(amount(graduated, 20) == 12750);
  CHECK(amount(graduated, 25) == 15750);
}

TEST_CASE("a seat increase on a tiered plan costs more, a decrease less (the change rule's input)", "[unit][subscription]") {
  // Before, tiered prices were priced from unit_amount (null on the price: coalesced to 0), so 10 -> 11 seats cost
  // "the same" and was scheduled for the period end instead of being charged now.
  for (const auto* mode : {"volume", "graduated"}) {
    const auto p = typographic(mode);
    CHECK(amount(p, 11) > amount(p, 10));
    CHECK(amount(p, 4) < amount(p, 5));
  }
}

TEST_CASE("flat amounts: a base fee in the first tier, charged with no usage", "[unit][subscription]") {
  // Stripe's "flat fee and overage" model: the first tier carries the base fee, the next the overage per unit.
  const json p = {{"currency", "usd"}, {"billing_scheme", "tiered"}, {"tiers_mode", "graduated"},
                  {"tiers", {{{"up_to", 10}, {"flat_amount", 5000}, {"unit_amount", 0}},
                             {{"up_to", nullptr}, {"flat_amount", nullptr}, {"unit_amount", 100}}}}};
  CHECK(amount(p, 0) == 5000);
  CHECK(amount(p, 10) == 5000);
  CHECK(amount(p, 15) == 5500);
  json volume = p;
  volume["tiers_mode"] = "volume";
  CHECK(amount(volume, 3) == 5000);
  CHECK(amount(volume, 15) == 1500);  // the second tier's price for all 15, no base fee
}

TEST_CASE("decimal amounts: exact until the line, then rounded half up", "[unit][subscription]") {
  // https://docs.stripe.com/billing/subscriptions/decimal-amounts: 0.05 cents x 30 = 1.5, rounded up to 2 cents.
  const json mb = {{"currency", "usd"}, {"billing_scheme", "per_unit"}, {"unit_amount", nullptr}, {"unit_amount_decimal", "0.05"}};
  CHECK(amount(mb, 30) == 2);
  CHECK(amount(mb, 29) == 1);   // 1.45
  CHECK(amount(mb, 10) == 1);   // 0.5 rounds up
  CHECK(amount(mb, 9) == 0);    // 0.45
  // 105.5 cents ($1.055) per unit; 12 decimal places are exact.
  CHECK(amount({{"currency", "usd"}, {"unit_amount_decimal", "105.5"}}, 3) == 317);  // 316.5
  CHECK(amount({{"currency", "usd"}, {"unit_amount_decimal", "0.000000000001"}}, 500'000'000'000) == 1);
  // Decimal tiers: 1-100 at 0.5 cents, then 0.25 cents (graduated): 150 units = 50 + 12.5 = 62.5 -> 63.
  const json tiers = {{"currency", "usd"}, {"billing_scheme", "tiered"}, {"tiers_mode", "graduated"},
                      {"tiers", {{{"up_to", 100}, {"unit_amount_decimal", "0.5"}}, {{"up_to", nullptr}, {"unit_amount_decimal", "0.25"}}}}};
  CHECK(amount(tiers, 150) == 63);
}

TEST_CASE("transform_quantity: divided, then rounded up or down", "[unit][subscription]") {
  // https://docs.stripe.com/billing/subscriptions/usage-based/transform-quantities: 10 USD per 5 users, rounded up:
  // 1, 3, 5 users -> 10 USD; 6, 7 -> 20 USD.
  json per5 = {{"currency", "usd"}, {"billing_scheme", "per_unit"}, {"unit_amount", 1000},
               {"transform_quantity", {{"divide_by", 5}, {"round", "up"}}}};
  CHECK(amount(per5, 1) == 1000);
  CHECK(amount(per5, 5) == 1000);
  CHECK(amount(per5, 6) == 2000);
  CHECK(amount(per5, 7) == 2000);
  per5["transform_quantity"]["round"] = "down";
  CHECK(amount(per5, 7) == 1000);
  CHECK(amount(per5, 4) == 0);
  // The car rental: 10 USD an hour, usage in minutes, rounded up: 150 minutes -> 30 USD.
  CHECK(amount({{"currency", "usd"}, {"unit_amount", 1000}, {"transform_quantity", {{"divide_by", 60}, {"round", "up"}}}}, 150) == 3000);
}

TEST_CASE("currency_options: the other currency's own amounts and tiers", "[unit][subscription]") {
  json p = {{"currency", "usd"}, {"billing_scheme", "per_unit"}, {"unit_amount", 1000},
            {"currency_options", {{"usd", {{"unit_amount", 1000}}}, {"eur", {{"unit_amount", 900}, {"unit_amount_decimal", "900"}}}}}};
  CHECK(amount(p, 2, "usd") == 2000);
  CHECK(amount(p, 2, "eur") == 1800);
  CHECK(refusal(p, 2, "gbp") == Unpriceable::CurrencyNotOffered);
  auto tiered = typographic("volume");
  tiered["currency_options"] = {{"eur", {{"tiers", {{{"up_to", 5}, {"unit_amount", 600}}, {{"up_to", nullptr}, {"unit_amount", 500}}}}}}};
  CHECK(amount(tiered, 6, "eur") == 3000);
}

TEST_CASE("what can't be priced is refused, never priced at 0", "[unit][subscription]") {
  // Tiers are includable: a webhook's price has none unless expanded (the spec's x-expandableFields).
  json no_tiers = typographic("graduated");
  no_tiers.erase("tiers");
  CHECK(refusal(no_tiers, 3) == Unpriceable::TiersMissing);
  CHECK(refusal({{"currency", "usd"}, {"custom_unit_amount", {{"minimum", 500}}}, {"unit_amount", nullptr}}, 1) ==
        Unpriceable::CustomAmount);
  CHECK(refusal({{"currency", "usd"}, {"billing_scheme", "per_unit"}, {"unit_amount", nullptr}}, 1) == Unpriceable::Malformed);
  CHECK(refusal({{"currency", "usd"}, {"unit_amount_decimal", "1e5"}}, 1) == Unpriceable::Malformed);
  CHECK(refusal({{"currency", "usd"}, {"unit_amount_decimal", "0.0000000000001"}}, 1) == Unpriceable::Malformed);
  CHECK(refusal({{"currency", "usd"}, {"unit_amount", 100}}, -1) == Unpriceable::Malformed);
  CHECK(refusal({{"currency", "usd"}, {"unit_amount", 100}, {"transform_quantity", {{"divide_by", 0}, {"round", "up"}}}}, 1) ==
        Unpriceable::Malformed);
  json descending = typographic("volume");
  descending["tiers"][1]["up_to"] = 3;
  CHECK(refusal(descending, 4) == Unpriceable::Malformed);
  json open_middle = typographic("volume");
  open_middle["tiers"][1]["up_to"] = nullptr;
  CHECK(refusal(open_middle, 4) == Unpriceable::Malformed);
  CHECK(refusal({{"currency", "usd"}, {"unit_amount", 9'000'000'000'000'000'000LL}}, 2) == Unpriceable::TooLarge);
}

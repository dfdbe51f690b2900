// The API's pure rules of a plan change: which changes apply now, what a preview token pins, and the tokens.
#include <catch2/catch.hpp>

#include "api/authenticator.h"
#include "api/change_rules.h"
#include "subscription/price_amount.h"

using namespace billing::api;

namespace {

PriceRow price(std::int64_t amount, const std::string& interval, std::int64_t count = 1) {
  PriceRow p;
  p.id = "price_" + std::to_string(amount) + interval;
  p.unit_amount = amount;
  p.interval = interval;
  p.interval_count = count;
  p.currency = "usd";
  p.usable = true;
  p.raw = {{"id", p.id}, {"currency", "usd"}, {"billing_scheme", "per_unit"}, {"unit_amount", amount},
           {"unit_amount_decimal", std::to_string(amount)}};
  return p;
}

// The rule as the API applies it: each side priced at its quantity, whatever the price's shape.
bool appliesNowAt(const PriceRow& from, std::int64_t from_quantity, const PriceRow& to, std::int64_t to_quantity) {
  auto a = billing::subscription::priceAmount(from.raw, from_quantity), b = billing::subscription::priceAmount(to.raw, to_quantity);
  REQUIRE(a.priced());
  REQUIRE(b.priced());
  return billing::api::appliesNow(from, *a.amount, to, *b.amount);
}

}  // namespace

TEST_CASE("a change applies now when it pays more for the same period or takes a longer one", "[unit][api]") {
  auto starter = price(900, "month"), pro = price(2900, "month"), pro_year = price(29000, "year");
  CHECK(appliesNowAt(starter, 1, pro, 1));          // a dearer plan
  CHECK_FALSE(appliesNowAt(pro, 1, starter, 1));    // a cheaper plan waits for the period end
  CHECK(appliesNowAt(pro, 2, pro, 3));              // more seats
  CHECK_FALSE(appliesNowAt(pro, 3, pro, 2));        // fewer seats wait
  CHECK(appliesNowAt(pro, 1, pro_year, 1));         // monthly to annual starts now, though cheaper per month
  CHECK_FALSE(appliesNowAt(pro_year, 1, pro, 1));   // annual to monthly keeps the year already paid for
  CHECK_FALSE(appliesNowAt(pro, 1, price(2900, "month"), 1));  // the same money: nothing to charge now
  // Every three months is a longer period than monthly, however priced.
  CHECK(appliesNowAt(pro, 1, price(100, "month", 3), 1));
  CHECK_FALSE(appliesNowAt(price(100, "month", 3), 1, pro, 1));
}

TEST_CASE("on a tiered or decimal plan, more seats apply now and fewer wait", "[unit][api]") {
  // Before: unit_amount is null on such prices and was read as 0, so 10 -> 11 seats "cost the same" and waited for
  // the period end: the customer had the seats for free until then.
  PriceRow seats = price(0, "month");
  seats.unit_amount.reset();
  seats.raw = {{"id", "price_seats"}, {"currency", "usd"}, {"billing_scheme", "tiered"}, {"tiers_mode", "graduated"},
               {"unit_amount", nullptr}, {"unit_amount_decimal", nullptr},
               {"tiers", {{{"up_to", 10}, {"unit_amount", 1500}}, {{"up_to", nullptr}, {"unit_amount", 1000}}}}};
  CHECK(appliesNowAt(seats, 10, seats, 11));
  CHECK_FALSE(appliesNowAt(seats, 11, seats, 10));
  seats.raw["tiers_mode"] = "volume";
  CHECK(appliesNowAt(seats, 3, seats, 4));
  // Volume tiers can make more seats cheaper in all (10 x 15.00 = 150 > 11 x 10.00 = 110): paying less waits.
  CHECK_FALSE(appliesNowAt(seats, 10, seats, 11));
  PriceRow storage = price(0, "month");
  storage.raw = {{"id", "price_mb"}, {"currency", "usd"}, {"billing_scheme", "per_unit"}, {"unit_amount", nullptr},
                 {"unit_amount_decimal", "0.5"}};
  CHECK(appliesNowAt(storage, 100, storage, 200));
  CHECK_FALSE(appliesNowAt(storage, 200, storage, 100));
}

TEST_CASE("a preview is stale when anything its charge depends on changed, and says what", "[unit][api]") {
  const nlohmann::json pinned = {{"period_start", 1000}, {"period_end", 2000}, {"trial_end", nullptr},
                                 {"cancel_at_period_end", false}, {"cancel_at", nullptr}, {"discounts", nlohmann::json::array()},
                                 {"latest_invoice", "in_1"}, {"status", "active"}, {"pending_update", nullptr}};
  CHECK_FALSE(changedFact(pinned, pinned));
  auto with = [&](const char* key, const nlohmann::json& value) {
    auto now = pinned;
    now[key] = value;
    return changedFact(pinned, now).value_or("");
  };
  CHECK(with("period_end", 4000) == "billing period");
  CHECK(with("trial_end", 1500) == "trial");
  CHECK(with("cancel_at_period_end", true) == "cancellation");
  CHECK(with("discounts", {"di_1"}) == "discounts");
  CHECK(with("latest_invoice", "in_2") == "latest invoice");
  CHECK(with("status", "past_due") == "status");
  CHECK(with("pending_update", {{"expires_at", 3000}}) == "pending payment");
  // A token from before a fact was pinned (absent) matches a subscription where that fact is null.
  auto older = pinned;
  older.erase("pending_update");
  CHECK_FALSE(changedFact(older, pinned));
}

TEST_CASE("preview tokens carry their claims, expire, and can't stand in for account tokens", "[unit][api]") {
  Authenticator auth({"bk_key_0123456789abcdef0123"}, "token-secret-0123456789abcdef-0123456789");
  nlohmann::json claims = {{"sub", "acct_1"}, {"price_id", "price_pro"}, {"quantity", 2}, {"state", "{\"status\":\"active\"}"}};
  auto token = auth.mintToken("preview", claims, 1000, 600);
  auto back = auth.verifyToken("preview", token, 1500);
  REQUIRE(back);
  CHECK((*back)["price_id"] == "price_pro");
  CHECK((*back)["quantity"] == 2);
  CHECK((*back)["state"] == "{\"status\":\"active\"}");
  CHECK_FALSE(auth.verifyToken("preview", token, 1601));  // expired
  CHECK_FALSE(auth.verifyToken("account", token, 1500));  // another use
  CHECK_FALSE(auth.authenticate("Bearer " + token, 1500));  // never an account token
  auto tampered = token;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  CHECK_FALSE(auth.verifyToken("preview", tampered, 1500));
  Authenticator other({"bk_key_0123456789abcdef0123"}, "another-secret-0123456789abcdef-012345");
  CHECK_FALSE(other.verifyToken("preview", token, 1500));  // not signed with our secret
}

// The API's pure rules of a plan change: which changes apply now, what a preview token pins, and the tokens.
#include <catch2/catch.hpp>

#include "api/authenticator.h"
#include "api/change_rules.h"

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
  return p;
}

}  // namespace

TEST_CASE("a change applies now when it pays more for the same period or takes a longer one", "[unit][api]") {
  auto starter = price(900, "month"), pro = price(2900, "month"), pro_year = price(29000, "year");
  CHECK(appliesNow(starter, 1, pro, 1));          // a dearer plan
  CHECK_FALSE(appliesNow(pro, 1, starter, 1));    // a cheaper plan waits for the period end
  CHECK(appliesNow(pro, 2, pro, 3));              // more seats
  CHECK_FALSE(appliesNow(pro, 3, pro, 2));        // fewer seats wait
  CHECK(appliesNow(pro, 1, pro_year, 1));         // monthly to annual starts now, though cheaper per month
  CHECK_FALSE(appliesNow(pro_year, 1, pro, 1));   // annual to monthly keeps the year already paid for
  CHECK_FALSE(appliesNow(pro, 1, price(2900, "month"), 1));  // the same money: nothing to charge now
  // Every three months is a longer period than monthly, however priced.
  CHECK(appliesNow(pro, 1, price(100, "month", 3), 1));
  CHECK_FALSE(appliesNow(price(100, "month", 3), 1, pro, 1));
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

// The schedule update a downgrade sends: the current phase back exactly as Stripe has it, then the new plan.
#include <catch2/catch.hpp>

#include "api/schedule_phases.h"

using nlohmann::json;
using namespace billing::api;

namespace {

// A schedule as Stripe returns it: a past phase kept, the current one (trial, discount, metered item, metadata).
json schedule() {
  return json::parse(R"({
    "id": "sub_sched_1", "object": "subscription_schedule", "metadata": {"managed_by": "stripe-billing"},
    "current_phase": {"start_date": 2000, "end_date": 3000},
    "phases": [
      {"start_date": 1000, "end_date": 2000, "items": [{"price": "price_old", "quantity": 1}]},
      {"start_date": 2000, "end_date": 3000, "trial_end": 2500,
       "items": [{"price": {"id": "price_pro", "object": "price"}, "quantity": 3, "metadata": {"seat": "x"}, "discounts": [], "tax_rates": []},
                 {"price": "price_metered", "metadata": {}, "discounts": [], "tax_rates": []}],
       "discounts": [{"coupon": "coupon_half", "discount": null, "promotion_code": null}],
       "default_payment_method": "pm_1", "collection_method": "charge_automatically", "metadata": {"account": "a1"},
       "currency": "usd", "description": null, "default_tax_rates": [], "automatic_tax": {"enabled": false},
       "billing_cycle_anchor": null, "invoice_settings": null, "proration_behavior": "create_prorations"}]})");
}

}  // namespace

TEST_CASE("the current phase is found by its dates, not its position", "[unit][schedules]") {
  auto phase = currentPhase(schedule());
  REQUIRE(phase);
  CHECK((*phase)["start_date"] == 2000);
  // Phases to come are those after Stripe's current phase, whatever our clock says (a test clock's isn't ours).
  CHECK_FALSE(hasPhaseAfter(schedule(), 1500));
  CHECK_FALSE(hasPhaseAfter(schedule(), 2500));
  auto with_next = schedule();
  with_next["phases"].push_back({{"start_date", 3000}, {"end_date", 4000}, {"items", json::array()}});
  CHECK(hasPhaseAfter(with_next, 3500));
  // Not started yet (no current phase): by our clock.
  auto not_started = with_next;
  not_started["current_phase"] = nullptr;
  CHECK(hasPhaseAfter(not_started, 2500));
  CHECK_FALSE(hasPhaseAfter(not_started, 3000));
  CHECK(scheduleIsOurs(schedule()));
  auto foreign = schedule();
  foreign["metadata"] = json::object();
  CHECK_FALSE(scheduleIsOurs(foreign));
}

TEST_CASE("a downgrade keeps the current phase whole and swaps only the plan item in the next", "[unit][schedules]") {
  auto params = downgradeParams(schedule(), {"price_pro", "price_basic", 2, "month", 1, {}, {}});
  CHECK(params["proration_behavior"] == "none");
  CHECK(params["end_behavior"] == "release");
  CHECK(params["metadata"]["managed_by"] == "stripe-billing");
  REQUIRE(params["phases"].size() == 2);
  const auto& current = params["phases"][0];
  CHECK(current["start_date"] == 2000);
  CHECK(current["end_date"] == 3000);
  CHECK(current["trial_end"] == 2500);
  CHECK(current["discounts"] == json::parse(R"([{"coupon": "coupon_half"}])"));
  CHECK(current["default_payment_method"] == "pm_1");
  CHECK(current["metadata"]["account"] == "a1");
  CHECK(current["items"] == json::parse(R"([{"price": "price_pro", "quantity": 3, "metadata": {"seat": "x"}},
                                            {"price": "price_metered"}])"));
  const auto& next = params["phases"][1];
  CHECK_FALSE(next.contains("trial_end"));
  CHECK_FALSE(next.contains("start_date"));
  CHECK(next["duration"] == json::parse(R"({"interval": "month", "interval_count": 1})"));
  CHECK(next["discounts"] == current["discounts"]);
  CHECK(next["items"] == json::parse(R"([{"price": "price_basic", "quantity": 2, "metadata": {"seat": "x"}},
                                         {"price": "price_metered"}])"));
}

TEST_CASE("a downgrade refuses a schedule without a current phase or without the plan price", "[unit][schedules]") {
  auto none = schedule();
  none["current_phase"] = nullptr;
  CHECK_THROWS_AS(downgradeParams(none, {"price_pro", "price_basic", 1, "month", 1, {}, {}}), std::invalid_argument);
  CHECK_THROWS_AS(downgradeParams(schedule(), {"price_other", "price_basic", 1, "month", 1, {}, {}}), std::invalid_argument);
}

TEST_CASE("a downgrade's next phase moves the plan's metered prices with the plan, by meter", "[unit][schedules]") {
  // The old plan's metered price swapped for the new plan's on the same meter; another meter added; kept otherwise.
  auto swapped = downgradeParams(schedule(), {"price_pro", "price_basic", 1, "month", 1,
                                              {{"price_metered", "price_basic_metered"}}, {"price_basic_storage"}});
  const auto& next = swapped["phases"][1]["items"];
  REQUIRE(next.size() == 3);
  CHECK(next[0]["price"] == "price_basic");
  CHECK(next[1]["price"] == "price_basic_metered");
  CHECK_FALSE(next[1].contains("quantity"));
  CHECK(next[2] == json{{"price", "price_basic_storage"}});
  // The current phase is untouched either way.
  CHECK(swapped["phases"][0]["items"][1]["price"] == "price_metered");
  // A meter the new plan doesn't bill: its item is left out of the next phase.
  auto dropped = downgradeParams(schedule(), {"price_pro", "price_basic", 1, "month", 1, {{"price_metered", ""}}, {}});
  REQUIRE(dropped["phases"][1]["items"].size() == 1);
  CHECK(dropped["phases"][1]["items"][0]["price"] == "price_basic");
}

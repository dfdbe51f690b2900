// Test clocks (https://docs.stripe.com/api/test_clocks, https://docs.stripe.com/billing/testing/test-clocks): the
// customers made on a clock live at its frozen time; advancing it moves their subscriptions and invoices on.
#include "tests/support/fake_stripe/state.h"

namespace billing::testing::fake {
namespace {

// "Cannot be more than two intervals in the future from the shortest subscription in this test clock. If there are
// no subscriptions in this test clock, it cannot be more than two years in the future."
std::int64_t furthest(State& s, const std::string& clock_id, std::int64_t frozen) {
  std::int64_t limit = addIntervals(frozen, "year", 1, 2);
  for (const auto& [id, sub] : s.objects["subscription"]) {
    if (sub.value("test_clock", json()) != clock_id || sub.value("status", "") == "canceled") continue;
    for (const auto& item : sub["items"]["data"]) {
      const auto& r = item["price"]["recurring"];
      if (!r.is_object()) continue;
      limit = std::min(limit, addIntervals(frozen, r.value("interval", "month"), r.value("interval_count", 1LL), 2));
    }
  }
  return limit;
}

}  // namespace

Answer testClocks(State& s, const std::string& method, const std::vector<std::string>& parts, const Params& p) {
  if (parts.size() == 3 && method == "POST") {
    p.allow({"frozen_time", "name"});
    auto frozen = p.integer("frozen_time");
    if (!frozen) throw missingParameter("frozen_time");
    json clock = {{"id", s.newId("clock")}, {"object", "test_helpers.test_clock"}, {"created", s.now()},
                  {"livemode", false}, {"frozen_time", *frozen}, {"name", p.str("name") ? json(*p.str("name")) : json()},
                  {"status", "ready"}, {"deletes_after", s.now() + 30 * 86400}};
    s.objects["test_helpers.test_clock"][clock["id"]] = clock;
    return {200, clock, {}};
  }
  if (parts.size() < 4) throw invalidRequest(404, "", "Unrecognized request URL");
  auto& clock = s.get("test_helpers.test_clock", parts[3], "test clock");
  const std::string clock_id = parts[3];
  if (method == "DELETE") {
    // Deleting a clock removes what was made on it (stricter reading: treat its customers as gone).
    for (auto& [id, customer] : s.objects["customer"]) {
      if (customer.value("test_clock", json()) == clock_id) s.deleted["customer"].insert(id);
    }
    s.deleted["test_helpers.test_clock"].insert(clock_id);
    return {200, {{"id", clock_id}, {"object", "test_helpers.test_clock"}, {"deleted", true}}, {}};
  }
  if (parts.size() == 5 && parts[4] == "advance" && method == "POST") {
    p.allow({"frozen_time"});
    auto to = p.integer("frozen_time");
    if (!to) throw missingParameter("frozen_time");
    std::int64_t frozen = clock["frozen_time"];
    if (*to <= frozen) throw invalidRequest(400, "", "The frozen_time must be after the test clock's current frozen time.", "frozen_time", true);
    if (*to > furthest(s, clock_id, frozen)) {
      throw invalidRequest(400, "", "Cannot advance more than two intervals of the shortest subscription on this clock.", "frozen_time", true);
    }
    for (auto& [id, sub] : s.objects["subscription"]) {
      if (sub.value("test_clock", json()) == clock_id) advanceSubscription(s, sub, *to);
    }
    for (const auto& [id, customer] : s.objects["customer"]) {
      if (customer.value("test_clock", json()) == clock_id) advanceInvoices(s, id, *to);
    }
    clock["frozen_time"] = *to;
    clock["status"] = "ready";
    auto answer = clock;
    answer["status"] = "advancing";  // Stripe answers while it works; a GET shows ready when done
    return {200, answer, {}};
  }
  throw invalidRequest(404, "", "Unrecognized request URL");
}

}  // namespace billing::testing::fake

// Checkout Sessions in subscription mode (https://docs.stripe.com/api/checkout/sessions/create): the session is a
// hosted page; completing it (FakeStripe::completeCheckout, what the customer does at Stripe) makes the subscription.
#include "tests/support/fake_stripe/state.h"

namespace billing::testing::fake {

// POST /v1/checkout/sessions/{id}/expire: "A Checkout Session can be expired when it is in one of these statuses:
// open. After it expires, a customer can't complete a Checkout Session and customers loading the Checkout Session
// see a message saying the Checkout Session is expired" (https://docs.stripe.com/api/checkout/sessions/expire).
Answer expireSession(State& s, const std::string& id, const Params& p) {
  p.allow({"expand"});
  auto& session = s.get("checkout.session", id, "checkout session");
  if (session["status"] != "open") {
    throw invalidRequest(400, "", "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"" +
                                      session["status"].get<std::string>() + "\".", "", true);
  }
  const auto now = session["customer"].is_string() ? s.nowFor(session["customer"]) : s.now();
  session["status"] = "expired";
  session["url"] = nullptr;  // "This value is only present when the session is active" (the object's url)
  s.emit("checkout.session.expired", session, now);
  return {200, session, {}};
}

Answer checkout(State& s, const std::vector<std::string>& parts, const Params& p) {
  if (parts.size() == 5 && parts[2] == "sessions" && parts[4] == "expire") return expireSession(s, parts[3], p);
  if (parts.size() != 3 || parts[2] != "sessions") throw invalidRequest(404, "", "Unrecognized request URL");
  p.allow({"mode", "customer", "client_reference_id", "line_items", "success_url", "cancel_url", "metadata",
           "subscription_data", "allow_promotion_codes", "expand"});
  auto mode = p.required("mode");
  if (mode != "subscription" && mode != "payment" && mode != "setup") throw invalidRequest(400, "", "Invalid mode", "mode", true);
  auto success = p.required("success_url");
  auto customer = p.str("customer");
  if (customer) s.get("customer", *customer, "customer", "customer");
  auto items = p.list("line_items");
  if (items.empty()) throw missingParameter("line_items");
  json lines = json::array();
  for (const auto& i : items) {
    i.allow({"price", "quantity"});
    auto& pr = price(s, i.required("price"), i.path("price"));
    // A metered price is billed from its meter: its line takes no quantity (stricter reading: refused if given).
    bool metered = pr["recurring"].is_object() && pr["recurring"].value("usage_type", "") == "metered";
    if (metered && i.has("quantity")) throw invalidRequest(400, "", "Quantity is not allowed for metered prices", i.path("quantity"), true);
    json line = {{"price", pr["id"]}};
    if (!metered) line["quantity"] = i.integer("quantity").value_or(1);
    lines.push_back(line);
  }
  auto data = p.object("subscription_data");
  data.allow({"trial_period_days", "metadata", "billing_mode"});
  const auto now = customer ? s.nowFor(*customer) : s.now();
  auto id = s.newId("cs");
  json session = {{"id", id}, {"object", "checkout.session"}, {"created", now}, {"livemode", false}, {"mode", mode},
                  {"status", "open"}, {"customer", customer ? json(*customer) : json()},
                  {"client_reference_id", p.str("client_reference_id") ? json(*p.str("client_reference_id")) : json()},
                  {"success_url", success}, {"cancel_url", p.str("cancel_url") ? json(*p.str("cancel_url")) : json()},
                  {"metadata", p.strings("metadata")}, {"expires_at", now + 24 * 3600}, {"subscription", nullptr},
                  {"allow_promotion_codes", p.boolean("allow_promotion_codes").value_or(false)},
                  {"url", s.hosted_base.empty() ? "https://checkout.stripe.com/c/pay/" + id : s.hosted_base + "/_hosted/checkout/" + id}};
  s.objects["checkout.session"][id] = session;
  s.objects["checkout_lines"][id] = {{"lines", lines},
                                     {"trial_period_days", data.integer("trial_period_days") ? json(*data.integer("trial_period_days")) : json()},
                                     {"metadata", data.strings("metadata")},
                                     {"billing_mode", data.has("billing_mode") ? json(data.object("billing_mode").required("type")) : json()}};
  return {200, session, {}};
}

json completeCheckoutSession(State& s, const std::string& session_id) {
  auto& session = s.get("checkout.session", session_id, "checkout session");
  if (session["status"] != "open") throw invalidRequest(400, "", "This Checkout Session is no longer open (" + session["status"].get<std::string>() + ")");
  const auto& extra = s.objects["checkout_lines"][session_id];
  json params = {{"customer", session["customer"]}, {"items", json::array()}, {"metadata", extra["metadata"]}};
  for (const auto& line : extra["lines"]) {
    json item = {{"price", line["price"]}};
    if (line.contains("quantity")) item["quantity"] = std::to_string(line["quantity"].get<std::int64_t>());
    params["items"].push_back(item);
  }
  if (extra.value("billing_mode", json()).is_string()) params["billing_mode"] = {{"type", extra["billing_mode"]}};
  if (extra["trial_period_days"].is_number()) params["trial_period_days"] = std::to_string(extra["trial_period_days"].get<std::int64_t>());
  auto created = subscriptions(s, "POST", {"v1", "subscriptions"}, Params(params)).body;
  session["status"] = "complete";
  session["subscription"] = created["id"];
  s.emit("checkout.session.completed", session, created["created"]);
  return created;
}

}  // namespace billing::testing::fake

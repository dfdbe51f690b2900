// The Stripe behaviour contract: one test per behaviour of Stripe the service relies on, written against Stripe's API
// only, each citing the page it encodes. Runs against the Stripe fake (default) or Stripe test mode
// (STRIPE_TEST_SECRET_KEY=sk_test_...; README "Stripe behaviour contract"), with test clocks for everything
// time-based. Where the docs are unclear the test says so and holds the stricter reading.
#include <catch2/catch.hpp>

#include <cmath>
#include <ctime>

#include "tests/contract/stripe_api.h"
#include "tests/support/fake_stripe.h"

using contract::Form;
using contract::json;
using contract::StripeApi;

namespace {

StripeApi& api() { return StripeApi::target(); }

// 2027-01-31 12:00:00 UTC and 2027-03-01 00:00:00 UTC: month ends and a non-leap February.
constexpr std::int64_t kJan31 = 1801396800;
constexpr std::int64_t kMar1 = 1803859200;
constexpr std::int64_t kDay = 86400;

json subscribe(const std::string& customer, const Form& extra) {
  Form form = {{"customer", customer}};
  form.insert(form.end(), extra.begin(), extra.end());
  return api().ok(api().post("/v1/subscriptions", form));
}

json latestInvoice(const json& subscription) {
  return api().ok(api().get("/v1/invoices/" + subscription["latest_invoice"].get<std::string>()));
}

json retrieve(const std::string& path) { return api().ok(api().get(path)); }

// The customer's invoices are charged to this test card from now on (after a first invoice paid by the default one).
void useCard(const std::string& customer, const std::string& test_card) {
  auto card = api().ok(api().post("/v1/payment_methods/" + test_card + "/attach", {{"customer", customer}}));
  api().ok(api().post("/v1/customers/" + customer, {{"invoice_settings[default_payment_method]", card["id"]}}));
}

std::int64_t prorated(std::int64_t amount, std::int64_t start, std::int64_t end, std::int64_t at) {
  return std::llround(static_cast<double>(amount) * static_cast<double>(end - at) / static_cast<double>(end - start));
}

// A customer subscribed to a 10.00 plan (its first invoice paid), then charged to `test_card`, upgrading to a 30.00
// plan five days in with `payment_behavior`: the update's reply, and what it started from.
struct CardUpgrade {
  std::string clock, customer, basic, pro;
  json sub;
  contract::Reply reply;
};
CardUpgrade upgradeWithCard(const std::string& test_card, const std::string& payment_behavior) {
  CardUpgrade u;
  u.clock = api().newClock(kMar1);
  u.customer = api().newCustomer(u.clock);
  u.basic = api().newPrice(1000);
  u.pro = api().newPrice(3000);
  u.sub = subscribe(u.customer, {{"items[0][price]", u.basic}});
  useCard(u.customer, test_card);
  api().advance(u.clock, kMar1 + 5 * kDay);
  u.reply = api().post("/v1/subscriptions/" + u.sub["id"].get<std::string>(),
                       {{"items[0][id]", u.sub["items"]["data"][0]["id"]}, {"items[0][price]", u.pro},
                        {"proration_behavior", "always_invoice"}, {"payment_behavior", payment_behavior}});
  return u;
}

void requireError(const contract::Reply& reply, int status, const std::string& type, const std::string& code = "",
                  const std::string& param = "") {
  INFO(reply.body.dump());
  CHECK(reply.status == status);
  CHECK(reply.body["error"].value("type", "") == type);
  if (!code.empty()) CHECK(reply.body["error"].value("code", "") == code);
  if (!param.empty()) CHECK(reply.body["error"].value("param", "") == param);
}

}  // namespace

// https://docs.stripe.com/api/idempotent_requests: "Subsequent requests with the same key return the same result".
// The `Idempotent-Replayed: true` header is not on a docs page (Stripe's libraries read it): stricter reading, held.
TEST_CASE("contract: the same Idempotency-Key and parameters replay the saved answer", "[contract]") {
  auto key = StripeApi::newKey();
  auto first = api().post("/v1/customers", {{"email", "replay@example.com"}}, key);
  auto again = api().post("/v1/customers", {{"email", "replay@example.com"}}, key);
  CHECK(api().ok(first)["id"] == api().ok(again)["id"]);
  CHECK(first.header("Idempotent-Replayed") != "true");
  CHECK(again.header("Idempotent-Replayed") == "true");
}

// "The idempotency layer compares incoming parameters to those of the original request and errors if they're not the
// same" (https://docs.stripe.com/api/idempotent_requests; error type idempotency_error, https://docs.stripe.com/api/errors).
TEST_CASE("contract: the same Idempotency-Key with other parameters is an idempotency_error", "[contract]") {
  auto key = StripeApi::newKey();
  api().ok(api().post("/v1/customers", {{"email", "one@example.com"}}, key));
  requireError(api().post("/v1/customers", {{"email", "two@example.com"}}, key), 400, "idempotency_error");
}

// "If incoming parameters fail validation ... we don't save the idempotent result ... You can retry these requests."
TEST_CASE("contract: a request refused by validation saves nothing for its key", "[contract]") {
  auto key = StripeApi::newKey();
  requireError(api().post("/v1/customers", {{"colour", "red"}}, key), 400, "invalid_request_error", "parameter_unknown", "colour");
  auto retried = api().post("/v1/customers", {{"email", "fixed@example.com"}}, key);
  CHECK(api().ok(retried)["email"] == "fixed@example.com");
}

// https://docs.stripe.com/error-codes: parameter_unknown; a mistyped integer is parameter_invalid_integer (observed
// answer, not on a page: held as the stricter reading), both naming the parameter.
TEST_CASE("contract: unknown and mistyped parameters are refused, naming the parameter", "[contract]") {
  requireError(api().post("/v1/customers", {{"metadata[plan]", "x"}, {"colour", "red"}}), 400, "invalid_request_error",
               "parameter_unknown", "colour");
  auto product = api().ok(api().post("/v1/products", {{"name", "Typed"}}));
  requireError(api().post("/v1/prices", {{"product", product["id"]}, {"currency", "usd"}, {"unit_amount", "ten"}}),
               400, "invalid_request_error", "parameter_invalid_integer", "unit_amount");
}

// https://docs.stripe.com/api/pagination: "limit ... ranging between 1 and 100". Whether 101 is clamped or refused is
// not stated: the stricter reading is a refusal.
TEST_CASE("contract: a list's limit is 1 to 100", "[contract]") {
  CHECK(api().get("/v1/customers", {{"limit", "101"}}).status == 400);
  CHECK(api().ok(api().get("/v1/customers", {{"limit", "100"}}))["object"] == "list");
}

// Date is when the answer was generated (RFC 9110), so never before the object it carries was last written; Stripe
// documents nothing finer (stricter reading: the object may have been read a while before Date).
TEST_CASE("contract: an answer's Date is never earlier than the object it carries", "[contract]") {
  auto reply = api().post("/v1/customers", {{"email", "date@example.com"}});
  auto customer = api().ok(reply);
  CHECK(reply.date >= customer["created"].get<std::int64_t>());
}

// https://docs.stripe.com/billing/subscriptions/billing-cycle: "A monthly subscription with a billing cycle anchor date
// of January 31 bills the last day of the month closest to the anchor date, so February 28 ..., then March 31".
TEST_CASE("contract: monthly periods are calendar months from the anchor, clamped to the month's end", "[contract]") {
  auto clock = api().newClock(kJan31);
  auto customer = api().newCustomer(clock);
  auto sub = subscribe(customer, {{"items[0][price]", api().newPrice(1000)}});
  const std::int64_t feb28 = kJan31 + 28 * kDay;
  CHECK(sub["items"]["data"][0]["current_period_end"] == feb28);
  api().advance(clock, feb28 + 2 * 3600);
  sub = retrieve("/v1/subscriptions/" + sub["id"].get<std::string>());
  CHECK(sub["items"]["data"][0]["current_period_start"] == feb28);
  CHECK(sub["items"]["data"][0]["current_period_end"] == feb28 + 31 * kDay);  // March 31, 12:00
}

// Renewal drafts are finalized about an hour after creation
// (https://docs.stripe.com/invoicing/integration/automatic-advancement-collection), then collected.
TEST_CASE("contract: a renewal invoice is a draft for the finalization grace, then finalized and paid", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto sub = subscribe(customer, {{"items[0][price]", api().newPrice(2500)}});
  std::int64_t end = sub["items"]["data"][0]["current_period_end"];
  api().advance(clock, end + 600);
  sub = retrieve("/v1/subscriptions/" + sub["id"].get<std::string>());
  auto renewal = latestInvoice(sub);
  CHECK(renewal["billing_reason"] == "subscription_cycle");
  CHECK(renewal["status"] == "draft");
  api().advance(clock, end + 2 * 3600);
  renewal = retrieve("/v1/invoices/" + renewal["id"].get<std::string>());
  CHECK(renewal["status"] == "paid");
  CHECK(renewal["amount_paid"] == 2500);
}

// https://docs.stripe.com/billing/subscriptions/prorations and https://docs.stripe.com/api/invoices/create_preview: "To
// ensure that the actual proration is calculated exactly the same as the previewed proration, you should pass the
// subscription_details.proration_date parameter when doing the actual subscription update."
TEST_CASE("contract: an upgrade prorates to the second, and the preview at the same proration_date is the charge", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto basic = api().newPrice(1000), pro = api().newPrice(3000);
  auto sub = subscribe(customer, {{"items[0][price]", basic}});
  const std::string item = sub["items"]["data"][0]["id"];
  std::int64_t start = sub["items"]["data"][0]["current_period_start"], end = sub["items"]["data"][0]["current_period_end"];
  const std::int64_t at = kMar1 + 10 * kDay + 1234;
  api().advance(clock, at);
  auto preview = api().ok(api().post("/v1/invoices/create_preview",
                                     {{"customer", customer}, {"subscription", sub["id"]},
                                      {"subscription_details[items][0][id]", item},
                                      {"subscription_details[items][0][price]", pro},
                                      {"subscription_details[proration_behavior]", "always_invoice"},
                                      {"subscription_details[proration_date]", std::to_string(at)}}));
  auto updated = api().ok(api().post("/v1/subscriptions/" + sub["id"].get<std::string>(),
                                     {{"items[0][id]", item}, {"items[0][price]", pro},
                                      {"proration_behavior", "always_invoice"}, {"proration_date", std::to_string(at)}}));
  auto invoice = latestInvoice(updated);
  CHECK(invoice["amount_due"] == preview["amount_due"]);
  const auto expected = prorated(3000, start, end, at) - prorated(1000, start, end, at);
  CHECK(std::abs(invoice["amount_due"].get<std::int64_t>() - expected) <= 1);
  CHECK(invoice["status"] == "paid");
}

// A trial is free: a plan change during it charges nothing (the docs list adding a trial as a proration trigger but
// say nothing direct about changes inside one: stricter reading, no charge).
TEST_CASE("contract: nothing is charged for a change during a trial", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto basic = api().newPrice(1000), pro = api().newPrice(3000);
  auto sub = subscribe(customer, {{"items[0][price]", basic}, {"trial_period_days", "14"}});
  CHECK(sub["status"] == "trialing");
  api().advance(clock, kMar1 + 3 * kDay);
  auto updated = api().ok(api().post("/v1/subscriptions/" + sub["id"].get<std::string>(),
                                     {{"items[0][id]", sub["items"]["data"][0]["id"]}, {"items[0][price]", pro},
                                      {"proration_behavior", "always_invoice"}}));
  CHECK(updated["status"] == "trialing");
  CHECK(latestInvoice(updated)["amount_due"] == 0);
}

// "Any adjustments from discounts are reflected in the proration invoice item's amount"
// (https://docs.stripe.com/billing/subscriptions/prorations).
TEST_CASE("contract: a subscription's percent-off discount is reflected in its prorations", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto basic = api().newPrice(1000), pro = api().newPrice(3000);
  auto coupon = api().ok(api().post("/v1/coupons", {{"percent_off", "50"}, {"duration", "forever"}}));
  auto sub = subscribe(customer, {{"items[0][price]", basic}, {"discounts[0][coupon]", coupon["id"]}});
  std::int64_t start = sub["items"]["data"][0]["current_period_start"], end = sub["items"]["data"][0]["current_period_end"];
  const std::int64_t at = kMar1 + 15 * kDay;
  api().advance(clock, at);
  auto updated = api().ok(api().post("/v1/subscriptions/" + sub["id"].get<std::string>(),
                                     {{"items[0][id]", sub["items"]["data"][0]["id"]}, {"items[0][price]", pro},
                                      {"proration_behavior", "always_invoice"}, {"proration_date", std::to_string(at)}}));
  const auto expected = prorated(1500, start, end, at) - prorated(500, start, end, at);
  CHECK(std::abs(latestInvoice(updated)["amount_due"].get<std::int64_t>() - expected) <= 2);
}

// create_preview "preview[s] the effects of ... updating a subscription": with create_prorations (the default) the
// prorations wait for the next invoice, so the preview is that invoice, renewal included (stricter reading of a
// behaviour the docs imply but don't spell out).
TEST_CASE("contract: a create_prorations preview is the next invoice, renewal included", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto basic = api().newPrice(1000), pro = api().newPrice(3000);
  auto sub = subscribe(customer, {{"items[0][price]", basic}});
  std::int64_t end = sub["items"]["data"][0]["current_period_end"];
  auto preview = api().ok(api().post("/v1/invoices/create_preview",
                                     {{"customer", customer}, {"subscription", sub["id"]},
                                      {"subscription_details[items][0][id]", sub["items"]["data"][0]["id"]},
                                      {"subscription_details[items][0][price]", pro},
                                      {"subscription_details[proration_behavior]", "create_prorations"}}));
  bool renewal = false;
  for (const auto& line : preview["lines"]["data"]) {
    if (line["period"]["start"] == end && line["amount"] == 3000) renewal = true;
  }
  CHECK(renewal);
}

// On a new billing frequency "the first full period of the new plan begins immediately ... and the customer is
// charged for the first period less the account balance" (https://support.stripe.com/questions/handling-subscription-changes;
// https://docs.stripe.com/billing/subscriptions/upgrade-downgrade): the new period is billed in full now whatever
// proration_behavior says, and only the unused time of the old price is a proration. Stricter reading: the docs don't say which flag the new period's line carries; it bills a
// whole period, so its `parent.subscription_item_details.proration` is false. A preview shows the same invoice.
TEST_CASE("contract: an interval change bills the new period in full now as a regular line, even with proration none", "[contract]") {
  for (const char* behaviour : {"always_invoice", "none"}) {
    INFO(behaviour);
    auto clock = api().newClock(kMar1);
    auto customer = api().newCustomer(clock);
    auto monthly = api().newPrice(1000), annual = api().newPrice(10000, "year");
    auto sub = subscribe(customer, {{"items[0][price]", monthly}});
    const std::string item = sub["items"]["data"][0]["id"];
    const std::int64_t at = kMar1 + 10 * kDay;
    api().advance(clock, at);
    Form change = {{"subscription_details[items][0][id]", item}, {"subscription_details[items][0][price]", annual},
                   {"subscription_details[proration_behavior]", behaviour},
                   {"subscription_details[proration_date]", std::to_string(at)}};
    Form preview_form = {{"customer", customer}, {"subscription", sub["id"]}};
    preview_form.insert(preview_form.end(), change.begin(), change.end());
    auto preview = api().ok(api().post("/v1/invoices/create_preview", preview_form));
    auto updated = api().ok(api().post("/v1/subscriptions/" + sub["id"].get<std::string>(),
                                       {{"items[0][id]", item}, {"items[0][price]", annual},
                                        {"proration_behavior", behaviour}, {"proration_date", std::to_string(at)}}));
    CHECK(updated["items"]["data"][0]["current_period_start"] == at);
    auto invoice = latestInvoice(updated);
    CHECK(invoice["amount_due"] == preview["amount_due"]);
    std::int64_t new_period = 0, prorations = 0;
    for (const auto& line : invoice["lines"]["data"]) {
      bool proration = line["parent"]["subscription_item_details"]["proration"];
      (proration ? prorations : new_period) += line["amount"].get<std::int64_t>();
      if (!proration) CHECK(line["period"]["start"] == at);
    }
    CHECK(new_period == 10000);
    if (std::string(behaviour) == "none") CHECK(prorations == 0);
    if (std::string(behaviour) == "always_invoice") CHECK(prorations < 0);  // the unused month credited
  }
}

// https://docs.stripe.com/api/subscription_schedules/create: from_subscription creates a schedule "using the
// subscription's item(s)"; the phase carries trial_end, metadata, quantities. The current phase's start can't move (not
// on a docs page: stricter reading, refused).
TEST_CASE("contract: a schedule from a subscription keeps its trial, metadata and quantities, and its current phase start is fixed", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto sub = subscribe(customer, {{"items[0][price]", api().newPrice(1000)}, {"items[0][quantity]", "3"},
                                  {"trial_period_days", "7"}, {"metadata[account]", "acct_1"}});
  auto schedule = api().ok(api().post("/v1/subscription_schedules", {{"from_subscription", sub["id"]}}));
  const auto& phase = schedule["phases"][0];
  CHECK(phase["trial_end"] == sub["trial_end"]);
  CHECK(phase["items"][0]["quantity"] == 3);
  CHECK(phase["metadata"]["account"] == "acct_1");
  auto moved = api().post("/v1/subscription_schedules/" + schedule["id"].get<std::string>(),
                          {{"phases[0][start_date]", std::to_string(phase["start_date"].get<std::int64_t>() + 60)},
                           {"phases[0][end_date]", std::to_string(phase["end_date"].get<std::int64_t>())},
                           {"phases[0][items][0][price]", phase["items"][0]["price"]}});
  CHECK(moved.status == 400);
}

// Observed Stripe answer (no docs page): "The subscription is managed by the subscription schedule `sub_sched_...`, and
// updating any cancelation behavior directly is not allowed. Please update the schedule instead." Stricter reading: a
// 400 whatever the wording after that prefix.
TEST_CASE("contract: a subscription managed by a schedule refuses cancel_at_period_end", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto sub = subscribe(customer, {{"items[0][price]", api().newPrice(1000)}});
  api().ok(api().post("/v1/subscription_schedules", {{"from_subscription", sub["id"]}}));
  auto refused = api().post("/v1/subscriptions/" + sub["id"].get<std::string>(), {{"cancel_at_period_end", "true"}});
  requireError(refused, 400, "invalid_request_error");
  CHECK(refused.body["error"].value("message", "").rfind("The subscription is managed by the subscription schedule", 0) == 0);
}

// "Subscription schedules automatically transition from one phase to the next"; end_behavior release "will end the
// subscription schedule and keep the underlying subscription running" (https://docs.stripe.com/api/subscription_schedules).
TEST_CASE("contract: a schedule's next phase takes effect at its start, and release frees the subscription at the end", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto basic = api().newPrice(1000), pro = api().newPrice(3000);
  auto sub = subscribe(customer, {{"items[0][price]", pro}});
  auto schedule = api().ok(api().post("/v1/subscription_schedules", {{"from_subscription", sub["id"]}}));
  const auto& phase = schedule["phases"][0];
  std::int64_t boundary = phase["end_date"];
  api().ok(api().post("/v1/subscription_schedules/" + schedule["id"].get<std::string>(),
                      {{"end_behavior", "release"}, {"proration_behavior", "none"},
                       {"phases[0][start_date]", std::to_string(phase["start_date"].get<std::int64_t>())},
                       {"phases[0][end_date]", std::to_string(boundary)},
                       {"phases[0][items][0][price]", pro},
                       {"phases[1][items][0][price]", basic},
                       {"phases[1][duration][interval]", "month"}}));
  api().advance(clock, boundary + 2 * 3600);
  sub = retrieve("/v1/subscriptions/" + sub["id"].get<std::string>());
  CHECK(sub["items"]["data"][0]["price"]["id"] == basic);
  schedule = retrieve("/v1/subscription_schedules/" + schedule["id"].get<std::string>());
  CHECK(schedule["current_phase"]["start_date"] == boundary);
  CHECK(schedule["status"] == "active");
}

// https://docs.stripe.com/api/subscriptions/update: "Use error_if_incomplete if you want Stripe to return an HTTP 402
// status code if a subscription's invoice cannot be paid" (the update is then not applied).
TEST_CASE("contract: error_if_incomplete refuses an update whose payment fails and changes nothing", "[contract]") {
  auto u = upgradeWithCard("pm_card_chargeCustomerFail", "error_if_incomplete");
  auto& sub = u.sub;
  const auto& refused = u.reply;
  const auto& basic = u.basic;
  requireError(refused, 402, "card_error");
  CHECK(retrieve("/v1/subscriptions/" + sub["id"].get<std::string>())["items"]["data"][0]["price"]["id"] == basic);
}

// https://docs.stripe.com/billing/subscriptions/pending-updates-reference: with pending_if_incomplete the change waits
// for the payment (e.g. 3-D Secure); it expires at "the trial end time or the current period end, whichever comes
// first", at most 23 hours after the update.
TEST_CASE("contract: pending_if_incomplete keeps a change pending while the payment needs authentication, then it expires", "[contract]") {
  auto u = upgradeWithCard("pm_card_authenticationRequired", "pending_if_incomplete");
  auto& sub = u.sub;
  const auto &basic = u.basic, &clock = u.clock;
  auto pending = api().ok(u.reply);
  REQUIRE(pending["pending_update"].is_object());
  CHECK(pending["items"]["data"][0]["price"]["id"] == basic);
  CHECK(pending["pending_update"]["expires_at"].get<std::int64_t>() <= kMar1 + 5 * kDay + 23 * 3600 + 60);
  api().advance(clock, kMar1 + 6 * kDay + 3600);
  sub = retrieve("/v1/subscriptions/" + sub["id"].get<std::string>());
  CHECK(sub["pending_update"].is_null());
  CHECK(sub["items"]["data"][0]["price"]["id"] == basic);
}

// payment_behavior=allow_incomplete "transitions the subscription to status=past_due" when the payment fails or
// needs action, with the change applied (https://docs.stripe.com/api/subscriptions/update#update_subscription-payment_behavior);
// the open invoice keeps its lines. Paying it (https://docs.stripe.com/api/invoices/pay) off session with a card that
// needs authentication is refused with invoice_payment_intent_requires_action (https://docs.stripe.com/error-codes);
// with a working card it is paid and the subscription is active again ("past_due ... becomes active once the
// invoice is paid": https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses).
TEST_CASE("contract: allow_incomplete applies a change whose payment needs authentication, past due until its invoice is paid", "[contract]") {
  auto u = upgradeWithCard("pm_card_authenticationRequired", "allow_incomplete");
  const auto& sub = u.sub;
  const auto& pro = u.pro;
  auto updated = api().ok(u.reply);
  CHECK(updated["items"]["data"][0]["price"]["id"] == pro);
  CHECK(updated["status"] == "past_due");
  CHECK(updated["pending_update"].is_null());
  auto invoice = latestInvoice(updated);
  CHECK(invoice["status"] == "open");
  const std::string path = "/v1/invoices/" + invoice["id"].get<std::string>() + "/pay";
  requireError(api().post(path, {}), 402, "card_error", "invoice_payment_intent_requires_action");
  auto paid = api().ok(api().post(path, {{"payment_method", "pm_card_visa"}}));
  CHECK(paid["status"] == "paid");
  CHECK(retrieve("/v1/subscriptions/" + sub["id"].get<std::string>())["status"] == "active");
  requireError(api().post(path, {}), 400, "invalid_request_error", "invoice_not_open");
}

// Bank debits: pending updates "aren't supported ... when bank debits are used as the payment method"
// (https://docs.stripe.com/billing/subscriptions/pending-updates; stricter reading: a 400 on payment_behavior). With
// allow_incomplete the change applies and its invoice stays open while the debit is processing, "within 5 business
// days" for SEPA (https://docs.stripe.com/payments/sepa-debit), then paid; the subscription stays active meanwhile
// (a processing payment is not a failed one). The test IBAN succeeds (https://docs.stripe.com/testing#sepa-direct-debit).
TEST_CASE("contract: a bank debit takes no pending update, and its change applies with the invoice processing until it settles", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto basic = api().newPrice(1000), pro = api().newPrice(3000);
  auto sub = subscribe(customer, {{"items[0][price]", basic}});
  auto sepa = api().ok(api().post("/v1/payment_methods", {{"type", "sepa_debit"}, {"sepa_debit[iban]", "DE89370400440532013000"},
                                                          {"billing_details[name]", "Jenny Rosen"},
                                                          {"billing_details[email]", "jenny@example.com"}}));
  CHECK(sepa["type"] == "sepa_debit");
  useCard(customer, sepa["id"]);
  api().advance(clock, kMar1 + 5 * kDay);
  const std::string path = "/v1/subscriptions/" + sub["id"].get<std::string>();
  Form change = {{"items[0][id]", sub["items"]["data"][0]["id"]}, {"items[0][price]", pro}, {"proration_behavior", "always_invoice"}};
  auto pending = change;
  pending.push_back({"payment_behavior", "pending_if_incomplete"});
  requireError(api().post(path, pending), 400, "invalid_request_error", "", "payment_behavior");
  change.push_back({"payment_behavior", "allow_incomplete"});
  auto updated = api().ok(api().post(path, change));
  CHECK(updated["items"]["data"][0]["price"]["id"] == pro);
  CHECK(updated["status"] == "active");
  auto invoice = latestInvoice(updated);
  CHECK(invoice["status"] == "open");
  api().advance(clock, kMar1 + 5 * kDay + 5 * kDay + 3600);
  CHECK(retrieve("/v1/invoices/" + invoice["id"].get<std::string>())["status"] == "paid");
  CHECK(retrieve(path)["status"] == "active");
}

// A meter's customer_mapping, value_settings and event_time_window are kept as created, with Stripe's defaults
// (by_id on stripe_customer_id, value, none) when not given (https://docs.stripe.com/api/billing/meter/create).
TEST_CASE("contract: a meter keeps its customer mapping, value key and event time window", "[contract]") {
  auto tag = StripeApi::newKey().substr(9, 10);
  auto plain = api().ok(api().post("/v1/billing/meters", {{"display_name", "Plain"}, {"event_name", "plain_" + tag},
                                                          {"default_aggregation[formula]", "sum"}}));
  CHECK(plain["customer_mapping"]["type"] == "by_id");
  CHECK(plain["customer_mapping"]["event_payload_key"] == "stripe_customer_id");
  CHECK(plain["value_settings"]["event_payload_key"] == "value");
  CHECK(plain["event_time_window"].is_null());
  auto custom = api().ok(api().post("/v1/billing/meters", {{"display_name", "Custom"}, {"event_name", "custom_" + tag},
                                                           {"default_aggregation[formula]", "sum"},
                                                           {"customer_mapping[type]", "by_id"}, {"customer_mapping[event_payload_key]", "customer"},
                                                           {"value_settings[event_payload_key]", "units"}, {"event_time_window", "hour"}}));
  CHECK(custom["customer_mapping"]["event_payload_key"] == "customer");
  CHECK(custom["value_settings"]["event_payload_key"] == "units");
  CHECK(custom["event_time_window"] == "hour");
  requireError(api().post("/v1/billing/meters", {{"display_name", "Bad"}, {"event_name", "bad_" + tag},
                                                 {"default_aggregation[formula]", "sum"}, {"event_time_window", "week"}}),
               400, "invalid_request_error", "", "event_time_window");
}

// https://docs.stripe.com/api/customers/delete: "Also immediately cancels any active subscriptions on the customer."
TEST_CASE("contract: deleting a customer cancels its subscriptions at once", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto sub = subscribe(customer, {{"items[0][price]", api().newPrice(1000)}});
  CHECK(api().ok(api().del("/v1/customers/" + customer))["deleted"] == true);
  CHECK(retrieve("/v1/subscriptions/" + sub["id"].get<std::string>())["status"] == "canceled");
  CHECK(retrieve("/v1/customers/" + customer)["deleted"] == true);
}

// https://docs.stripe.com/search: "Don't use search for read-after-write flows ... data is searchable in under 1
// minute." The fake holds the stricter reading: never found at once.
TEST_CASE("contract: Customer Search is eventually consistent", "[contract]") {
  auto marker = StripeApi::newKey();
  api().ok(api().post("/v1/customers", {{"metadata[contract_marker]", marker}}));
  const Form query = {{"query", "metadata['contract_marker']:'" + marker + "'"}};
  if (!api().real()) CHECK(api().ok(api().get("/v1/customers/search", query))["data"].empty());
  bool found = false;
  for (int waited = 0; waited <= 120 && !found; waited += 10) {
    found = !api().ok(api().get("/v1/customers/search", query))["data"].empty();
    if (!found) api().passWallClock(10);
  }
  CHECK(found);
}

// https://docs.stripe.com/api/customer_portal/sessions/create: configuration "If not specified, the session uses the
// default configuration"; is_default marks the Dashboard's. That an API-created one is not the default is not stated:
// it follows from there being no is_default parameter (stricter reading, held).
TEST_CASE("contract: portal sessions use the default configuration unless one is passed", "[contract]") {
  auto customer = api().newCustomer("");
  auto created = api().ok(api().post("/v1/billing_portal/configurations",
                                     {{"features[invoice_history][enabled]", "true"},
                                      {"features[payment_method_update][enabled]", "true"}}));
  CHECK(created["is_default"] == false);
  auto plain = api().ok(api().post("/v1/billing_portal/sessions", {{"customer", customer}}));
  CHECK(plain["configuration"] != created["id"]);
  auto ours = api().ok(api().post("/v1/billing_portal/sessions", {{"customer", customer}, {"configuration", created["id"]}}));
  CHECK(ours["configuration"] == created["id"]);
}

// Usage counts in the period its timestamp falls in, and may still be reported during the finalization grace: "All
// invoices have a default finalization grace period of 1 hour. During the finalization grace period, you can continue
// to report usage for the previous billing period"
// (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period). Later usage for that period is
// not billed (stricter reading: lost, not moved to the next invoice).
TEST_CASE("contract: metered usage is billed into its period once per identifier, including usage sent within the one-hour grace", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto event_name = "contract_calls_" + StripeApi::newKey().substr(9, 10);
  auto meter = api().ok(api().post("/v1/billing/meters", {{"display_name", "Contract calls"}, {"event_name", event_name},
                                                          {"default_aggregation[formula]", "sum"}}));
  auto product = api().ok(api().post("/v1/products", {{"name", "Calls"}}));
  auto metered = api().ok(api().post("/v1/prices", {{"product", product["id"]}, {"currency", "usd"}, {"unit_amount", "3"},
                                                    {"recurring[interval]", "month"}, {"recurring[usage_type]", "metered"},
                                                    {"recurring[meter]", meter["id"]}}));
  auto sub = subscribe(customer, {{"items[0][price]", api().newPrice(1000)}, {"items[1][price]", metered["id"]}});
  std::int64_t end = sub["items"]["data"][0]["current_period_end"];
  auto report = [&](std::int64_t value, std::int64_t timestamp) {
    api().ok(api().post("/v1/billing/meter_events", {{"event_name", event_name}, {"payload[stripe_customer_id]", customer},
                                                     {"payload[value]", std::to_string(value)},
                                                     {"timestamp", std::to_string(timestamp)},
                                                     {"identifier", StripeApi::newKey()}}));
  };
  api().advance(clock, kMar1 + 10 * kDay);
  report(4, kMar1 + 2 * kDay);
  report(3, kMar1 + 9 * kDay);
  // "We will enforce uniqueness within a rolling period of at least 24 hours"
  // (https://docs.stripe.com/api/billing/meter-event/create): the same identifier again counts once, whether Stripe
  // answers 200 or refuses the duplicate; a refusal says "already exists with identifier" (observed, e.g.
  // langfuse/langfuse#16292), which the usage reporter takes for "reported".
  const auto identifier = StripeApi::newKey();
  for (int i = 0; i < 2; ++i) {
    auto sent = api().post("/v1/billing/meter_events", {{"event_name", event_name}, {"payload[stripe_customer_id]", customer},
                                                        {"payload[value]", "100"}, {"timestamp", std::to_string(kMar1 + 3 * kDay)},
                                                        {"identifier", identifier}});
    CHECK((sent.status == 200 || (i == 1 && sent.status == 400)));
    if (sent.status == 400) {
      CHECK(sent.body["error"].value("message", "").find("already exists with identifier") != std::string::npos);
    }
  }
  api().advance(clock, end + 1800);  // inside the grace: the renewal is still a draft
  report(2, end - 60);
  api().advance(clock, end + 2 * 3600);
  auto renewal = latestInvoice(retrieve("/v1/subscriptions/" + sub["id"].get<std::string>()));
  CHECK(renewal["status"] != "draft");
  std::int64_t billed = -1;
  for (const auto& line : renewal["lines"]["data"]) {
    if (line["pricing"]["price_details"]["price"] == metered["id"]) billed = line["quantity"];
  }
  CHECK(billed == 109);
}

// Any number of items (https://docs.stripe.com/billing/subscriptions/multiple-products): an update naming one item by id
// leaves the others as they are.
TEST_CASE("contract: changing one item of a multi-item subscription leaves the others untouched", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto basic = api().newPrice(1000), pro = api().newPrice(3000), addon = api().newPrice(500);
  auto sub = subscribe(customer, {{"items[0][price]", basic}, {"items[1][price]", addon}, {"items[1][quantity]", "2"}});
  const std::string addon_item = sub["items"]["data"][1]["id"];
  auto updated = api().ok(api().post("/v1/subscriptions/" + sub["id"].get<std::string>(),
                                     {{"items[0][id]", sub["items"]["data"][0]["id"]}, {"items[0][price]", pro},
                                      {"proration_behavior", "none"}}));
  REQUIRE(updated["items"]["data"].size() == 2);
  for (const auto& item : updated["items"]["data"]) {
    if (item["id"] == addon_item) {
      CHECK(item["price"]["id"] == addon);
      CHECK(item["quantity"] == 2);
    } else {
      CHECK(item["price"]["id"] == pro);
    }
  }
}

// https://docs.stripe.com/subscriptions/pricing-models/tiered-pricing: graduated prices each unit at its own tier
// (flat amounts of every tier reached added), volume prices every unit at the tier the total falls in.
// https://docs.stripe.com/api/prices/object#price_object-tiers: tiers are "not included by default. To include it in
// the response, expand the tiers field."
TEST_CASE("contract: tiered prices bill each tier (graduated) or the whole quantity at one tier (volume), tiers only when expanded", "[contract]") {
  auto product = api().ok(api().post("/v1/products", {{"name", "Contract tiered seats"}}));
  auto tiered = [&](const std::string& mode) {
    return api().ok(api().post("/v1/prices",
        {{"product", product["id"]}, {"currency", "usd"}, {"recurring[interval]", "month"},
         {"billing_scheme", "tiered"}, {"tiers_mode", mode},
         {"tiers[0][up_to]", "5"}, {"tiers[0][unit_amount]", "700"}, {"tiers[0][flat_amount]", "1000"},
         {"tiers[1][up_to]", "inf"}, {"tiers[1][unit_amount]", "650"}}));
  };
  auto graduated = tiered("graduated"), volume = tiered("volume");
  CHECK_FALSE(graduated.contains("tiers"));
  auto expanded = retrieve("/v1/prices/" + graduated["id"].get<std::string>() + "?expand[]=tiers");
  REQUIRE(expanded["tiers"].size() == 2);
  CHECK(expanded["tiers"][1]["up_to"].is_null());
  CHECK(expanded["tiers"][0]["flat_amount"] == 1000);
  CHECK_FALSE(retrieve("/v1/prices/" + graduated["id"].get<std::string>()).contains("tiers"));

  // subtotal: what the lines bill (a small amount_due can fall under Stripe's minimum charge and move to the balance).
  auto clock = api().newClock(kMar1);
  auto first = latestInvoice(subscribe(api().newCustomer(clock), {{"items[0][price]", graduated["id"]}, {"items[0][quantity]", "7"}}));
  CHECK(first["subtotal"] == 1000 + 5 * 700 + 2 * 650);
  auto second = latestInvoice(subscribe(api().newCustomer(clock), {{"items[0][price]", volume["id"]}, {"items[0][quantity]", "7"}}));
  CHECK(second["subtotal"] == 7 * 650);
}

// https://docs.stripe.com/billing/subscriptions/decimal-amounts: "Rounding occurs on the line item level", so 3 units
// at 0.5 cents are 1.5, "rounded up to 2 cents" (the page's own example); 30 units are 15, not 30 x round(0.5).
// https://docs.stripe.com/billing/subscriptions/usage-based/transform-quantities: the quantity is divided, then
// rounded (up here), before pricing.
TEST_CASE("contract: decimal unit amounts and transformed quantities price the line, not each unit", "[contract]") {
  auto product = api().ok(api().post("/v1/products", {{"name", "Contract decimal"}}));
  auto decimal = api().ok(api().post("/v1/prices", {{"product", product["id"]}, {"currency", "usd"},
                                                    {"recurring[interval]", "month"}, {"unit_amount_decimal", "0.5"}}));
  CHECK(decimal["unit_amount"].is_null());
  CHECK(decimal["unit_amount_decimal"] == "0.5");
  auto per_five = api().ok(api().post("/v1/prices", {{"product", product["id"]}, {"currency", "usd"},
                                                     {"recurring[interval]", "month"}, {"unit_amount", "1000"},
                                                     {"transform_quantity[divide_by]", "5"}, {"transform_quantity[round]", "up"}}));
  auto clock = api().newClock(kMar1);
  CHECK(latestInvoice(subscribe(api().newCustomer(clock), {{"items[0][price]", decimal["id"]}, {"items[0][quantity]", "30"}}))["subtotal"] == 15);
  CHECK(latestInvoice(subscribe(api().newCustomer(clock), {{"items[0][price]", decimal["id"]}, {"items[0][quantity]", "3"}}))["subtotal"] == 2);
  CHECK(latestInvoice(subscribe(api().newCustomer(clock), {{"items[0][price]", per_five["id"]}, {"items[0][quantity]", "11"}}))["subtotal"] == 3000);
}

// Invoice terms. https://docs.stripe.com/api/subscriptions/object#subscription_object-collection_method: with
// send_invoice "Stripe will email your customer an invoice with payment instructions"; days_until_due is the
// number of days to pay (stricter reading: required for send_invoice). The subscription is active while its invoice
// is open (nothing was charged, so nothing failed). https://docs.stripe.com/billing/subscriptions/pending-updates:
// "Pending updates aren't supported when the subscription's collection_method is send_invoice": refused (400; the
// wording is not documented). Without pending updates, an always_invoice change applies and its invoice is sent.
TEST_CASE("contract: a send_invoice subscription's invoices are sent, due by its terms, and it takes no pending updates", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto basic = api().newPrice(1000), pro = api().newPrice(3000);
  requireError(api().post("/v1/subscriptions", {{"customer", customer}, {"items[0][price]", basic}, {"collection_method", "send_invoice"}}),
               400, "invalid_request_error", "", "days_until_due");
  auto sub = subscribe(customer, {{"items[0][price]", basic}, {"collection_method", "send_invoice"}, {"days_until_due", "30"}});
  CHECK(sub["status"] == "active");
  CHECK(sub["collection_method"] == "send_invoice");
  auto first = latestInvoice(sub);
  CHECK(first["collection_method"] == "send_invoice");
  CHECK(first["status"] == "open");
  CHECK(first["amount_due"] == 1000);
  CHECK(first["due_date"] == kMar1 + 30 * kDay);
  const std::string id = sub["id"];
  requireError(api().post("/v1/subscriptions/" + id, {{"items[0][id]", sub["items"]["data"][0]["id"]}, {"items[0][price]", pro},
                                                     {"proration_behavior", "always_invoice"}, {"payment_behavior", "pending_if_incomplete"}}),
               400, "invalid_request_error", "", "payment_behavior");
  CHECK(retrieve("/v1/subscriptions/" + id)["items"]["data"][0]["price"]["id"] == basic);
  auto changed = api().ok(api().post("/v1/subscriptions/" + id, {{"items[0][id]", sub["items"]["data"][0]["id"]}, {"items[0][price]", pro},
                                                                  {"proration_behavior", "always_invoice"}, {"payment_behavior", "allow_incomplete"}}));
  CHECK(changed["items"]["data"][0]["price"]["id"] == pro);
  CHECK(changed["status"] == "active");
  CHECK(changed["pending_update"].is_null());
  auto proration = latestInvoice(changed);
  CHECK(proration["status"] == "open");
  CHECK(proration["amount_due"].get<std::int64_t>() > 0);
  CHECK(proration["due_date"].is_number());
}

// Mixed intervals (https://docs.stripe.com/billing/subscriptions/mixed-interval, changelog 2025-07-30.basil): only
// flexible billing mode allows items on different intervals, each keeping its own current_period_start/end; only the
// items whose period ends renew. cancel_at_period_end "always resolves to the earliest item period end", and
// cancel_at takes min_period_end / max_period_end, or "" to unset (changelog basil cancel-at-enums; the update's
// cancel_at in the API spec). Stricter readings: cancel_at_period_end=false leaves a cancel_at set another way, and
// both parameters at once are refused.
TEST_CASE("contract: mixed intervals need flexible mode, each item renews on its own period, and cancel_at resolves over the items", "[contract]") {
  auto clock = api().newClock(kMar1);
  auto customer = api().newCustomer(clock);
  auto event_name = "mixed_calls_" + StripeApi::newKey().substr(9, 10);
  auto meter = api().ok(api().post("/v1/billing/meters", {{"display_name", "Mixed calls"}, {"event_name", event_name},
                                                          {"default_aggregation[formula]", "sum"}}));
  auto product = api().ok(api().post("/v1/products", {{"name", "Calls"}}));
  std::string calls = api().ok(api().post("/v1/prices", {{"product", product["id"]}, {"currency", "usd"}, {"unit_amount", "2"},
                                                         {"recurring[interval]", "month"}, {"recurring[usage_type]", "metered"},
                                                         {"recurring[meter]", meter["id"]}}))["id"];
  auto annual = api().newPrice(120000, "year"), monthly = api().newPrice(10000);
  requireError(api().post("/v1/subscriptions", {{"customer", customer}, {"items[0][price]", annual}, {"items[1][price]", calls},
                                                {"billing_mode[type]", "classic"}}),
               400, "invalid_request_error", "", "items");
  auto classic = subscribe(customer, {{"items[0][price]", monthly}, {"items[1][price]", calls}, {"billing_mode[type]", "classic"}});
  requireError(api().post("/v1/subscriptions/" + classic["id"].get<std::string>(),
                          {{"items[0][id]", classic["items"]["data"][0]["id"]}, {"items[0][price]", annual}}),
               400, "invalid_request_error", "", "items");
  api().ok(api().del("/v1/subscriptions/" + classic["id"].get<std::string>()));

  auto sub = subscribe(customer, {{"items[0][price]", annual}, {"items[1][price]", calls}});  // flexible: the default
  const std::string id = sub["id"];
  const std::int64_t year_end = sub["items"]["data"][0]["current_period_end"];
  const std::int64_t month_end = sub["items"]["data"][1]["current_period_end"];
  REQUIRE(month_end < year_end);
  auto update = [&](const Form& form) { return api().ok(api().post("/v1/subscriptions/" + id, form)); };
  CHECK(update({{"cancel_at_period_end", "true"}})["cancel_at"] == month_end);
  CHECK(update({{"cancel_at_period_end", "false"}})["cancel_at"].is_null());
  auto at_max = update({{"cancel_at", "max_period_end"}});
  CHECK(at_max["cancel_at"] == year_end);
  CHECK(at_max["cancel_at_period_end"] == false);
  CHECK(update({{"cancel_at_period_end", "false"}})["cancel_at"] == year_end);
  requireError(api().post("/v1/subscriptions/" + id, {{"cancel_at", "max_period_end"}, {"cancel_at_period_end", "true"}}), 400,
               "invalid_request_error", "", "cancel_at");

  api().advance(clock, month_end + 2 * 3600);
  auto renewed = retrieve("/v1/subscriptions/" + id);
  CHECK(renewed["status"] == "active");
  CHECK(renewed["items"]["data"][0]["current_period_end"] == year_end);  // the annual item doesn't renew monthly
  CHECK(renewed["items"]["data"][1]["current_period_start"] == month_end);
  CHECK(renewed["items"]["data"][1]["current_period_end"].get<std::int64_t>() > month_end);
  for (const auto& line : latestInvoice(renewed)["lines"]["data"]) {
    CHECK(line["pricing"]["price_details"]["price"] == calls);  // only the usage of the month closed
  }
  CHECK(update({{"cancel_at", ""}})["cancel_at"].is_null());
}

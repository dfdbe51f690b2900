// Request conformance: the calls the service makes, sent through our client to stripe-mock, which validates each one
// against Stripe's OpenAPI spec (unknown or mistyped parameters are a 400). Note: stripe-mock v0.203.0 embeds the
// 2026-08-26.dahlia spec, the release after our pinned 2026-07-29.dahlia.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "stripe/stripe_client.h"
#include "sync/backfill.h"
#include "sync/object_fetcher.h"
#include "sync/reconciler.h"
#include "tests/support/fake_stripe.h"
#include "tests/support/fixtures.h"
#include "tests/support/stripe_mock.h"
#include "tests/support/sync_database.h"

using namespace billing;
using namespace billing::stripe;

namespace {

StripeClient makeClient(const testing::StripeMock& mock) {
  StripeClientConfig c;
  c.api_key = "sk_test_conformance";
  c.base_url = mock.baseUrl();
  c.retry.max_retries = 0;  // a conformance failure must show, not be retried
  return StripeClient(c);
}

}  // namespace

TEST_CASE("stripe-mock accepts the requests the service sends", "[integration][stripe-mock]") {
  testing::StripeMock mock;
  auto client = makeClient(mock);

  auto customer = client.post("/v1/customers",
                              {{"email", "ada@example.com"},
                               {"name", "Ada"},
                               {"metadata", {{"account_id", "acct_42"}}}},
                              "acct_42:create-customer");
  CHECK(customer["object"] == "customer");
  CHECK(client.get("/v1/customers/cus_123")["object"] == "customer");

  auto list = client.get("/v1/customers", {{"limit", "3"}, {"starting_after", "cus_1"}});
  CHECK(list["object"] == "list");
  CHECK(client.get("/v1/prices", {{"active", "true"}, {"expand[0]", "data.product"}, {"limit", "100"}})["object"] ==
        "list");
  CHECK(client.get("/v1/events", {{"created[gte]", "1780000000"}, {"limit", "100"}})["object"] == "list");

  auto preview = client.post("/v1/invoices/create_preview",
                             {{"customer", "cus_123"},
                              {"subscription", "sub_123"},
                              {"subscription_details",
                               {{"items", {{{"id", "si_123"}, {"price", "price_pro"}, {"quantity", 1}}}},
                                {"proration_date", 1780500000},
                                {"proration_behavior", "always_invoice"}}}},
                             "preview-1");
  CHECK(preview["object"] == "invoice");

  auto updated = client.post("/v1/subscriptions/sub_123",
                             {{"items", {{{"id", "si_123"}, {"price", "price_pro"}}}},
                              {"proration_behavior", "always_invoice"},
                              {"proration_date", 1780500000},
                              {"payment_behavior", "pending_if_incomplete"}},
                             "upgrade-1");
  CHECK(updated["object"] == "subscription");

  CHECK(client.post("/v1/subscriptions/sub_123", {{"cancel_at_period_end", true}}, "cancel-1")["object"] ==
        "subscription");
  CHECK(client.post("/v1/subscription_schedules", {{"from_subscription", "sub_123"}}, "schedule-1")["object"] ==
        "subscription_schedule");

  auto portal = client.post("/v1/billing_portal/sessions",
                            {{"customer", "cus_123"},
                             {"return_url", "https://app.example.com/billing"},
                             {"flow_data", {{"type", "payment_method_update"}}}},
                            "portal-1");
  CHECK(portal["object"] == "billing_portal.session");

  auto meter_event = client.post("/v1/billing/meter_events",
                                 {{"event_name", "api_requests"},
                                  {"identifier", "acct_42:api_requests:1780500000"},
                                  {"timestamp", 1780500000},
                                  {"payload", {{"stripe_customer_id", "cus_123"}, {"value", "25"}}}},
                                 "meter-1");
  CHECK(meter_event["object"] == "billing.meter_event");
}

TEST_CASE("stripe-mock refuses what Stripe would, and the error is typed", "[integration][stripe-mock]") {
  testing::StripeMock mock;
  auto client = makeClient(mock);
  try {
    client.post("/v1/customers", {{"not_a_parameter", "x"}}, "bad-1");
    FAIL("stripe-mock accepted an unknown parameter");
  } catch (const StripeError& e) {
    CHECK(e.status() == 400);
    CHECK(e.type() == "invalid_request_error");
    CHECK_FALSE(e.isTransient());
  }
  try {
    client.post("/v1/subscriptions/sub_123", {{"proration_date", "yesterday"}}, "bad-2");
    FAIL("stripe-mock accepted a mistyped parameter");
  } catch (const StripeError& e) {
    CHECK(e.status() == 400);
  }
}

// The stateful fake answers the sync's flows; here every request those flows sent to it is sent again to stripe-mock,
// so the fake can never accept a request Stripe's spec refuses.
TEST_CASE("every request the sync sends to the Stripe fake is valid for stripe-mock", "[integration][stripe-mock]") {
  testing::FakeStripe fake;
  StripeClientConfig fake_config;
  fake_config.api_key = "sk_test_fake";
  fake_config.base_url = fake.baseUrl();
  fake_config.retry.max_retries = 0;
  StripeClient via_fake(fake_config);

  nlohmann::json subscription, invoice;
  for (const auto& f : testing::sampleEvents()) {
    if (f.name == "customer.subscription.created.json") subscription = nlohmann::json::parse(f.body)["data"]["object"];
    if (f.name == "invoice.paid.proration.json") invoice = nlohmann::json::parse(f.body)["data"]["object"];
  }
  subscription["items"]["has_more"] = true;
  invoice["lines"]["has_more"] = true;
  fake.put(subscription);
  fake.put(invoice);
  fake.put({{"id", "cus_a"}, {"object", "customer"}, {"created", 1780000000}, {"livemode", false}});
  fake.put({{"id", "pm_a"}, {"object", "payment_method"}, {"created", 1780000000}, {"customer", "cus_a"}, {"type", "card"}});
  fake.addEvent(nlohmann::json::parse(testing::makeEvent("customer.created", 1780000000, {{"id", "cus_a"}, {"object", "customer"}})));

  // Backfill (every kind, with --since), refetch of each kind with list completion, reconcile, replay's listing.
  pg::Connection db(testing::freshSyncDatabase());
  sync::BackfillOptions backfill;
  for (const auto& k : sync::allKinds()) backfill.kinds.push_back(k.kind);
  backfill.since = 1700000000;
  sync::Backfill(db, via_fake).run(backfill);
  for (const auto& k : sync::allKinds()) {
    try {
      sync::fetchSnapshot(via_fake, k.kind, k.kind == sync::ObjectKind::Subscription ? subscription["id"].get<std::string>()
                                           : k.kind == sync::ObjectKind::Invoice    ? invoice["id"].get<std::string>()
                                                                                     : "obj_missing");
    } catch (const StripeError&) {
      // 404 for kinds the fake doesn't hold: the request itself still counts
    }
  }
  sync::ReconcileOptions reconcile;
  reconcile.kinds = backfill.kinds;
  sync::Reconciler(db, via_fake).run(reconcile);
  via_fake.get("/v1/events", {{"limit", "100"}, {"created[gte]", "1780000000"}, {"created[lte]", "1790000000"},
                              {"types[]", "customer.created"}, {"types[]", "invoice.paid"}});

  testing::StripeMock mock;
  auto strict = makeClient(mock);
  auto requests = fake.requests();
  CHECK(requests.size() > 20);
  for (const auto& r : requests) {
    INFO(r.method << " " << r.uri);
    CHECK(r.headers.at("Stripe-Version") == kApiVersion);
    CHECK_NOTHROW(strict.get(r.uri));
  }
}

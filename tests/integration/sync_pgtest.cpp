// The sync rule against a real PostgreSQL 15: sample events, duplicates, any delivery order, same-second updates,
// tombstones, children, refetch, backfill and reconcile (a stateful Stripe fake stands in for the API).
#include <catch2/catch.hpp>

#include <algorithm>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "stripe/stripe_client.h"
#include "sync/backfill.h"
#include "sync/event_routes.h"
#include "sync/object_fetcher.h"
#include "sync/reconciler.h"
#include "sync/refetcher.h"
#include "sync/retention.h"
#include "sync/snapshot_writer.h"
#include "tests/support/fake_stripe.h"
#include "tests/support/fixtures.h"
#include "tests/support/sync_database.h"
#include "workers/refetch_pool.h"

using namespace billing;
using testing::scalar;
using sync::EventOutcome;

namespace {

struct Sample {
  std::string name;
  std::string payload;
  nlohmann::json event;
};

// The sample events in delivery order Stripe would aim for: by creation time (file name breaks ties).
std::vector<Sample> orderedSamples() {
  std::vector<Sample> out;
  for (auto& f : testing::sampleEvents()) {
    auto event = nlohmann::json::parse(f.body);
    if (event.value("object", "") != "event") continue;  // the thin v2 samples are for the usage issue
    out.push_back({f.name, f.body, event});
  }
  std::stable_sort(out.begin(), out.end(), [](const Sample& a, const Sample& b) {
    return a.event["created"].get<std::int64_t>() < b.event["created"].get<std::int64_t>();
  });
  return out;
}

std::vector<std::string> payloadsOf(const std::vector<Sample>& samples) {
  std::vector<std::string> out;
  for (const auto& s : samples) out.push_back(s.payload);
  return out;
}

stripe::StripeClientConfig fakeConfig(const testing::FakeStripe& fake) {
  stripe::StripeClientConfig c;
  c.api_key = "sk_test_fake";
  c.base_url = fake.baseUrl();
  c.timeout_ms = 5000;
  c.retry.max_retries = 0;
  return c;
}

// Stripe's truth for every object a database holds: what a fetch would answer.
void seedFakeFrom(pg::Connection& db, testing::FakeStripe& fake) {
  for (const char* table : {"customers", "products", "prices", "subscriptions", "invoices", "payment_methods"}) {
    for (const auto& row : db.query(std::string("SELECT raw::text, deleted FROM ") + table)) {
      auto object = nlohmann::json::parse(*row[0]);
      fake.put(object);
      if (row[1] == "t") fake.remove(object["object"], object["id"]);
    }
  }
}

nlohmann::json subscriptionFixture() {
  for (const auto& s : orderedSamples()) {
    if (s.name == "customer.subscription.created.json") return s.event["data"]["object"];
  }
  throw std::runtime_error("fixture missing");
}

}  // namespace

TEST_CASE("every sample event applies and reads back through the typed columns", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  auto samples = orderedSamples();
  auto outcomes = testing::applyPayloads(db, payloadsOf(samples));
  REQUIRE(outcomes.size() == samples.size());

  // Each object holds the state of its latest event (no sample pair shares a second with different content).
  std::map<std::string, const Sample*> latest;
  for (const auto& s : samples) {
    auto route = sync::routeFor(s.event["type"].get<std::string>());
    if (!route) continue;
    latest[std::string(sync::info(route->kind).table) + "/" + s.event["data"]["object"]["id"].get<std::string>()] = &s;
  }
  CHECK(latest.size() == 16);
  for (const auto& [key, sample] : latest) {
    auto table = key.substr(0, key.find('/'));
    auto id = key.substr(key.find('/') + 1);
    INFO(sample->name);
    CHECK(scalar(db, "SELECT raw = $2::jsonb FROM " + table + " WHERE id = $1",
                 {id, sample->event["data"]["object"].dump()}) == "t");
  }
  CHECK(scalar(db, "SELECT count(*) FROM processed_events") == std::to_string(samples.size() - 3));  // 3 duplicate ids

  // Typed columns a reader relies on, checked against values read off the samples by hand.
  CHECK(scalar(db, "SELECT status || ' ' || customer_id || ' ' || cancel_at_period_end FROM subscriptions WHERE id = 'sub_1wUn1obRqfAWGcrTHprb3vKb'") ==
        "active cus_wiBCVtOp32cN8d false");
  CHECK(scalar(db, "SELECT price_id || ' ' || product_id || ' ' || quantity FROM subscription_items WHERE subscription_id = 'sub_1wUn1obRqfAWGcrTHprb3vKb'") ==
        "price_1wTq6ibRqfAWGcrTGiWUa6mg prod_JUkYgYXxzlJdfr 1");
  CHECK(scalar(db, "SELECT current_period_start < current_period_end FROM subscription_items WHERE subscription_id = 'sub_1wUn1obRqfAWGcrTHprb3vKb'") == "t");
  CHECK(scalar(db, "SELECT cancel_at IS NOT NULL FROM subscriptions WHERE id = 'sub_1wbSDkbRqfAWGcrTVFnjUllZ'") == "t");
  CHECK(scalar(db, "SELECT status || ' ' || total || ' ' || amount_paid || ' ' || currency || ' ' || number || ' ' || subscription_id FROM invoices WHERE id = 'in_1wZjJ6bRqfAWGcrTGYJc4HX6'") ==
        "paid 1092 1092 usd D31033FE-0002 sub_1wUn1obRqfAWGcrTHprb3vKb");
  CHECK(scalar(db, "SELECT hosted_invoice_url LIKE 'https://invoice.stripe.com/%' AND invoice_pdf LIKE 'https://pay.stripe.com/%' FROM invoices WHERE id = 'in_1wZjJ6bRqfAWGcrTGYJc4HX6'") == "t");
  CHECK(scalar(db, "SELECT string_agg(amount::text || ':' || proration, ',' ORDER BY amount) FROM invoice_lines WHERE invoice_id = 'in_1wZjJ6bRqfAWGcrTGYJc4HX6'") ==
        "-491:true,1583:true");
  CHECK(scalar(db, "SELECT status || ' ' || total FROM invoices WHERE id = 'in_1wzw3XbRqfAWGcrTltM4u27o'") == "void 594000");
  CHECK(scalar(db, "SELECT deleted FROM customers WHERE id = 'cus_1C4dDKViXjRfyN'") == "t");
  CHECK(scalar(db, "SELECT email FROM customers WHERE id = 'cus_1C4dDKViXjRfyN'") == "jonas.muller76@example.com");
  CHECK(scalar(db, "SELECT delinquent FROM customers WHERE id = 'cus_spONFA2nyJ9m7J'") == "t");
  CHECK(scalar(db, "SELECT coalesce(customer_id, 'none') || ' ' || type FROM payment_methods WHERE id = 'pm_1wbSDMbRqfAWGcrTZo0rK4Gl'") == "none card");
  CHECK(scalar(db, "SELECT nickname FROM prices WHERE id = 'price_1wTq6rbRqfAWGcrTURTk7iaw'") == "Pro yearly (2 months free)");
  CHECK(scalar(db, "SELECT name || ' ' || (metadata ->> 'plan_key') FROM products WHERE id = 'prod_eCIjrVCHI4eggv'") == "Starter starter");
  // Recorded but not applied: checkout sessions, invoice payments, the upcoming-invoice preview.
  CHECK(scalar(db, "SELECT count(*) FROM processed_events WHERE outcome = 'skipped'") == "5");
  CHECK(scalar(db, "SELECT count(*) FROM invoices WHERE id LIKE 'upcoming_%'") == "0");
}

TEST_CASE("every event delivered twice gives the same state", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  auto payloads = payloadsOf(orderedSamples());
  testing::applyPayloads(db, payloads);
  auto once = testing::syncedState(db);
  auto events_once = scalar(db, "SELECT count(*) FROM processed_events");

  auto second = testing::applyPayloads(db, payloads, 7);  // again, in batches this time
  CHECK(std::all_of(second.begin(), second.end(), [](EventOutcome o) { return o == EventOutcome::Duplicate; }));
  CHECK(testing::syncedState(db) == once);
  CHECK(scalar(db, "SELECT count(*) FROM processed_events") == events_once);

  // Twice inside one batch: the second copy is a duplicate too.
  pg::Connection other(testing::freshSyncDatabase());
  std::vector<std::string> doubled;
  for (const auto& p : payloads) {
    doubled.push_back(p);
    doubled.push_back(p);
  }
  testing::applyPayloads(other, doubled, 16);
  CHECK(testing::syncedState(other) == once);
}

TEST_CASE("a shuffled history ends in the same state as the ordered one", "[integration][postgres][sync]") {
  pg::Connection ordered(testing::freshSyncDatabase());
  auto samples = orderedSamples();
  testing::applyPayloads(ordered, payloadsOf(samples));
  auto expected = testing::syncedState(ordered);
  testing::FakeStripe fake;
  seedFakeFrom(ordered, fake);
  stripe::StripeClient client(fakeConfig(fake));

  for (unsigned seed : {1u, 2u, 3u, 4u, 5u, 6u}) {
    INFO("seed " << seed);
    auto shuffled = samples;
    std::mt19937 rng(seed);
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    pg::Connection db(testing::freshSyncDatabase());
    testing::applyPayloads(db, payloadsOf(shuffled), 1 + seed % 4 * 5);  // batches of 1, 6, 11, 16
    // Objects whose two snapshots share a second wait for Stripe's word; give it.
    sync::Refetcher(db, client).runDue(100);
    CHECK(scalar(db, "SELECT count(*) FROM refetch_queue") == "0");
    CHECK(testing::syncedState(db) == expected);
  }
}

TEST_CASE("same-second updates end in Stripe's latest state, whatever their order", "[integration][postgres][sync]") {
  auto subscription = subscriptionFixture();
  const std::int64_t second = subscription["created"].get<std::int64_t>() + 1000;
  auto active = subscription;
  active["status"] = "active";
  auto past_due = subscription;
  past_due["status"] = "past_due";
  // Stripe changed the subscription twice within one second: active first, then past_due (its current state).
  auto first = testing::makeEvent("customer.subscription.updated", second, active);
  auto later = testing::makeEvent("customer.subscription.updated", second, past_due);

  testing::FakeStripe fake;
  fake.put(past_due);
  fake.setClock(second + 3);
  stripe::StripeClient client(fakeConfig(fake));
  const std::string id = subscription["id"];

  for (auto [order, batch] : std::vector<std::pair<bool, std::size_t>>{{true, 1}, {false, 1}, {true, 2}, {false, 2}}) {
    INFO("in delivery order: " << order << ", batch " << batch);
    pg::Connection db(testing::freshSyncDatabase());
    auto outcomes = testing::applyPayloads(db, order ? std::vector{first, later} : std::vector{later, first}, batch);
    // Whichever came second, the object is in doubt and queued, not silently decided.
    CHECK(std::count(outcomes.begin(), outcomes.end(), EventOutcome::RefetchQueued) == 1);
    CHECK(scalar(db, "SELECT reason FROM refetch_queue WHERE object_id = $1", {id}) == "same_second");
    auto stats = sync::Refetcher(db, client).runDue(10);
    CHECK(stats.fetched == 1);
    CHECK(scalar(db, "SELECT status FROM subscriptions WHERE id = $1", {id}) == "past_due");
    // Versioned by the answer's Date: the fake's clock plus the second between its read and its answer.
    CHECK(scalar(db, "SELECT version FROM subscriptions WHERE id = $1", {id}) == std::to_string(second + 3 + 1));
    CHECK(scalar(db, "SELECT count(*) FROM refetch_queue") == "0");
    // A late copy of either event changes nothing now (it is within the fetched row's read window, so it is
    // settled by another fetch rather than trusted or dropped).
    auto late = testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", second, active)});
    CHECK(late[0] == EventOutcome::RefetchQueued);
    CHECK(scalar(db, "SELECT status FROM subscriptions WHERE id = $1", {id}) == "past_due");
  }
}

TEST_CASE("an older event never overwrites newer state", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  auto subscription = subscriptionFixture();
  const std::int64_t t = subscription["created"].get<std::int64_t>();
  auto newer = subscription;
  newer["cancel_at_period_end"] = true;
  auto outcomes = testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", t + 10, newer),
                                              testing::makeEvent("customer.subscription.created", t, subscription)});
  CHECK(outcomes == std::vector{EventOutcome::Applied, EventOutcome::Stale});
  CHECK(scalar(db, "SELECT cancel_at_period_end FROM subscriptions") == "t");
  // Identical content at the same second (invoice.paid and invoice.payment_succeeded do this): nothing to decide.
  auto same = testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", t + 10, newer)});
  CHECK(same[0] == EventOutcome::Unchanged);
  CHECK(scalar(db, "SELECT count(*) FROM refetch_queue") == "0");
}

TEST_CASE("a deleted object stays deleted: no late update resurrects it", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  nlohmann::json customer;
  for (const auto& s : orderedSamples()) {
    if (s.name == "customer.created.json") customer = s.event["data"]["object"];
  }
  const std::int64_t t = customer["created"].get<std::int64_t>();
  auto renamed = customer;
  renamed["name"] = "Renamed";
  // The delete arrives first, the create and an update (even one stamped later) after it.
  auto outcomes = testing::applyPayloads(db, {testing::makeEvent("customer.deleted", t + 50, customer),
                                              testing::makeEvent("customer.created", t, customer),
                                              testing::makeEvent("customer.updated", t + 60, renamed)});
  CHECK(outcomes == std::vector{EventOutcome::Deleted, EventOutcome::AlreadyDeleted, EventOutcome::AlreadyDeleted});
  CHECK(scalar(db, "SELECT deleted || ' ' || name FROM customers") == "true " + customer["name"].get<std::string>());
  CHECK(scalar(db, "SELECT deleted_at = to_timestamp($1::bigint) FROM customers", {std::to_string(t + 50)}) == "t");

  // A fetched `deleted: true` stub keeps the last full state and is just as final.
  testing::FakeStripe fake;
  auto product = nlohmann::json::parse(R"({"id":"prod_gone","object":"product","active":true,"created":1780000000,
    "name":"Gone","livemode":false,"metadata":{}})");
  testing::applyPayloads(db, {testing::makeEvent("product.created", 1780000000, product)});
  fake.put(product);
  fake.remove("product", "prod_gone");
  stripe::StripeClient client(fakeConfig(fake));
  db.exec("INSERT INTO refetch_queue (object_type, object_id, reason, doubt_version, not_before) VALUES "
          "('product', 'prod_gone', 'test', 1780000000, now())");
  sync::Refetcher(db, client).runDue(10);
  CHECK(scalar(db, "SELECT deleted || ' ' || name FROM products WHERE id = 'prod_gone'") == "true Gone");
}

TEST_CASE("subscription items and invoice lines follow their parent", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  auto subscription = subscriptionFixture();
  const std::int64_t t = subscription["created"].get<std::int64_t>();
  auto two_items = subscription;
  auto extra = subscription["items"]["data"][0];
  extra["id"] = "si_extra";
  extra["quantity"] = 5;
  two_items["items"]["data"].push_back(extra);
  testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", t + 1, two_items)});
  CHECK(scalar(db, "SELECT string_agg(id || ':' || quantity, ',' ORDER BY id) FROM subscription_items") ==
        subscription["items"]["data"][0]["id"].get<std::string>() + ":1,si_extra:5");
  testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", t + 2, subscription)});
  CHECK(scalar(db, "SELECT count(*) FROM subscription_items WHERE id = 'si_extra'") == "0");
  CHECK(scalar(db, "SELECT count(*) FROM subscription_items") == "1");

  // A list Stripe cut short: what we have stays, the rest comes from the list endpoint.
  nlohmann::json invoice;
  for (const auto& s : orderedSamples()) {
    if (s.name == "invoice.paid.proration.json") invoice = s.event["data"]["object"];
  }
  auto full = invoice;
  auto third = invoice["lines"]["data"][0];
  third["id"] = "il_third";
  third["amount"] = 7;
  full["lines"]["data"].push_back(third);
  auto truncated = full;
  truncated["lines"]["data"].erase(2);
  truncated["lines"]["has_more"] = true;
  testing::applyPayloads(db, {testing::makeEvent("invoice.updated", invoice["created"].get<std::int64_t>() + 100, truncated)});
  CHECK(scalar(db, "SELECT count(*) FROM invoice_lines") == "2");
  CHECK(scalar(db, "SELECT reason FROM refetch_queue WHERE object_id = $1", {invoice["id"].get<std::string>()}) == "list_truncated");
  // Stripe's GET cuts the list short again (has_more); its /lines endpoint (the fake pages the stored list) has all.
  testing::FakeStripe fake;
  auto served = full;
  served["lines"]["has_more"] = true;
  fake.put(served);
  db.exec("UPDATE refetch_queue SET not_before = now()");
  stripe::StripeClient client(fakeConfig(fake));
  sync::Refetcher(db, client).runDue(10);
  CHECK(fake.count("/v1/invoices/" + invoice["id"].get<std::string>() + "/lines") == 1);
  CHECK(scalar(db, "SELECT string_agg(amount::text, ',' ORDER BY amount) FROM invoice_lines") == "-491,7,1583");
  CHECK(scalar(db, "SELECT count(*) FROM refetch_queue") == "0");
}

TEST_CASE("a payload rendered at another API version is fetched at ours instead", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  auto subscription = subscriptionFixture();
  const std::int64_t t = subscription["created"].get<std::int64_t>();
  auto outcomes = testing::applyPayloads(
      db, {testing::makeEvent("customer.subscription.created", t, subscription, "", "2024-06-20")});
  CHECK(outcomes[0] == EventOutcome::RefetchQueued);
  CHECK(scalar(db, "SELECT count(*) FROM subscriptions") == "0");
  testing::FakeStripe fake;
  fake.put(subscription);
  stripe::StripeClient client(fakeConfig(fake));
  sync::Refetcher(db, client).runDue(10);
  CHECK(scalar(db, "SELECT status FROM subscriptions") == subscription["status"].get<std::string>());
  CHECK(fake.requests().at(0).headers.at("Stripe-Version") == stripe::kApiVersion);
}

TEST_CASE("refetch failures back off and keep the entry", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  testing::FakeStripe fake;
  fake.failNext(1, 500);
  stripe::StripeClient client(fakeConfig(fake));
  db.exec("INSERT INTO refetch_queue (object_type, object_id, reason, doubt_version, not_before) VALUES "
          "('customer', 'cus_x', 'test', 1780000000, now())");
  auto stats = sync::Refetcher(db, client).runDue(10);
  CHECK(stats.failed == 1);
  CHECK(scalar(db, "SELECT attempts || ' ' || (not_before > now()) || ' ' || (last_error LIKE '500%') FROM refetch_queue") == "1 true true");
}

TEST_CASE("backfill walks every list, resumes after an interruption, never overwrites newer events",
          "[integration][postgres][sync][backfill]") {
  pg::Connection db(testing::freshSyncDatabase());
  testing::FakeStripe fake;
  const std::int64_t t = 1780000000;
  for (int i = 0; i < 250; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "cus_%04d", i);
    fake.put({{"id", id}, {"object", "customer"}, {"created", t + i}, {"email", std::string(id) + "@example.com"},
              {"livemode", false}, {"metadata", nlohmann::json::object()}, {"balance", 0}, {"delinquent", false}});
  }
  for (int i = 0; i < 3; ++i) {
    fake.put({{"id", "pm_" + std::to_string(i)}, {"object", "payment_method"}, {"created", t}, {"type", "card"},
              {"customer", "cus_000" + std::to_string(i)}, {"livemode", false}, {"metadata", nlohmann::json::object()}});
  }
  auto subscription = subscriptionFixture();
  fake.put(subscription);
  auto canceled = subscription;
  canceled["id"] = "sub_canceled";
  canceled["status"] = "canceled";
  canceled["items"]["data"][0]["id"] = "si_of_canceled";
  fake.put(canceled);
  fake.setClock(t + 1000);
  stripe::StripeClient client(fakeConfig(fake));

  // A newer event already applied for one customer: the backfill's older snapshot must not win.
  auto newer = nlohmann::json{{"id", "cus_0007"}, {"object", "customer"}, {"created", t + 7}, {"email", "new@example.com"},
                              {"livemode", false}, {"metadata", nlohmann::json::object()}};
  testing::applyPayloads(db, {testing::makeEvent("customer.updated", t + 5000, newer)});

  sync::BackfillOptions options;
  options.kinds = {sync::ObjectKind::Customer};
  // Stripe refuses the second page: the first page and its cursor are kept.
  auto interrupted = [&](const sync::BackfillProgress& p) {
    if (p.pages == 1) fake.failNext(1, 400);
  };
  CHECK_THROWS_AS(sync::Backfill(db, client).run(options, interrupted), stripe::StripeError);
  CHECK(scalar(db, "SELECT count(*) FROM customers") == "101");  // 100 + the event's customer (page 1 had none of it)
  auto resumed = sync::Backfill(db, client).run(options);
  CHECK(resumed[0].resumed);
  CHECK(resumed[0].objects == 150);
  CHECK(scalar(db, "SELECT count(*) FROM customers") == "250");
  CHECK(scalar(db, "SELECT email FROM customers WHERE id = 'cus_0007'") == "new@example.com");
  auto requests = fake.requests();
  CHECK(requests.back().uri.find("starting_after=cus_0") != std::string::npos);

  // Finished: a second run has nothing to do unless asked to restart.
  CHECK(sync::Backfill(db, client).run(options)[0].already_done);

  options.kinds = {sync::ObjectKind::Subscription, sync::ObjectKind::PaymentMethod};
  auto results = sync::Backfill(db, client).run(options);
  CHECK(results[0].objects == 2);  // status=all: canceled subscriptions too
  CHECK(results[1].objects == 3);
  CHECK(scalar(db, "SELECT count(*) FROM subscription_items") == "2");
  CHECK(scalar(db, "SELECT string_agg(customer_id, ',' ORDER BY id) FROM payment_methods") == "cus_0000,cus_0001,cus_0002");

  options.kinds = {sync::ObjectKind::Customer};
  options.since = t + 200;
  auto since = sync::Backfill(db, client).run(options);
  CHECK(since[0].objects == 50);
  CHECK(fake.requests().back().uri.find("created%5Bgte%5D=1780000200") != std::string::npos);
}

TEST_CASE("reconcile reports drift and repairs it", "[integration][postgres][sync][reconcile]") {
  pg::Connection db(testing::freshSyncDatabase());
  testing::FakeStripe fake;
  fake.setClock(1790000000);
  auto samples = orderedSamples();
  testing::applyPayloads(db, payloadsOf(samples));
  seedFakeFrom(db, fake);
  stripe::StripeClient client(fakeConfig(fake));
  sync::ReconcileOptions options;
  options.kinds = {sync::ObjectKind::Customer, sync::ObjectKind::Product, sync::ObjectKind::Subscription};

  auto clean = sync::Reconciler(db, client).run(options);
  for (const auto& r : clean) CHECK(r.drift() == 0);

  // Drift: a changed row, a missing one, one deleted in Stripe.
  db.exec("UPDATE customers SET raw = jsonb_set(raw, '{name}', '\"Tampered\"') WHERE id = 'cus_wiBCVtOp32cN8d'");
  db.exec("DELETE FROM products WHERE id = 'prod_eCIjrVCHI4eggv'");
  fake.remove("customer", "cus_spONFA2nyJ9m7J");
  auto found = sync::Reconciler(db, client).run(options);
  CHECK(found[0].different == 1);
  CHECK(found[0].deleted_in_stripe == 1);
  CHECK(found[1].missing_locally == 1);
  CHECK(found[2].drift() == 0);

  options.repair = true;
  auto repaired = sync::Reconciler(db, client).run(options);
  CHECK(repaired[0].repaired == 2);
  CHECK(repaired[1].repaired == 1);
  options.repair = false;
  for (const auto& r : sync::Reconciler(db, client).run(options)) CHECK(r.drift() == 0);
  CHECK(scalar(db, "SELECT deleted FROM customers WHERE id = 'cus_spONFA2nyJ9m7J'") == "t");

  // Sampling checks that many stored objects one by one.
  options.sample = 2;
  auto sampled = sync::Reconciler(db, client).run(options);
  CHECK(sampled[0].checked == 1);  // one customer left alive
  CHECK(sampled[2].checked == 2);
}

TEST_CASE("processed event ids are kept for the retention period, then removed", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  testing::applyPayloads(db, payloadsOf(orderedSamples()));
  db.exec("UPDATE processed_events SET processed_at = now() - interval '50 days' WHERE type LIKE 'invoice.%'");
  auto old = std::stoll(scalar(db, "SELECT count(*) FROM processed_events WHERE type LIKE 'invoice.%'"));
  auto all = std::stoll(scalar(db, "SELECT count(*) FROM processed_events"));
  CHECK(sync::pruneProcessedEvents(db, 45, 3) == old);  // several chunks
  CHECK(std::stoll(scalar(db, "SELECT count(*) FROM processed_events")) == all - old);
  CHECK(sync::pruneProcessedEvents(db, 45) == 0);
}

// Stripe stamps Date when its answer leaves, after it read the object: a fetched row is older than its version.
// (The event's `created` and the response's Date are both whole seconds: https://docs.stripe.com/api/events/object.)
TEST_CASE("an event one second older than a fetched row's Date still lands", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  auto subscription = subscriptionFixture();
  const std::string id = subscription["id"];
  const std::int64_t date = static_cast<std::int64_t>(std::time(nullptr)) - 30;
  // A fetch read the subscription while still active, and its answer left a few seconds later...
  auto before = subscription;
  before["status"] = "active";
  sync::Snapshot fetched{sync::ObjectKind::Subscription, id, date, "", false, before.dump(), date - 4};
  sync::SnapshotWriter(db).writeInTransaction({fetched});
  // ...meanwhile the subscription went past_due, one second before that Date.
  auto after = subscription;
  after["status"] = "past_due";
  auto outcomes = testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", date - 1, after)});
  CHECK(outcomes[0] == EventOutcome::RefetchQueued);
  CHECK(scalar(db, "SELECT reason FROM refetch_queue WHERE object_id = $1", {id}) == "fetched_before_event");
  testing::FakeStripe fake;
  fake.put(after);
  stripe::StripeClient client(fakeConfig(fake));
  CHECK(sync::Refetcher(db, client).runDue(10).fetched == 1);
  CHECK(scalar(db, "SELECT status FROM subscriptions WHERE id = $1", {id}) == "past_due");
  CHECK(scalar(db, "SELECT count(*) FROM refetch_queue") == "0");

  // Well past the read window, an older event is plainly stale (no fetch for it).
  pg::Connection db2(testing::freshSyncDatabase());
  sync::SnapshotWriter(db2).writeInTransaction({fetched});
  auto old = testing::applyPayloads(db2, {testing::makeEvent("customer.subscription.updated",
                                                              date - sync::kFetchedSnapshotDoubtSeconds - 1, after)});
  CHECK(old[0] == EventOutcome::Stale);
  CHECK(scalar(db2, "SELECT count(*) FROM refetch_queue") == "0");
}

TEST_CASE("a fetched snapshot read while an event happened is written and confirmed", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  auto subscription = subscriptionFixture();
  const std::string id = subscription["id"];
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr)) - 30;
  testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", now, subscription)});
  // The request left at now - 1, the answer at now + 2: Stripe may have read it before the event's change.
  auto fetched = subscription;
  fetched["metadata"] = {{"read", "maybe before"}};
  sync::SnapshotWriter(db).writeInTransaction(
      {{sync::ObjectKind::Subscription, id, now + 2, "", false, fetched.dump(), now - 1}});
  CHECK(scalar(db, "SELECT reason || ' ' || doubt_version FROM refetch_queue WHERE object_id = $1", {id}) ==
        "read_during_change " + std::to_string(now));
  // A request that left after the event leaves no doubt.
  pg::Connection db2(testing::freshSyncDatabase());
  testing::applyPayloads(db2, {testing::makeEvent("customer.subscription.updated", now, subscription)});
  sync::SnapshotWriter(db2).writeInTransaction(
      {{sync::ObjectKind::Subscription, id, now + 2, "", false, fetched.dump(), now + 1}});
  CHECK(scalar(db2, "SELECT count(*) FROM refetch_queue") == "0");
}

// "Subsequent requests with the same key return the same result" (https://docs.stripe.com/api/idempotent_requests):
// a replay carries the state saved when the key was first used, up to 24 hours ago, stamped with today's Date.
TEST_CASE("an idempotent replay doesn't roll a row back", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  auto subscription = subscriptionFixture();
  const std::string id = subscription["id"];
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  auto current = subscription;
  current["cancel_at_period_end"] = true;
  testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", now - 60, current)});
  stripe::StripeClient::Response replay{subscription, now, now, true};
  sync::writeAnswers(db, {{sync::ObjectKind::Subscription, &replay}});
  CHECK(scalar(db, "SELECT cancel_at_period_end FROM subscriptions WHERE id = $1", {id}) == "t");
  CHECK(scalar(db, "SELECT reason FROM refetch_queue WHERE object_id = $1", {id}) == "idempotent_replay");
  // A fresh answer is written as usual.
  stripe::StripeClient::Response fresh{subscription, now, now, false};
  sync::writeAnswers(db, {{sync::ObjectKind::Subscription, &fresh}});
  CHECK(scalar(db, "SELECT cancel_at_period_end FROM subscriptions WHERE id = $1", {id}) == "f");
}

// Test mode and live mode are separate: a live key can't see test objects (https://docs.stripe.com/keys#test-live-modes).
TEST_CASE("a test-mode event on a live deployment changes nothing and tombstones nothing", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  auto subscription = subscriptionFixture();
  const std::int64_t t = subscription["created"].get<std::int64_t>();
  auto live = subscription;
  live["livemode"] = true;
  auto live_event = nlohmann::json::parse(testing::makeEvent("customer.subscription.created", t, live));
  live_event["livemode"] = true;
  auto test_cancel = testing::makeEvent("customer.subscription.deleted", t + 5, subscription);  // livemode false
  auto test_old_version = testing::makeEvent("customer.subscription.updated", t + 6, subscription, "", "2024-06-20");
  auto outcomes = testing::applyPayloads(db, {live_event.dump(), test_cancel, test_old_version}, 1, true);
  CHECK(outcomes == std::vector{EventOutcome::Applied, EventOutcome::OtherMode, EventOutcome::OtherMode});
  CHECK(scalar(db, "SELECT deleted || ' ' || livemode FROM subscriptions") == "false true");
  CHECK(scalar(db, "SELECT count(*) FROM refetch_queue") == "0");
  CHECK(scalar(db, "SELECT string_agg(outcome, ',' ORDER BY event_created) FROM processed_events") ==
        "applied,other_mode,other_mode");
}

TEST_CASE("a new doubt about an object whose fetch is in flight is due at once", "[integration][postgres][sync]") {
  pg::Connection db(testing::freshSyncDatabase());
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  // A worker leased the entry (its fetch in flight): due again only in 120 s.
  db.exec("INSERT INTO refetch_queue (object_type, object_id, reason, doubt_version, not_before) VALUES "
          "('customer', 'cus_x', 'same_second', " + std::to_string(now - 100) + ", now() + interval '120 seconds')");
  sync::SnapshotWriter(db).queueRefetch({{sync::ObjectKind::Customer, "cus_x", "same_second", now - 50}});
  CHECK(scalar(db, "SELECT not_before <= now() FROM refetch_queue") == "t");
  // The same doubt again (no newer information) keeps the lease.
  db.exec("UPDATE refetch_queue SET not_before = now() + interval '120 seconds'");
  sync::SnapshotWriter(db).queueRefetch({{sync::ObjectKind::Customer, "cus_x", "same_second", now - 50}});
  CHECK(scalar(db, "SELECT not_before > now() FROM refetch_queue") == "t");
  auto backlog = sync::refetchBacklog(db);
  CHECK(backlog.queued == 1);
  CHECK(backlog.due == 0);
}

// Stripe allows about 25 requests/s in test mode (https://docs.stripe.com/rate-limits): the pool's fetches stay within
// the budget given, run concurrently, and a 429 pauses all of them.
TEST_CASE("the refetch pool fetches the backlog concurrently within its read budget", "[integration][postgres][sync]") {
  auto url = testing::freshSyncDatabase();
  pg::Connection db(url);
  testing::FakeStripe fake;
  for (int i = 0; i < 30; ++i) {
    auto id = "cus_pool" + std::to_string(i);
    fake.put({{"id", id}, {"object", "customer"}, {"created", 1780000000}, {"livemode", false}, {"metadata", nlohmann::json::object()}});
    db.exec("INSERT INTO refetch_queue (object_type, object_id, reason, doubt_version, not_before) VALUES "
            "('customer', '" + id + "', 'test', 1780000000, now())");
  }
  fake.failNext(2, 429);
  stripe::StripeClient client(fakeConfig(fake));
  workers::RefetchPool pool(url, client, 4, 10);
  auto started = std::chrono::steady_clock::now();
  pool.start();
  for (int i = 0; i < 200 && scalar(db, "SELECT count(*) FROM customers") != "30"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  pool.stop();
  CHECK(scalar(db, "SELECT count(*) FROM customers") == "30");
  CHECK(scalar(db, "SELECT count(*) FROM refetch_queue") == "0");
  // 10 at once, then 10/s for the other 20 (plus the two refused), and 2 s of pause after the 429s.
  CHECK(seconds >= 2.0);
  CHECK(fake.count("/v1/customers/") == 32);
  auto backlog = sync::refetchBacklog(db);
  CHECK(backlog.queued == 0);
}

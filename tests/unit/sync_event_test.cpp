// Parsing events for the workers, routing by type, and what makes an event poison: no services needed.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "common/utc_time.h"
#include "sync/event_applier.h"
#include "sync/event_routes.h"
#include "sync/stripe_event.h"
#include "tests/support/fixtures.h"
#include "workers/worker_config.h"

using namespace billing;

TEST_CASE("every sample event parses with its envelope and a compact data.object", "[sync]") {
  int snapshot = 0, thin = 0;
  for (const auto& f : testing::sampleEvents()) {
    INFO(f.name);
    auto parsed = sync::parseStripeEvent(f.body);
    REQUIRE(parsed.ok);
    auto dom = nlohmann::json::parse(f.body);
    const auto& e = parsed.event;
    CHECK(e.id == dom["id"]);
    CHECK(e.type == dom["type"]);
    if (e.thin) {
      ++thin;
      CHECK(e.object_json.empty());
      CHECK(e.created == *common::parseIso8601Utc(dom["created"].get<std::string>()));
      CHECK(e.object_type == dom["related_object"]["type"]);
      continue;
    }
    ++snapshot;
    CHECK(e.created == dom["created"]);
    CHECK(e.api_version == "2026-07-29.dahlia");
    CHECK(e.object_type == dom["data"]["object"]["object"]);
    CHECK(nlohmann::json::parse(e.object_json) == dom["data"]["object"]);  // same content, minified
    CHECK(e.object_json.find('\n') == std::string::npos);
    CHECK_FALSE(sync::poisonReason(e));
  }
  CHECK(snapshot == 44);
  CHECK(thin == 2);
}

TEST_CASE("payloads that are not events are refused with a reason", "[sync]") {
  CHECK(sync::parseStripeEvent("not json").error.find("not valid JSON") == 0);
  CHECK(sync::parseStripeEvent("[1,2]").error == "not a JSON object");
  CHECK(sync::parseStripeEvent(R"({"id":"evt_1","object":"event","type":"customer.created","created":5})").error ==
        "missing data.object");
  CHECK(sync::parseStripeEvent(R"({"id":"evt_1","object":"event","type":"customer.created","data":{"object":{}}})").error ==
        "missing or invalid \"created\"");
  CHECK(sync::parseStripeEvent(R"({"object":"event"})").error == "missing event id");
  CHECK(sync::parseStripeEvent(R"({"id":"evt_1","type":"x","object":"charge"})").error.find("neither") != std::string::npos);
  // Trailing garbage after the document is not an event either.
  CHECK_FALSE(sync::parseStripeEvent(R"({"id":"evt_1"} x)").ok);
}

TEST_CASE("routes cover the objects we keep, the rest is recorded and skipped", "[sync]") {
  auto route = sync::routeFor("customer.subscription.deleted");
  REQUIRE(route);
  CHECK(route->kind == sync::ObjectKind::Subscription);
  CHECK(route->action == sync::EventAction::Upsert);  // a canceled subscription stays readable
  CHECK(sync::routeFor("customer.deleted")->action == sync::EventAction::Delete);
  CHECK(sync::routeFor("invoice.deleted")->action == sync::EventAction::Delete);
  CHECK_FALSE(sync::routeFor("invoice.upcoming"));
  CHECK_FALSE(sync::routeFor("checkout.session.completed"));
  CHECK_FALSE(sync::routeFor("customer.discount.created"));
  auto types = sync::handledEventTypes();
  CHECK(std::is_sorted(types.begin(), types.end()));
  CHECK(types.size() == 42);
}

TEST_CASE("an event whose object doesn't match its type is poison", "[sync]") {
  auto parsed = sync::parseStripeEvent(
      R"({"id":"evt_1","object":"event","type":"customer.updated","created":5,"data":{"object":{"id":"prod_1","object":"product"}}})");
  REQUIRE(parsed.ok);
  CHECK(sync::poisonReason(parsed.event) == "event type customer.updated carries a product object, expected customer");
  auto no_id = sync::parseStripeEvent(
      R"({"id":"evt_2","object":"event","type":"customer.updated","created":5,"data":{"object":{"object":"customer"}}})");
  CHECK(sync::poisonReason(no_id.event).value_or("").find("without an id") != std::string::npos);
  // Unknown types are not poison: they are recorded and skipped.
  auto unknown = sync::parseStripeEvent(
      R"({"id":"evt_3","object":"event","type":"radar.early_fraud_warning.created","created":5,"data":{"object":{"id":"issfr_1","object":"radar.early_fraud_warning"}}})");
  CHECK_FALSE(sync::poisonReason(unknown.event));
}

TEST_CASE("JSON string escaping for the set-based statements", "[sync]") {
  std::string out;
  sync::appendJsonString(out, "a\"b\\c\n\x01");
  CHECK(out == R"("a\"b\\c\n\u0001")");
  CHECK(nlohmann::json::parse(out) == "a\"b\\c\n\x01");
}

TEST_CASE("HTTP dates and ISO-8601 times", "[sync]") {
  CHECK(common::parseHttpDate("Wed, 25 Nov 2026 11:45:36 GMT") == 1795607136);
  CHECK_FALSE(common::parseHttpDate("Wed, 25 Nov 2026 11:45:36 UTC"));
  CHECK_FALSE(common::parseHttpDate("Wed, 25 Foo 2026 11:45:36 GMT"));
  CHECK(common::formatIso8601Utc(1795607136) == "2026-11-25T11:45:36Z");
}

TEST_CASE("worker configuration: required settings and every problem at once", "[config]") {
  using billing::common::Environment;
  auto missing = workers::loadWorkerConfig(Environment(std::map<std::string, std::string, std::less<>>{}));
  CHECK(missing.errors.size() >= 2);  // database URL and brokers
  auto loaded = workers::loadWorkerConfig(Environment({{"BILLING_DATABASE_URL", "postgresql://x@127.0.0.1/db"},
                                                       {"BILLING_KAFKA_BROKERS", "127.0.0.1:9092"}}));
  REQUIRE(loaded.errors.empty());
  CHECK(loaded.config.dlq_topic == "stripe.events.dlq");
  CHECK(loaded.config.batch_max == 500);
  CHECK_FALSE(loaded.config.stripe_enabled);
  auto bad = workers::loadWorkerConfig(Environment({{"BILLING_DATABASE_URL", "postgresql://x@127.0.0.1/db"},
                                                    {"BILLING_KAFKA_BROKERS", "127.0.0.1:9092"},
                                                    {"BILLING_KAFKA_DLQ_TOPIC", "stripe.events"},
                                                    {"BILLING_WORKER_BATCH_MAX", "0"},
                                                    {"BILLING_STRIPE_API_KEY", "pk_live_oops"}}));
  CHECK(bad.errors.size() == 3);
}

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/fixtures.h"
#include "common/utc_time.h"
#include "webhook/envelope.h"

using namespace billing::webhook;

TEST_CASE("envelope of every sample event equals a full DOM parse", "[envelope]") {
  auto events = billing::testing::sampleEvents();
  REQUIRE(events.size() >= 40);
  for (const auto& event : events) {
    INFO(event.name);
    auto result = extractEnvelope(event.body);
    REQUIRE(result.error == EnvelopeError::None);
    const auto& e = result.envelope;
    auto dom = nlohmann::json::parse(event.body);
    CHECK(e.id == dom["id"]);
    CHECK(e.type == dom["type"]);
    CHECK(e.object == dom["object"]);
    CHECK(e.livemode == dom["livemode"]);
    if (e.thin()) {
      CHECK(e.object_id == dom["related_object"]["id"]);
      CHECK(e.object_type == dom["related_object"]["type"]);
      CHECK(e.api_version.empty());
      CHECK(e.created > 1700000000);
    } else {
      const auto& object = dom["data"]["object"];
      CHECK(e.api_version == dom["api_version"]);
      CHECK(e.created == dom["created"].get<std::int64_t>());
      CHECK(e.object_id == object["id"]);
      CHECK(e.object_type == object["object"]);
      if (object["object"] == "customer") {
        CHECK(e.customer == object["id"]);
      } else if (object.contains("customer") && object["customer"].is_string()) {
        CHECK(e.customer == object["customer"]);
      } else {
        CHECK(e.customer.empty());
      }
    }
    CHECK(kafkaKey(e) == e.object_id);
  }
}

TEST_CASE("thin event created is parsed from ISO-8601", "[envelope]") {
  auto r = extractEnvelope(
      R"({"id":"evt_test_1","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered","livemode":false,"created":"2026-06-06T00:02:52.653Z","related_object":{"id":"mtr_1","type":"billing.meter","url":"/v1/billing/meters/mtr_1"}})");
  REQUIRE(r.error == EnvelopeError::None);
  CHECK(r.envelope.created == 1780704172);
  CHECK(r.envelope.object_id == "mtr_1");
  CHECK(billing::common::parseIso8601Utc("2026-06-06T00:02:52Z") == 1780704172);
  CHECK_FALSE(billing::common::parseIso8601Utc("2026-06-06 00:02:52Z"));
  CHECK_FALSE(billing::common::parseIso8601Utc("2026-13-06T00:02:52Z"));
  CHECK_FALSE(billing::common::parseIso8601Utc("2026-06-06T00:02:52.65xZ"));
}

TEST_CASE("nested decoys do not override envelope fields", "[envelope]") {
  // An "id" inside data.object's lists or previous_attributes must not be taken for the object id.
  auto r = extractEnvelope(R"({"id":"evt_1","object":"event","type":"customer.subscription.updated","created":5,
    "livemode":true,"api_version":"2026-07-29.dahlia",
    "data":{"object":{"items":{"data":[{"id":"si_1","customer":"cus_x"}]},"id":"sub_1","object":"subscription",
            "customer":"cus_1","metadata":{"id":"nope","customer":"nope"}},
            "previous_attributes":{"id":"old","customer":"old"}},
    "request":{"id":"req_1"}})");
  REQUIRE(r.error == EnvelopeError::None);
  CHECK(r.envelope.object_id == "sub_1");
  CHECK(r.envelope.customer == "cus_1");
  CHECK(r.envelope.id == "evt_1");
  CHECK(r.envelope.livemode);
  CHECK(r.envelope.created == 5);
}

TEST_CASE("event without an object falls back to the event id as key", "[envelope]") {
  auto r = extractEnvelope(R"({"id":"evt_9","object":"event","type":"ping","created":1,"data":{}})");
  REQUIRE(r.error == EnvelopeError::None);
  CHECK(kafkaKey(r.envelope) == "evt_9");
}

TEST_CASE("envelope rejects what is not a Stripe event", "[envelope]") {
  CHECK(extractEnvelope("").error == EnvelopeError::NotJson);
  CHECK(extractEnvelope("{").error == EnvelopeError::NotJson);
  CHECK(extractEnvelope(R"({"id":"evt_1","object":"event","type":"x"} trailing)").error == EnvelopeError::NotJson);
  CHECK(extractEnvelope(R"({"id":"evt_1","object":"event","type":"x"}{})").error == EnvelopeError::NotJson);
  CHECK(extractEnvelope("\xff\xfe").error == EnvelopeError::NotJson);
  CHECK(extractEnvelope(R"({"id":"evt_1","object":"event","type":"\xff"})").error == EnvelopeError::NotJson);
  CHECK(extractEnvelope("[1,2]").error == EnvelopeError::NotAnEvent);
  CHECK(extractEnvelope("42").error == EnvelopeError::NotAnEvent);
  CHECK(extractEnvelope(R"({"hello":"world"})").error == EnvelopeError::NotAnEvent);
  CHECK(extractEnvelope(R"({"object":"event","type":"x"})").error == EnvelopeError::NotAnEvent);
  CHECK(extractEnvelope(R"({"id":"evt_1","object":"event"})").error == EnvelopeError::NotAnEvent);
  CHECK(extractEnvelope(R"({"id":"evt_1","object":"customer","type":"x"})").error == EnvelopeError::NotAnEvent);
  CHECK(extractEnvelope(R"({"id":"evt_1","object":"v2.core.event","type":"x","created":"yesterday"})").error ==
        EnvelopeError::NotAnEvent);
  auto r = extractEnvelope("{\"id\": 1,");
  CHECK(r.detail.find("not valid JSON") != std::string::npos);
}

// Found by fuzz/event_fuzz.cpp: with "type" twice the receiver kept the last value and the worker's DOM the first,
// so the two read different events from one body (fuzz/regressions/event/).
TEST_CASE("a member the envelope reads may not appear twice", "[envelope]") {
  const std::string event = R"("object":"event","created":1,"livemode":false)";
  auto twice = [&](const std::string& body) {
    auto r = extractEnvelope(body);
    return r.error == EnvelopeError::NotAnEvent && r.detail.find("appears twice") != std::string::npos;
  };
  CHECK(twice(R"({"id":"evt_1","type":"a",)" + event + R"(,"type":"b"})"));
  CHECK(twice(R"({"id":"evt_1","id":"evt_2","type":"a",)" + event + "}"));
  CHECK(twice(R"({"id":"evt_1","type":"a",)" + event + R"(,"data":{"object":{"id":"cus_1"}},"data":{}})"));
  CHECK(twice(R"({"id":"evt_1","type":"a",)" + event + R"(,"data":{"object":{"id":"cus_1"},"object":{"id":"cus_2"}}})"));
  CHECK(twice(R"({"id":"evt_1","type":"a",)" + event + R"(,"data":{"object":{"id":"cus_1","id":"cus_2"}}})"));
  // Names the envelope doesn't read may repeat (the worker ignores them too), nested objects are not its concern.
  CHECK(extractEnvelope(R"({"id":"evt_1","type":"a",)" + event +
                        R"(,"request":{},"request":{},"data":{"object":{"id":"cus_1","metadata":{"k":1,"k":2}}}})")
            .error == EnvelopeError::None);
}

TEST_CASE("malformed JSON anywhere in the document is refused even where no field is read", "[envelope]") {
  const std::string head = R"({"id":"evt_1","object":"event","type":"x","created":1,)";
  for (const std::string& tail : {
           std::string(R"("data":{"object":{"items":[1,2,tru]}}})"),
           std::string(R"("extra":01})"),
           std::string(R"("extra":"bad \q escape"})"),
           std::string(R"("extra":[1,2,]})"),
           std::string(R"("extra":{"a":1,}})"),
           std::string(R"("extra":1.})"),
           std::string(R"("extra":nul})"),
           std::string(R"("extra":"unterminated})"),
           std::string(R"("data":{"object":{"id":"sub_1","metadata":{"k":-}}}})"),
           std::string(R"("extra":{"a" 1}})"),
           std::string(R"("extra":1})") + "]",
       }) {
    INFO(tail);
    CHECK(extractEnvelope(head + tail).error == EnvelopeError::NotJson);
  }
  // Whitespace around the document is fine.
  CHECK(extractEnvelope(" \n" + head + R"("data":{}} )" + "\n").error == EnvelopeError::None);
  // Absurd nesting is refused, not a crash.
  CHECK(extractEnvelope(head + "\"x\":" + std::string(5000, '[') + std::string(5000, ']') + "}").error ==
        EnvelopeError::NotJson);
}

TEST_CASE("unexpected types in envelope fields are tolerated or refused, never crash", "[envelope]") {
  // An expanded customer object instead of an id: valid JSON, customer stays empty.
  auto r = extractEnvelope(R"({"id":"evt_1","object":"event","type":"x","created":"soon","livemode":"yes",
    "data":{"object":{"id":"in_1","object":"invoice","customer":{"id":"cus_1","object":"customer"}}}})");
  REQUIRE(r.error == EnvelopeError::None);
  CHECK(r.envelope.customer.empty());
  CHECK(r.envelope.object_id == "in_1");
  CHECK_FALSE(r.envelope.livemode);
  CHECK(extractEnvelope(R"({"id":5,"object":"event","type":"x"})").error == EnvelopeError::NotAnEvent);
  CHECK(extractEnvelope(R"({"id":"evt_\u0031","object":"event","type":"x"})").envelope.id == "evt_1");
}

TEST_CASE("large events parse like small ones", "[envelope]") {
  // Above the per-thread reuse limit the extractor uses a parser of its own; the answer must not change.
  std::string filler(200 * 1024, 'x');
  auto body = R"({"id":"evt_big","object":"event","type":"invoice.updated","created":7,"data":{"object":{"id":"in_1","object":"invoice","customer":"cus_1","description":")" +
              filler + R"("}}})";
  auto r = extractEnvelope(body);
  REQUIRE(r.error == EnvelopeError::None);
  CHECK(r.envelope.object_id == "in_1");
  CHECK(r.envelope.customer == "cus_1");
  CHECK(extractEnvelope(body + "x").error == EnvelopeError::NotJson);
  // And small ones still work after a large one on the same thread.
  CHECK(extractEnvelope(R"({"id":"evt_1","object":"event","type":"x"})").error == EnvelopeError::None);
}

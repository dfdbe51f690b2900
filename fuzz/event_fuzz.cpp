// A webhook body as the receiver and then the worker read it: the receiver's envelope (simdjson On-Demand) and the
// worker's event parser (simdjson DOM) and router never crash; what both accept they read alike (id, type, created,
// livemode, object id), so Kafka's key and the row the worker writes name the same object; and the object the
// worker would store is JSON PostgreSQL can take (it goes into a jsonb column).
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.h"
#include "sync/event_routes.h"
#include "sync/stripe_event.h"
#include "webhook/envelope.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto envelope = billing::webhook::extractEnvelope(body);
  if (envelope.error == billing::webhook::EnvelopeError::None) billing::webhook::kafkaKey(envelope.envelope);

  auto parsed = billing::sync::parseStripeEvent(body);
  if (!parsed.ok) return 0;
  const auto& event = parsed.event;
  billing::sync::routeFor(event.type);
  if (!event.thin) {
    FUZZ_CHECK(nlohmann::json::accept(event.object_json), "the stored object is valid JSON");
    auto object = nlohmann::json::parse(event.object_json);
    FUZZ_CHECK(object.is_object(), "the stored object is an object");
  }
  if (envelope.error == billing::webhook::EnvelopeError::None) {
    const auto& e = envelope.envelope;
    FUZZ_CHECK(e.id == event.id, "receiver and worker read the same event id");
    FUZZ_CHECK(e.type == event.type, "receiver and worker read the same type");
    FUZZ_CHECK(e.created == event.created, "receiver and worker read the same created");
    FUZZ_CHECK(e.livemode == event.livemode, "receiver and worker read the same livemode");
    FUZZ_CHECK(e.object_id == event.object_id, "receiver and worker read the same object id");
  }
  return 0;
}

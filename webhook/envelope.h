#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace billing::webhook {

/// What routing needs from a Stripe event, read without building a DOM. Snapshot events
/// ("object": "event") carry data.object; thin events ("object": "v2.core.event") carry related_object.
struct Envelope {
  std::string id;
  std::string type;
  std::string object;       // "event" or "v2.core.event"
  std::string api_version;  // empty for thin events
  std::int64_t created = 0; // unix seconds (thin events: parsed from the ISO-8601 string)
  bool livemode = false;
  std::string object_type;  // data.object.object, or related_object.type
  std::string object_id;    // data.object.id, or related_object.id
  std::string customer;     // data.object.customer (a customer's own id for customer events); may be empty

  bool thin() const { return object == "v2.core.event"; }
};

enum class EnvelopeError { None, NotJson, NotAnEvent };

struct EnvelopeResult {
  EnvelopeError error = EnvelopeError::None;
  std::string detail;  // what was wrong, safe to return to the caller (no payload content)
  Envelope envelope;
};

/// Validates that `body` is one complete JSON document and pulls the envelope fields with a SAX pass.
EnvelopeResult extractEnvelope(std::string_view body);

/// The Kafka key: the object id, so every event about one object lands on one partition in arrival order;
/// the event id when an event has no object (then ordering doesn't matter).
std::string_view kafkaKey(const Envelope& envelope);

}  // namespace billing::webhook

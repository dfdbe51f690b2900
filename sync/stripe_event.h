#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace billing::sync {

/// What the workers need from one Stripe event: the envelope, and data.object as compact JSON.
struct StripeEvent {
  std::string id;
  std::string type;
  std::string api_version;   // empty for thin (v2) events
  std::int64_t created = 0;  // unix seconds, Stripe's clock
  bool livemode = false;
  bool thin = false;         // "object": "v2.core.event": no data.object, fetch it if needed
  std::string object_type;   // data.object.object (thin: related_object.type)
  std::string object_id;     // data.object.id (thin: related_object.id)
  bool object_deleted = false;  // data.object is a `deleted: true` stub
  std::string object_json;   // data.object, minified; empty for thin events
};

struct ParseResult {
  bool ok = false;
  std::string error;  // why the payload is not a usable event (no payload content in it)
  StripeEvent event;
};

/// Parses and validates one event payload (the exact bytes Stripe signed). Never throws.
ParseResult parseStripeEvent(std::string_view payload);

/// Appends `text` as a JSON string literal (quoted, escaped).
void appendJsonString(std::string& out, std::string_view text);

}  // namespace billing::sync

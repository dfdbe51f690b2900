#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sync/object_kind.h"

namespace billing::sync {

/// What an event type does to our tables.
enum class EventAction {
  Upsert,  // data.object is the object's state at event.created
  Delete,  // the object was deleted: write a tombstone
};

struct EventRoute {
  ObjectKind kind;
  EventAction action;
};

/// The route for a snapshot event type, or nullopt for types the workers record and skip (invoice.upcoming: a
/// preview, not an invoice; checkout sessions, invoice payments, plans: covered by the objects they change).
std::optional<EventRoute> routeFor(std::string_view event_type);

/// Every event type with a route, sorted: what the Stripe webhook endpoint should be subscribed to.
std::vector<std::string> handledEventTypes();

}  // namespace billing::sync

#pragma once
// Stripe histories for the chaos test: what happened at Stripe (every change of every object, in Stripe's order, at
// the pinned API version), and how Stripe delivers the events of it (late, repeated, out of order).
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace billing::chaos {

/// One change at Stripe and the event it emitted: `object` is the whole object right after it, serialized (a
/// million changes fit in memory as text, not as JSON trees).
struct Change {
  std::string event_id;
  std::string type;      // e.g. customer.subscription.updated
  std::int64_t created;  // Stripe's clock, unix seconds; several changes of one object may share a second
  std::string object_id;
  std::string object;    // JSON
  bool deletes = false;  // the object is gone at Stripe afterwards (customer.deleted)
};

struct History {
  std::vector<Change> changes;  // Stripe's order: the order the changes happened in
  std::int64_t ends_at = 0;     // Stripe's clock after the last change
};

/// Customers with payment methods, trials, subscriptions (a plan item, sometimes a metered item), renewals,
/// upgrades, invoices drafted -> finalized -> paid or failed (then paid or voided), bursts of updates within one
/// second, cancellations and customer deletions, interleaved across customers as Stripe's clock advances from t0;
/// about `events` changes. Objects are the sample events' objects (tests/fixtures, 2026-07-29.dahlia) with new ids
/// and states. The same seed gives the same history.
History generateHistory(std::uint64_t seed, std::size_t events, std::int64_t t0);

/// The order events reach the webhook endpoint, as indexes into history.changes: shuffled within a window of
/// `window` events, about `duplicate_percent` % delivered a second time much later (Stripe retries and redelivers
/// minutes later: https://docs.stripe.com/webhooks#event-ordering, #handle-duplicate-events), and for every deleted
/// customer one of its earlier updates arrives only after the deletion.
std::vector<std::size_t> deliveryOrder(const History& history, std::uint64_t seed, std::size_t window,
                                       int duplicate_percent);

/// The event as Stripe sends it (envelope at the pinned API version around the change's object).
std::string eventPayload(const Change& change);

}  // namespace billing::chaos

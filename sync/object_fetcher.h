#pragma once
#include <string>
#include <utility>
#include <vector>

#include "common/postgres.h"

#include "stripe/stripe_client.h"
#include "sync/snapshot_writer.h"

namespace billing::sync {

/// Fetches one object's current state from the Stripe API as a snapshot (version = Stripe's clock at the answer).
/// A deleted object (GET answers `deleted: true`, or 404 for kinds Stripe deletes) becomes a tombstone. Lists cut
/// short inside the object (subscription items, invoice lines) are completed from their list endpoints.
/// Throws StripeError (transient ones are worth retrying later).
Snapshot fetchSnapshot(stripe::StripeClient& stripe, ObjectKind kind, const std::string& id);

/// An object Stripe answered (to a GET or to our own write) as a snapshot versioned by the answer's Date, read at
/// some moment since the request left.
Snapshot snapshotOf(ObjectKind kind, const stripe::StripeClient::Response& response);

/// The earliest moment Stripe may have read what `response` carries (a snapshot's read_from).
std::int64_t earliestRead(const stripe::StripeClient::Response& response);

/// Writes Stripe's answers (to our own writes, or GETs) in one transaction of their own. A replayed answer
/// (`Idempotent-Replayed: true`) is what Stripe saved when the key was first used, up to 24 hours ago: never
/// written as fresh state, the object is queued for a fetch instead. Throws PgError.
void writeAnswers(pg::Connection& db, const std::vector<std::pair<ObjectKind, const stripe::StripeClient::Response*>>& answers);

/// Completes `object`'s embedded list (items or lines) when Stripe cut it short. Throws StripeError.
void completeEmbeddedList(stripe::StripeClient& stripe, ObjectKind kind, nlohmann::json& object);

}  // namespace billing::sync

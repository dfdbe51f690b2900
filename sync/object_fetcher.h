#pragma once
#include <string>

#include "stripe/stripe_client.h"
#include "sync/snapshot_writer.h"

namespace billing::sync {

/// Fetches one object's current state from the Stripe API as a snapshot (version = Stripe's clock at the answer).
/// A deleted object (GET answers `deleted: true`, or 404 for kinds Stripe deletes) becomes a tombstone. Lists cut
/// short inside the object (subscription items, invoice lines) are completed from their list endpoints.
/// Throws StripeError (transient ones are worth retrying later).
Snapshot fetchSnapshot(stripe::StripeClient& stripe, ObjectKind kind, const std::string& id);

/// An object Stripe answered (to a GET or to our own write) as a snapshot versioned by the answer's Date.
Snapshot snapshotOf(ObjectKind kind, const stripe::StripeClient::Response& response);

/// Completes `object`'s embedded list (items or lines) when Stripe cut it short. Throws StripeError.
void completeEmbeddedList(stripe::StripeClient& stripe, ObjectKind kind, nlohmann::json& object);

}  // namespace billing::sync

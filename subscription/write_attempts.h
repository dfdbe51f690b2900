#pragma once
#include <string>

#include "common/postgres.h"
#include "stripe/stripe_error.h"

namespace billing::subscription {

/// The Stripe Idempotency-Key of each attempt of a write the caller names with its own key (a product backend's or
/// the billing page's Idempotency-Key). Stripe replays a saved answer, errors included, for 24 hours
/// (https://docs.stripe.com/api/idempotent_requests): without this, a retry after Stripe's 500 would get that 500
/// again all day. Table stripe_write_attempts (migration 0014).
class WriteAttempts {
 public:
  explicit WriteAttempts(pg::Connection& db) : db_(db) {}

  struct Attempt {
    std::string key;  // Stripe's Idempotency-Key for this attempt
    int ended = 0;    // earlier attempts Stripe answered with a definite error (a 5xx's outcome is unknown: re-read first)
  };

  /// `base`: the operation and a digest of the caller's key (e.g. "change:<account>:<sha256>").
  Attempt current(const std::string& base);

  /// Stripe answered the attempt: a definite error ends it (the next one gets a new key). Network failures, 409
  /// (a request with that key still executing) and 429 (refused before executing, nothing saved) don't.
  void record(const std::string& base, const stripe::StripeError& error);

  /// Ends the current attempt whatever Stripe answered: its effect was undone (a schedule made for a downgrade
  /// whose update failed, then released), so a replay of its saved answer would hand back the undone object.
  void end(const std::string& base, int status);

  static bool endsAttempt(const stripe::StripeError& error);

 private:
  pg::Connection& db_;
};

}  // namespace billing::subscription

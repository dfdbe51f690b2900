#include "subscription/write_attempts.h"

namespace billing::subscription {

WriteAttempts::Attempt WriteAttempts::current(const std::string& base) {
  auto rows = db_.query("SELECT ended FROM stripe_write_attempts WHERE base_key = $1", {base});
  Attempt a;
  a.ended = rows.empty() ? 0 : std::stoi(*rows[0].at(0));
  a.key = a.ended == 0 ? base : base + ":attempt-" + std::to_string(a.ended + 1);
  return a;
}

bool WriteAttempts::endsAttempt(const stripe::StripeError& error) {
  const int status = error.status();
  return status >= 400 && status != 409 && status != 429;
}

void WriteAttempts::record(const std::string& base, const stripe::StripeError& error) {
  if (endsAttempt(error)) end(base, error.status());
}

void WriteAttempts::end(const std::string& base, int status) {
  db_.query("INSERT INTO stripe_write_attempts (base_key, ended, last_status) VALUES ($1, 1, $2::int)\n"
            "ON CONFLICT (base_key) DO UPDATE SET ended = stripe_write_attempts.ended + 1,\n"
            "  last_status = excluded.last_status, updated_at = now()",
            {base, std::to_string(status)});
  // Stripe forgets keys after 24 hours; so can we (two days: a margin for clocks).
  db_.query("DELETE FROM stripe_write_attempts WHERE updated_at < now() - interval '2 days'");
}

}  // namespace billing::subscription

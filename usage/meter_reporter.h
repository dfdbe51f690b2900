#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stripe/stripe_client.h"
#include "usage/usage_ledger.h"

namespace billing::usage {

/// The payload keys every meter event carries: the meter must map customers and values by these
/// (`customer_mapping.event_payload_key`, `value_settings.event_payload_key`; usage/meter_check.h checks it).
inline constexpr const char* kCustomerPayloadKey = "stripe_customer_id";
inline constexpr const char* kValuePayloadKey = "value";

/// What became of one aggregate sent to Stripe.
struct SendOutcome {
  bool reported = false;
  bool retryable = false;  // network, 409, 429, 5xx: try again later under the same identifier
  std::string error;
  bool duplicate = false;  // reported: Stripe already holds this identifier (an earlier attempt reached it)
};

/// Sends sealed aggregates to Stripe Billing Meters, each under its stable identifier (Stripe dedupes identifiers
/// for 24 hours, and the v1 Idempotency-Key is the identifier too, so a resend after a crash or a lost answer never
/// counts twice). Small rounds go to `POST /v1/billing/meter_events`, one request per aggregate; from
/// `stream_threshold` aggregates on, the v2 meter event stream takes 100 per request (a session token from
/// `POST /v2/billing/meter_event_session`, renewed before it expires). Called from one thread.
class MeterReporter {
 public:
  /// `stream_base_url`: where the v2 stream lives (https://meter-events.stripe.com for Stripe itself).
  MeterReporter(stripe::StripeClient& stripe, stripe::StripeClientConfig stream_config, std::size_t stream_threshold);
  ~MeterReporter();

  /// One outcome per aggregate, in order. `via` is "v1" or "v2".
  std::vector<SendOutcome> send(const std::vector<DueAggregate>& aggregates, std::int64_t now, std::string& via);

  static constexpr std::size_t kStreamBatch = 100;  // Stripe's limit per stream request

  /// Stripe's answer for an identifier it already holds: the event was counted by an earlier attempt.
  static bool alreadyRecorded(const stripe::StripeError& e);

 private:
  std::vector<SendOutcome> sendV1(const std::vector<DueAggregate>& aggregates);
  std::vector<SendOutcome> sendV2(const std::vector<DueAggregate>& aggregates, std::int64_t now);
  stripe::StripeClient& streamClient(std::int64_t now);

  stripe::StripeClient& stripe_;
  stripe::StripeClientConfig stream_config_;
  std::size_t stream_threshold_;
  std::unique_ptr<stripe::StripeClient> stream_;
  std::int64_t stream_expires_at_ = 0;
};

}  // namespace billing::usage

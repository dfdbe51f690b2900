#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace billing::usage {

/// One usage event as accepted by `POST /v1/usage` and carried by the usage topic.
struct UsageEvent {
  std::string identifier;   // unique per event: the client's, or derived from the request's Idempotency-Key
  std::string account_id;   // the product's account
  std::string customer_id;  // its Stripe customer, resolved at ingest
  std::string meter;        // the meter's event_name
  std::int64_t value = 0;   // whole units, >= 0
  std::int64_t timestamp = 0;  // unix seconds (UTC) when the usage happened
  /// When the API accepted it (unix seconds, carried in the message): with the partition, what decides which
  /// aggregate it joins, so re-recording the topic after a database restore rebuilds the same aggregates.
  std::int64_t received_at = 0;
  /// The billing period boundary its window is cut at (the API's, at ingest): 0 none, -1 not stamped (a message
  /// from before this field: the reporter looks the periods up).
  std::int64_t period_cut = 0;
  std::int32_t partition = -1;  // the usage topic partition it came from (set by the reporter)
};

/// The Kafka message for one account's accepted events of a request: `{"v":1,"received_at":T,"events":[...]}`.
std::string encodeUsageBatch(const std::vector<UsageEvent>& events, std::int64_t received_at);

/// Parses a usage topic message; nullopt (and `error`) when it isn't one (it goes to the dead letters). A message
/// without `received_at` (written before it existed) takes `fallback_received_at` (the Kafka message timestamp).
std::optional<std::vector<UsageEvent>> decodeUsageBatch(const std::string& payload, std::int64_t fallback_received_at,
                                                        std::string& error);

}  // namespace billing::usage

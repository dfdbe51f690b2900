#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/kafka_producer.h"
#include "stripe/stripe_client.h"

namespace billing::workers {

struct ReplayOptions {
  std::int64_t since = 0;              // unix seconds (Stripe keeps events 30 days)
  std::optional<std::int64_t> until;   // inclusive
  std::vector<std::string> types;      // event types to ask for (default: every type the workers handle)
  std::string topic = "stripe.events";
};

struct ReplayResult {
  std::int64_t pages = 0;
  std::int64_t produced = 0;
};

/// Sends events from Stripe's Events API to the events topic, exactly as the webhook receiver would (same key and
/// headers), so missed events take the one path every event takes; those already applied are duplicates there.
/// Throws StripeError, or std::runtime_error when Kafka doesn't acknowledge an event.
ReplayResult replayEvents(stripe::StripeClient& stripe, kafka::DurableProducer& producer, const ReplayOptions& options,
                          const std::function<void(const ReplayResult&)>& on_page = {});

}  // namespace billing::workers

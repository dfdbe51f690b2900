#pragma once
#include <chrono>
#include <optional>
#include <string>

namespace billing::stripe {

struct RetrySettings {
  int max_retries = 3;  // attempts = 1 + max_retries
  std::chrono::milliseconds initial_delay{500};
  std::chrono::milliseconds max_delay{8000};
};

/// Whether to send the same request (same Idempotency-Key) again, following Stripe's SDKs: Stripe-Should-Retry
/// decides when present; otherwise network errors (status 0), 409 (idempotency lock), 429 and 5xx are retried.
bool shouldRetry(int status, const std::optional<std::string>& should_retry_header, int retries_done,
                 const RetrySettings& settings);

/// Delay before retry number `retries_done + 1`: exponential from initial_delay, capped at max_delay, with "equal
/// jitter" (half fixed, half random; `jitter01` in [0, 1)). A Retry-After from Stripe is honoured up to max_delay.
std::chrono::milliseconds retryDelay(int retries_done, const RetrySettings& settings,
                                     std::optional<int> retry_after_seconds, double jitter01);

}  // namespace billing::stripe

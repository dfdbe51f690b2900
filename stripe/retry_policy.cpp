#include "stripe/retry_policy.h"

#include <algorithm>

namespace billing::stripe {

bool shouldRetry(int status, const std::optional<std::string>& should_retry_header, int retries_done,
                 const RetrySettings& settings) {
  if (retries_done >= settings.max_retries) return false;
  if (should_retry_header == "false") return false;
  if (should_retry_header == "true") return true;
  return status == 0 || status == 409 || status == 429 || status >= 500;
}

std::chrono::milliseconds retryDelay(int retries_done, const RetrySettings& settings,
                                     std::optional<int> retry_after_seconds, double jitter01) {
  auto capped = [&](std::chrono::milliseconds d) { return std::min(d, settings.max_delay); };
  if (retry_after_seconds && *retry_after_seconds > 0) {
    return capped(std::chrono::milliseconds(static_cast<long long>(*retry_after_seconds) * 1000));
  }
  auto exponential = settings.initial_delay * (1LL << std::min(retries_done, 20));
  auto base = capped(std::chrono::duration_cast<std::chrono::milliseconds>(exponential));
  auto half = base / 2;
  return half + std::chrono::milliseconds(static_cast<long long>(static_cast<double>(half.count()) * jitter01));
}

}  // namespace billing::stripe

#pragma once
#include <atomic>
#include <chrono>
#include <mutex>

namespace billing::workers {

/// A token bucket for Stripe reads shared by every fetching thread of a process: Stripe allows about 100 requests/s
/// in live mode and 25 in test mode per account (https://docs.stripe.com/rate-limits), and the API and other
/// workers read too, so each process takes only its configured share. A 429 pauses every thread at once.
class ReadBudget {
 public:
  /// `per_second` > 0; bursts up to one second's worth.
  explicit ReadBudget(double per_second);

  /// Waits for a read; false when `stop` became true first.
  bool acquire(const std::atomic<bool>& stop);
  /// Gives back a read taken but not spent (nothing was due).
  void refund();
  /// No read for `pause` (Stripe said 429).
  void pauseFor(std::chrono::milliseconds pause);

  double perSecond() const { return per_second_; }

 private:
  using Clock = std::chrono::steady_clock;
  void refill(Clock::time_point now);

  const double per_second_;
  std::mutex mutex_;
  double tokens_;
  Clock::time_point last_;
  Clock::time_point paused_until_{};
};

}  // namespace billing::workers

#pragma once
#include <atomic>
#include <cstdint>

#include "common/metrics.h"
#include "workers/usage_reporter_config.h"

namespace billing::workers {

/// The usage reporter's periodic `billing usage reconcile`: every BILLING_USAGE_DRIFT_CHECK_SECONDS it compares
/// the units reported over the last BILLING_USAGE_DRIFT_LOOKBACK_SECONDS (up to BILLING_USAGE_DRIFT_SETTLE_SECONDS
/// ago: Stripe aggregates asynchronously) with Stripe's meter event summaries and exposes the result as metrics,
/// on its own thread, database connection and Stripe client, so a slow check never holds up reporting.
class UsageDriftCheck {
 public:
  explicit UsageDriftCheck(const UsageReporterConfig& config);
  void run(const std::atomic<bool>& stop);

 private:
  void checkOnce(std::int64_t now);

  const UsageReporterConfig& config_;
  metrics::Gauge& drifting_;
  metrics::Gauge& drift_units_;
  metrics::Gauge& compared_;
  metrics::Gauge& checked_at_;
  metrics::Counter& failures_;
};

}  // namespace billing::workers

#include "workers/usage_drift_check.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "common/json_log.h"
#include "common/postgres.h"
#include "stripe/stripe_client.h"
#include "usage/reconcile.h"

namespace billing::workers {

UsageDriftCheck::UsageDriftCheck(const UsageReporterConfig& config)
    : config_(config),
      drifting_(metrics::defaultRegistry().gauge(
          "billing_usage_drift_customers",
          "Customer and meter pairs whose reported units differ from Stripe's meter event summaries (last check)")),
      drift_units_(metrics::defaultRegistry().gauge(
          "billing_usage_drift_units", "Sum of |Stripe's units - ours| over the pairs compared (last check)")),
      compared_(metrics::defaultRegistry().gauge("billing_usage_drift_compared",
                                                 "Customer and meter pairs compared with Stripe (last check)")),
      checked_at_(metrics::defaultRegistry().gauge("billing_usage_drift_checked_timestamp_seconds",
                                                   "When the last drift check completed (unix seconds)")),
      failures_(metrics::defaultRegistry().counter("billing_usage_drift_check_failures_total",
                                                   "Drift checks that could not complete (Stripe or the database)")) {}

void UsageDriftCheck::run(const std::atomic<bool>& stop) {
  auto next = std::chrono::steady_clock::now() + std::chrono::seconds(std::min<std::int64_t>(config_.drift_check_seconds, 60));
  while (!stop.load()) {
    if (std::chrono::steady_clock::now() >= next) {
      checkOnce(static_cast<std::int64_t>(std::time(nullptr)));
      next = std::chrono::steady_clock::now() + std::chrono::seconds(config_.drift_check_seconds);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void UsageDriftCheck::checkOnce(std::int64_t now) {
  try {
    pg::Connection db(config_.database_url, 5);
    stripe::StripeClient stripe(config_.stripe);
    auto drifts = usage::reconcileUsage(db, stripe, now - config_.drift_lookback_seconds, now - config_.drift_settle_seconds);
    std::int64_t drifting = 0, units = 0;
    for (const auto& d : drifts) {
      if (d.drift() == 0) continue;
      ++drifting;
      units += std::llabs(d.drift());
      log::warn("usage drift: Stripe's meter event summary differs from the units reported",
                {{"customer_id", d.customer_id}, {"meter", d.meter}, {"ours", d.ours}, {"stripe", d.stripe},
                 {"drift", d.drift()}});
    }
    drifting_.set(static_cast<double>(drifting));
    drift_units_.set(static_cast<double>(units));
    compared_.set(static_cast<double>(drifts.size()));
    checked_at_.set(static_cast<double>(now));
  } catch (const std::exception& e) {  // StripeError, PgError, an unknown meter id: tried again next time
    failures_.inc();
    log::warn("usage drift check failed", {{"error", e.what()}});
  }
}

}  // namespace billing::workers

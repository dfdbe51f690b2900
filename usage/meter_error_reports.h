#pragma once
#include <cstddef>
#include <cstdint>

#include "common/postgres.h"
#include "stripe/stripe_client.h"

namespace billing::usage {

/// Completes the thin `v1.billing.meter.error_report_triggered` events the sync worker queued in
/// meter_error_reports: fetches each from the v2 Events API (`GET /v2/core/events/{id}`) and records its sample
/// errors in meter_errors (joined to our aggregates by identifier, so the API shows them per account). A failed
/// fetch is retried with backoff. Returns how many reports were completed.
std::size_t fetchMeterErrorReports(pg::Connection& db, stripe::StripeClient& stripe, std::size_t limit);

}  // namespace billing::usage

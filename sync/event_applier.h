#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/postgres.h"
#include "sync/stripe_event.h"

namespace billing::sync {

enum class EventOutcome { Applied, Deleted, Stale, Unchanged, RefetchQueued, AlreadyDeleted, Skipped, Duplicate, OtherMode };

const char* toString(EventOutcome outcome);

/// The thin event Stripe sends when meter events it accepted failed validation; queued in meter_error_reports.
inline constexpr const char* kMeterErrorReportType = "v1.billing.meter.error_report_triggered";
/// The thin event Stripe sends when meter events name no active meter (same data shape: sample errors with the
/// events' identifiers); queued in meter_error_reports too, so the usage it refused is shown as refused.
inline constexpr const char* kNoMeterFoundType = "v1.billing.meter.no_meter_found";

/// An event and where it came from (recorded with it, for tracing).
struct PositionedEvent {
  const StripeEvent* event = nullptr;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

/// Why an event can never be applied (it goes to the dead-letter queue), or nullopt if it can.
std::optional<std::string> poisonReason(const StripeEvent& event);

/// Another worker recorded some of these events while this transaction ran (a rebalance overlap): roll back and
/// apply the batch again, those events are then duplicates.
class ConcurrentApply : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Applies a batch of events in one transaction: events already recorded in processed_events are duplicates; for
/// each object only the latest event of the batch is written (SnapshotWriter decides against the stored state);
/// every event is recorded with its outcome. The whole batch commits or nothing does.
///
/// Test mode and live mode never mix: with `livemode` set (the mode of the deployment's API key), an event of the
/// other mode is recorded as `other_mode` and changes nothing (its object could not even be fetched with our key: a
/// cross-mode 404 must never become a tombstone).
class EventApplier {
 public:
  explicit EventApplier(pg::Connection& db, std::optional<bool> livemode = std::nullopt) : db_(db), livemode_(livemode) {}

  /// Events must pass poisonReason(). Returns one outcome per event, in order. Throws PgError or ConcurrentApply
  /// after rolling back.
  std::vector<EventOutcome> apply(const std::vector<PositionedEvent>& events);

 private:
  std::vector<EventOutcome> applyInTransaction(const std::vector<PositionedEvent>& events);
  pg::Connection& db_;
  std::optional<bool> livemode_;
};

}  // namespace billing::sync

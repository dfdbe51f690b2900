#pragma once
#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/postgres.h"
#include "usage/usage_batch.h"

namespace billing::usage {

/// A sealed aggregate to send to Stripe.
struct DueAggregate {
  std::int64_t id = 0;
  std::string customer_id, meter, identifier;
  std::int64_t quantity = 0;
  /// The window's start (unix seconds, cut at billing period boundaries): Stripe bills it in that period. Never
  /// before a change of the customer's metered price on that meter (markMeteredPriceChanged): then the change's time.
  std::int64_t timestamp = 0;
  int attempts = 0;
  std::int64_t first_attempt_at = 0;  // 0 = never tried
  /// For usage of a billing period that has ended: when Stripe finalizes that period's invoice and stops billing
  /// it (0: the period is still open).
  std::int64_t period_closes_at = 0;
};

/// Stripe finalizes a period's invoice about an hour after the period ends; usage after that is billed nowhere.
inline constexpr std::int64_t kStripeFinalizationSeconds = 3600;

/// How accepted usage is grouped (BILLING_USAGE_WINDOW_SECONDS, _GRACE_SECONDS, _ARRIVAL_MARGIN_SECONDS).
struct RecordingRules {
  std::int64_t window_seconds = 300;  // one aggregate per customer, meter and window of event time
  std::int64_t grace_seconds = 10;    // accepted this long after its window ended: still in the first generation
  /// How much earlier than the newest recorded message a message may still arrive in a partition: the API's
  /// Kafka delivery timeout plus clock differences between hosts.
  std::int64_t arrival_margin_seconds = 30;
  /// Usage accepted after its window's grace is summed per slot of acceptance time this long: a late report
  /// waits at most this for its aggregate to close.
  std::int64_t lateSlotSeconds() const { return std::max<std::int64_t>(1, std::min<std::int64_t>(window_seconds, 60)); }
};

/// The messages of one batch from one partition: [first_offset, next_offset), the newest acceptance time among them.
struct PartitionRange {
  std::int32_t partition = -1;
  std::int64_t first_offset = 0, next_offset = 0;
  std::int64_t newest_received_at = 0;
};

/// The database's record of these partitions ends before the batch: read them again from these offsets.
struct BehindTopic : std::runtime_error {
  BehindTopic() : std::runtime_error("the database's usage record ends before the messages read") {}
  std::map<std::int32_t, std::int64_t> resume_at;
};

/// The usage tables (schema/migrations/0004_usage.sql): events recorded once, summed per customer, meter and
/// window, and each sum's way to Stripe. Not thread-safe (one connection).
class UsageLedger {
 public:
  explicit UsageLedger(pg::Connection& db) : db_(db) {}

  /// Records the events not recorded before (by account and identifier), adds them to their aggregates (migration
  /// 0010: from what the messages carry, so re-recording after a restore rebuilds the same ones) and moves the
  /// partitions' watermarks and next offsets, in one transaction. Returns how many were new. Throws BehindTopic
  /// when a batch starts past where the database's record of its partition ends (offset 0 for a partition it has
  /// no record of), unless the partition is in `gaps_accepted` (those messages are gone from the topic); PgError
  /// otherwise; nothing is recorded then.
  std::size_t record(const std::vector<UsageEvent>& events, const std::vector<PartitionRange>& ranges,
                     const RecordingRules& rules, std::int64_t now, const std::set<std::int32_t>& gaps_accepted = {});

  /// These partitions were read to the end at `checked_at` (partition, consumer position): everything accepted
  /// before it, less the margin, is recorded. Returns the partitions whose record in this database ends before the
  /// position (a restored database), with the offset to read them again from; those are not marked.
  std::map<std::int32_t, std::int64_t> markReadToEnd(const std::vector<std::pair<std::int32_t, std::int64_t>>& positions,
                                                     std::int64_t checked_at, std::int64_t arrival_margin_seconds);

  /// Which of these (account, identifier) pairs are recorded already (identifiers are per account).
  std::set<std::pair<std::string, std::string>> knownIdentifiers(
      const std::vector<std::pair<std::string, std::string>>& account_identifiers);

  /// Seals the open aggregates whose partition is recorded past their generation's end: their quantity is final.
  void sealComplete();

  /// Claims up to `limit` sealed aggregates that are due, for `lease_seconds` (another reporter skips them meanwhile).
  std::vector<DueAggregate> claimDue(std::size_t limit, std::int64_t lease_seconds);

  /// The customer's metered prices on these meters (Stripe meter ids) were swapped or removed at `at`: usage not
  /// yet sent that is dated before it is sent dated at it (claimDue), since Stripe has invoiced the time before.
  void markMeteredPriceChanged(const std::string& customer_id, const std::vector<std::string>& meter_ids, std::int64_t at);

  void markReported(const std::vector<std::int64_t>& ids, const std::string& via);
  /// A failed attempt: tried again at `retry_at`, or given up (`final`) with the error kept for operators.
  void markAttemptFailed(std::int64_t id, const std::string& error, std::int64_t retry_at, bool final);

  /// Aggregates Stripe refused or that ran out of retries, newest first (for `billing usage failed`), as JSON objects.
  std::vector<std::string> failed(int limit);
  /// Sends failed aggregates again (one id, or all when `id` is 0): sealed, due now, attempts and horizon restarted,
  /// same identifier. Returns how many. Safe after a refusal (4xx: Stripe counted nothing); after an expired retry
  /// horizon an attempt may have reached Stripe unanswered, so check Stripe's meter event summaries first.
  std::size_t retryFailed(std::int64_t id);

  /// Aggregates not yet reported: open (still summing) or sealed (on their way to Stripe). For the metric.
  std::int64_t pendingCount();
  /// Seconds since the oldest unreported sealed window ended (0 if none): the reporting lag.
  std::int64_t oldestPendingAge(std::int64_t now, std::int64_t window_seconds);

 private:
  pg::Connection& db_;
};

}  // namespace billing::usage

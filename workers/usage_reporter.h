#pragma once
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "common/kafka_producer.h"
#include "common/metrics.h"
#include "common/postgres.h"
#include "stripe/stripe_client.h"
#include "usage/meter_reporter.h"
#include "usage/usage_ledger.h"
#include "workers/event_consumer.h"
#include "workers/usage_reporter_config.h"

namespace billing::workers {

/// The `billing usage-reporter` loop, one thread:
/// 1. consume accepted usage batches from the usage topic and record them (usage_ledger: each identifier once,
///    summed into its window's open aggregate) in one transaction, then store the Kafka offsets;
/// 2. seal aggregates whose partition is recorded past their generation (migration 0010), send the due ones to Stripe (MeterReporter), and mark each reported only
///    after Stripe's 2xx; failures are retried with backoff under the same identifier, within Stripe's 24 h dedupe;
/// 3. complete queued meter error reports from the v2 Events API.
/// A crash anywhere re-delivers or resends, and identifiers make both harmless.
class UsageReporter {
 public:
  UsageReporter(const UsageReporterConfig& config, kafka::DurableProducer& dlq, stripe::StripeClient& stripe);
  ~UsageReporter();

  void run(const std::atomic<bool>& stop);
  bool live() const;
  bool ready() const { return ready_.load(); }

 private:
  enum class Recorded { Done, ReadAgain, Stopping };
  /// Done: store the batch's offsets. ReadAgain: the consumer was moved back (the database is behind the topic),
  /// store nothing. Stopping: nothing recorded.
  Recorded recordBatch(const std::vector<ConsumedMessage>& batch, const std::atomic<bool>& stop);
  /// Moves the consumer back to where the database's record of each partition ends; a partition whose messages
  /// there are gone from the topic is accepted as a gap instead. Returns the partitions moved.
  std::set<std::int32_t> readAgain(const std::map<std::int32_t, std::int64_t>& resume_at);
  void reportRound(std::int64_t now);
  usage::RecordingRules rules() const;
  pg::Connection& db();

  const UsageReporterConfig& config_;
  kafka::DurableProducer& dlq_;
  stripe::StripeClient& stripe_;
  usage::MeterReporter reporter_;
  std::unique_ptr<EventConsumer> consumer_;
  std::unique_ptr<pg::Connection> db_;
  std::atomic<bool> ready_{false};
  std::chrono::steady_clock::time_point last_report_{};
  std::chrono::steady_clock::time_point last_error_fetch_{};
  std::chrono::steady_clock::time_point last_gauges_{};
  std::set<std::int32_t> gaps_accepted_;  // partitions whose next batch may start past the database's record
  /// Partitions moved back by readAgain whose re-read messages are not recorded yet: the consumer's position may
  /// still show the old end until they arrive, so the read-to-end check skips them meanwhile (else every round
  /// would seek again and restart the fetch before anything arrives). At most kReadAgainWait, then checked again.
  std::map<std::int32_t, std::chrono::steady_clock::time_point> reading_again_;
  static constexpr std::chrono::seconds kReadAgainWait{30};

  metrics::Counter& events_recorded_;
  metrics::Counter& period_closed_;
  metrics::Counter& events_duplicate_;
  metrics::Gauge& pending_;
  metrics::Gauge& lag_seconds_;
  metrics::Gauge& consumer_lag_;
  metrics::Counter& topic_gaps_;
};

}  // namespace billing::workers

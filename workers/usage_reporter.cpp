#include "workers/usage_reporter.h"

#include <algorithm>
#include <map>
#include <ctime>
#include <thread>

#include "common/json_log.h"
#include "usage/meter_error_reports.h"
#include "usage/usage_batch.h"
#include "usage/usage_ledger.h"
#include "workers/dead_letters.h"
#include "workers/retry_wait.h"

namespace billing::workers {
namespace {

std::int64_t unixNow() { return static_cast<std::int64_t>(std::time(nullptr)); }

metrics::Counter& stripeOutcome(const std::string& via, const std::string& outcome) {
  return metrics::defaultRegistry().counter("billing_usage_stripe_sends_total",
                                            "Aggregates sent to Stripe, by API and outcome (reported, retry, failed)",
                                            {{"via", via}, {"outcome", outcome}});
}

}  // namespace

UsageReporter::UsageReporter(const UsageReporterConfig& config, kafka::DurableProducer& dlq,
                             stripe::StripeClient& stripe)
    : config_(config),
      dlq_(dlq),
      stripe_(stripe),
      reporter_(stripe, config.stream, config.stream_threshold),
      consumer_(std::make_unique<EventConsumer>(config.kafka, config.consumer)),
      events_recorded_(metrics::defaultRegistry().counter("billing_usage_events_recorded_total",
                                                          "Usage events recorded for reporting (each identifier once)")),
      period_closed_(metrics::defaultRegistry().counter(
          "billing_usage_period_closed_unreported_total",
          "Aggregates of an ended billing period Stripe finalized before they could be reported (billed nowhere)")),
      events_duplicate_(metrics::defaultRegistry().counter(
          "billing_usage_events_duplicate_total", "Usage events delivered again (resubmitted or redelivered), ignored")),
      pending_(metrics::defaultRegistry().gauge("billing_usage_aggregates_pending",
                                                "Aggregates not yet reported to Stripe (open or sealed)")),
      lag_seconds_(metrics::defaultRegistry().gauge(
          "billing_usage_reporting_lag_seconds", "Seconds since the oldest unreported closed window ended")),
      consumer_lag_(metrics::defaultRegistry().gauge("billing_usage_consumer_lag",
                                                     "Usage batches behind the end of the usage topic")),
      topic_gaps_(metrics::defaultRegistry().counter(
          "billing_usage_topic_gaps_total",
          "Times the database's usage record ended before the oldest message the usage topic still had (usage lost)")) {}

UsageReporter::~UsageReporter() {
  if (consumer_) consumer_->close();
}

bool UsageReporter::live() const { return !consumer_->fatal() && !dlq_.fatal(); }

pg::Connection& UsageReporter::db() {
  if (!db_ || db_->broken()) db_ = std::make_unique<pg::Connection>(config_.database_url, 5);
  return *db_;
}

void UsageReporter::run(const std::atomic<bool>& stop) {
  log::info("usage reporter started", {{"topic", config_.consumer.topic},
                                       {"group", config_.consumer.group_id},
                                       {"window_seconds", config_.window_seconds},
                                       {"stream_threshold", config_.stream_threshold}});
  while (!stop.load()) {
    auto batch = consumer_->poll(config_.batch_max, 200, config_.batch_linger_ms);
    consumer_lag_.set(static_cast<double>(consumer_->lag()));
    if (!batch.empty()) {
      auto outcome = recordBatch(batch, stop);
      if (outcome == Recorded::Stopping) break;  // stopping: nothing stored, re-delivered later
      if (outcome == Recorded::Done) consumer_->storeOffsets(batch);
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_report_ >= std::chrono::seconds(1)) {
      last_report_ = now;
      try {
        reportRound(unixNow());
        ready_ = true;
      } catch (const pg::PgError& e) {
        ready_ = false;
        log::warn("usage reporting round failed on the database", {{"sqlstate", e.sqlstate()}, {"error", e.what()}});
      }
    }
  }
  consumer_->close();
  log::info("usage reporter stopped");
}

usage::RecordingRules UsageReporter::rules() const {
  return {config_.window_seconds, config_.grace_seconds, config_.arrival_margin_seconds};
}

UsageReporter::Recorded UsageReporter::recordBatch(const std::vector<ConsumedMessage>& batch,
                                                   const std::atomic<bool>& stop) {
  std::vector<usage::UsageEvent> events;
  std::map<std::int32_t, usage::PartitionRange> ranges;
  for (const auto& message : batch) {
    auto& range = ranges[message.partition];
    if (range.partition < 0) range = {message.partition, message.offset, message.offset + 1, 0};
    range.first_offset = std::min(range.first_offset, message.offset);
    range.next_offset = std::max(range.next_offset, message.offset + 1);
    std::string error;
    auto decoded = usage::decodeUsageBatch(message.payload, message.timestamp_ms / 1000, error);
    if (decoded) {
      for (auto& e : *decoded) {
        e.partition = message.partition;
        range.newest_received_at = std::max(range.newest_received_at, e.received_at);
      }
      events.insert(events.end(), decoded->begin(), decoded->end());
      continue;
    }
    // Not something the API produced: kept in the dead letters, the partition moves on.
    auto connection = [this]() -> pg::Connection& { return db(); };
    if (!moveToDeadLetters(dlq_, config_.dlq_topic, connection, message, "", "usage", "unparseable", error, 1, stop)) {
      return Recorded::Stopping;
    }
    log::error("usage message dead-lettered", {{"error", error}, {"partition", message.partition}, {"offset", message.offset}});
  }
  std::vector<usage::PartitionRange> range_list;
  for (const auto& [partition, range] : ranges) range_list.push_back(range);
  // The database is waited out: an accepted usage event is never skipped.
  for (int attempt = 0;; ++attempt) {
    try {
      auto fresh = usage::UsageLedger(db()).record(events, range_list, rules(), unixNow(), gaps_accepted_);
      for (const auto& r : range_list) {
        gaps_accepted_.erase(r.partition);
        reading_again_.erase(r.partition);
      }
      events_recorded_.inc(fresh);
      events_duplicate_.inc(events.size() - fresh);
      ready_ = true;
      return Recorded::Done;
    } catch (const usage::BehindTopic& behind) {
      // The database's record ends before these messages (restored from a backup): those partitions are read
      // from where it ends, the batch's other partitions from where the batch began (nothing of it is stored).
      auto seeked = readAgain(behind.resume_at);
      if (seeked.empty()) {  // gone from the topic (accepted as lost, recorded on), or the seek was refused
        if (!waitBeforeRetry(attempt, stop)) return Recorded::Stopping;
        continue;
      }
      for (const auto& r : range_list) {
        if (!seeked.count(r.partition)) consumer_->seek(r.partition, r.first_offset, 5000);
      }
      return Recorded::ReadAgain;
    } catch (const pg::PgError& e) {
      ready_ = false;
      log::warn("usage batch not recorded yet", {{"sqlstate", e.sqlstate()}, {"error", e.what()}, {"events", events.size()}});
      if (!waitBeforeRetry(attempt, stop)) return Recorded::Stopping;
    }
  }
}

std::set<std::int32_t> UsageReporter::readAgain(const std::map<std::int32_t, std::int64_t>& resume_at) {
  std::set<std::int32_t> seeked;
  for (const auto& [partition, offset] : resume_at) {
    auto first = consumer_->firstOffset(partition, 5000);
    if (first > offset) {
      // Retention removed them: nothing can bring that usage back. Said loudly, counted, and recording goes on.
      gaps_accepted_.insert(partition);
      topic_gaps_.inc();
      log::error("usage lost: the database's record of the partition ends before the oldest message the usage "
                 "topic still has (restored from a backup older than the topic's retention)",
                 {{"partition", partition}, {"recorded_to", offset}, {"topic_starts_at", first}});
      continue;
    }
    log::warn("the database's usage record ends before the consumer's position (restored?): reading again",
              {{"partition", partition}, {"from", offset}});
    if (consumer_->seek(partition, offset, 5000)) {
      seeked.insert(partition);
      reading_again_[partition] = std::chrono::steady_clock::now();
    }
  }
  return seeked;
}

void UsageReporter::reportRound(std::int64_t now) {
  usage::UsageLedger ledger(db());
  // Partitions read to the end: everything accepted until shortly before this check is recorded. Then every
  // aggregate whose partition is recorded past its generation is complete and sealed; never by the clock alone,
  // so a reporter catching up (after downtime, or replaying after a restore) seals nothing early.
  const auto checked_at = unixNow();
  auto positions = consumer_->readToEnd(1000);
  const auto steady_now = std::chrono::steady_clock::now();
  std::erase_if(positions, [&](const auto& position) {
    auto moved = reading_again_.find(position.first);
    if (moved == reading_again_.end()) return false;
    if (steady_now - moved->second < kReadAgainWait) return true;  // its re-read messages are still on their way
    reading_again_.erase(moved);
    return false;
  });
  auto behind = ledger.markReadToEnd(positions, checked_at, config_.arrival_margin_seconds);
  if (!behind.empty()) readAgain(behind);
  ledger.sealComplete();
  // Leased (BILLING_USAGE_LEASE_SECONDS, 5 minutes): if this process dies mid-send, another reporter (or this one,
  // restarted) resends them then, under the same identifiers.
  auto due = ledger.claimDue(config_.send_per_round, config_.lease_seconds);
  if (!due.empty()) {
    std::string via;
    auto outcomes = reporter_.send(due, now, via);
    std::vector<std::int64_t> reported;
    for (std::size_t i = 0; i < due.size(); ++i) {
      const auto& a = due[i];
      const auto& o = outcomes[i];
      if (o.reported) {
        reported.push_back(a.id);
        if (o.duplicate) {
          stripeOutcome(via, "duplicate").inc();
          log::info("usage aggregate already at Stripe (an earlier attempt was counted)",
                    {{"aggregate", a.id}, {"identifier", a.identifier}});
        }
        continue;
      }
      std::int64_t first = a.first_attempt_at == 0 ? now : a.first_attempt_at;
      std::int64_t retry_at = now + std::min<std::int64_t>(3600, std::int64_t{2} << std::min(a.attempts, 11));
      // Past the horizon a resend could be counted twice if an earlier attempt did reach Stripe: stop and say so.
      // Usage of an ended period is retried only until Stripe finalizes its invoice: later it would be billed
      // nowhere, so it stops there, failed and counted, for an operator to settle (billing usage failed).
      bool closes = a.period_closes_at > 0 && retry_at >= a.period_closes_at;
      if (closes) {
        retry_at = std::max(now + 1, std::min(retry_at, a.period_closes_at - 60));
        if (now >= a.period_closes_at - 60) {
          period_closed_.inc();
        }
      }
      bool final = !o.retryable || retry_at - first > config_.retry_horizon_seconds ||
                   (a.period_closes_at > 0 && now >= a.period_closes_at - 60);
      ledger.markAttemptFailed(a.id, o.error, retry_at, final);
      stripeOutcome(via, final ? "failed" : "retry").inc();
      (final ? log::error : log::warn)("usage aggregate not reported",
                                       {{"aggregate", a.id}, {"identifier", a.identifier}, {"meter", a.meter},
                                        {"quantity", a.quantity}, {"attempts", a.attempts + 1}, {"final", final},
                                        {"error", o.error}});
    }
    ledger.markReported(reported, via);
    stripeOutcome(via, "reported").inc(reported.size());
  }
  auto steady = std::chrono::steady_clock::now();
  if (steady - last_error_fetch_ >= std::chrono::seconds(5)) {
    last_error_fetch_ = steady;
    usage::fetchMeterErrorReports(db(), stripe_, 20);
  }
  if (steady - last_gauges_ >= std::chrono::seconds(5) || !due.empty()) {
    last_gauges_ = steady;
    pending_.set(static_cast<double>(ledger.pendingCount()));
    lag_seconds_.set(static_cast<double>(ledger.oldestPendingAge(now, config_.window_seconds)));
  }
}

}  // namespace billing::workers

#include "workers/event_worker.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <thread>

#include "common/json_log.h"
#include "sync/retention.h"
#include "workers/dead_letters.h"
#include "workers/retry_wait.h"

namespace billing::workers {
namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

metrics::Counter& retries(const std::string& cause) {
  return metrics::defaultRegistry().counter("billing_worker_retries_total", "Batches or events tried again",
                                            {{"cause", cause}});
}

metrics::Counter& deadLetters(const std::string& reason) {
  return metrics::defaultRegistry().counter("billing_worker_dead_letters_total",
                                            "Events given up on and sent to the dead-letter topic and table",
                                            {{"reason", reason}});
}

}  // namespace

EventWorker::EventWorker(const WorkerConfig& config, kafka::DurableProducer& dlq, int index)
    : config_(config),
      dlq_(dlq),
      consumer_(std::make_unique<EventConsumer>(config.kafka, config.consumer)),
      batch_seconds_(metrics::defaultRegistry().histogram(
          "billing_worker_batch_seconds", "Time to apply one batch of events and commit it", metrics::latencyBuckets())),
      batch_size_(metrics::defaultRegistry().histogram("billing_worker_batch_events", "Events per applied batch",
                                                       {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000})),
      lag_(metrics::defaultRegistry().gauge("billing_worker_consumer_lag",
                                            "Events behind the end of this consumer's partitions",
                                            {{"consumer", std::to_string(index)}})),
      event_age_(metrics::defaultRegistry().gauge("billing_worker_event_age_seconds",
                                                  "Now minus the creation time of the newest event applied",
                                                  {{"consumer", std::to_string(index)}})) {}

EventWorker::~EventWorker() {
  if (consumer_) consumer_->close();
}

bool EventWorker::live() const { return !consumer_->fatal() && !dlq_.fatal(); }

pg::Connection& EventWorker::db() {
  if (!db_) db_ = std::make_unique<pg::Connection>(config_.database_url, 5);
  return *db_;
}

void EventWorker::dropConnectionIfBroken() {
  if (db_ && db_->broken()) db_.reset();
}

void EventWorker::count(const std::string& type, sync::EventOutcome outcome) {
  auto key = std::make_pair(type, static_cast<int>(outcome));
  auto it = event_counters_.find(key);
  if (it == event_counters_.end()) {
    auto& counter = metrics::defaultRegistry().counter("billing_worker_events_total", "Events handled, by outcome",
                                                       {{"type", type}, {"outcome", sync::toString(outcome)}});
    it = event_counters_.emplace(key, &counter).first;
  }
  it->second->inc();
}

void EventWorker::run(const std::atomic<bool>& stop) {
  log::info("worker started", {{"topic", config_.consumer.topic},
                               {"group", config_.consumer.group_id},
                               {"dlq_topic", config_.dlq_topic},
                               {"batch_max", config_.batch_max},
                               {"livemode", config_.livemode ? nlohmann::json(*config_.livemode) : nlohmann::json("any")}});
  while (!stop.load()) {
    try {
      // Readiness means the database answers, also while no events arrive: ping it when idle.
      auto now = std::chrono::steady_clock::now();
      if (!db_ || now - last_ping_ > std::chrono::seconds(5)) {
        db().query("SELECT 1");
        last_ping_ = now;
      }
      ready_ = true;
    } catch (const pg::PgError& e) {
      dropConnectionIfBroken();
      ready_ = false;
      log::warn("database unavailable", {{"sqlstate", e.sqlstate()}, {"error", e.what()}});
      waitBeforeRetry(5, stop);
      continue;
    }
    auto batch = consumer_->poll(config_.batch_max, 200, config_.batch_linger_ms);
    lag_.set(static_cast<double>(consumer_->lag()));
    if (!batch.empty()) {
      if (!processBatch(batch, stop)) break;  // stopping: nothing stored, the next owner re-reads the batch
      consumer_->storeOffsets(batch);
    }
    pruneRound();
  }
  consumer_->close();
  log::info("worker stopped");
}

bool EventWorker::processBatch(const std::vector<ConsumedMessage>& batch, const std::atomic<bool>& stop) {
  auto started = std::chrono::steady_clock::now();
  std::vector<sync::ParseResult> parsed;
  parsed.reserve(batch.size());
  std::vector<sync::PositionedEvent> events;
  std::vector<const ConsumedMessage*> messages;
  for (const auto& message : batch) {
    parsed.push_back(sync::parseStripeEvent(message.payload));
    const auto& p = parsed.back();
    if (!p.ok) {
      if (!deadLetter(message, "", "", "unparseable", p.error, 1, stop)) return false;
      continue;
    }
    if (auto why = sync::poisonReason(p.event)) {
      if (!deadLetter(message, p.event.id, p.event.type, "not_applicable", *why, 1, stop)) return false;
      continue;
    }
    events.push_back({&p.event, message.partition, message.offset});
    messages.push_back(&message);
  }
  if (!events.empty() && !applyWithRetries(events, messages, stop)) return false;
  batch_seconds_.observe(secondsSince(started));
  batch_size_.observe(static_cast<double>(batch.size()));
  std::int64_t newest = 0;
  for (const auto& e : events) newest = std::max(newest, e.event->created);
  if (newest > 0) event_age_.set(static_cast<double>(std::time(nullptr) - newest));
  return true;
}

bool EventWorker::applyWithRetries(const std::vector<sync::PositionedEvent>& events,
                                   const std::vector<const ConsumedMessage*>& messages,
                                   const std::atomic<bool>& stop) {
  int failures = 0;
  for (int attempt = 0;; ++attempt) {
    if (stop.load()) return false;
    std::string error;
    try {
      auto outcomes = sync::EventApplier(db(), config_.livemode).apply(events);
      for (std::size_t i = 0; i < events.size(); ++i) count(events[i].event->type, outcomes[i]);
      if (!ready_) log::info("database available again");
      ready_ = true;
      return true;
    } catch (const sync::ConcurrentApply& e) {
      retries("concurrent_apply").inc();
      continue;  // the overlap is gone: the events are duplicates now
    } catch (const pg::PgError& e) {
      dropConnectionIfBroken();
      if (!db_ || !pg::isDataError(e)) {
        // The database is unavailable, or wrong as a whole (not migrated, no permission): no event is to blame.
        // Wait it out, however long; this batch is never skipped.
        ready_ = false;
        retries(pg::isTransient(e) ? "database_unavailable" : "database_error").inc();
        log::warn("database unavailable, batch retried", {{"sqlstate", e.sqlstate()}, {"error", e.what()},
                                                          {"events", events.size()}, {"attempt", attempt + 1}});
        if (!waitBeforeRetry(attempt, stop)) return false;
        continue;
      }
      error = e.sqlstate() + ": " + e.what();
    } catch (const std::exception& e) {
      error = e.what();
    }
    // Failed for a reason of its own. In a batch: find the culprit by applying each event alone.
    if (events.size() > 1) {
      retries("isolate_batch").inc();
      log::warn("batch failed, applying its events one by one", {{"error", error}, {"events", events.size()}});
      for (std::size_t i = 0; i < events.size(); ++i) {
        if (!applyWithRetries({events[i]}, {messages[i]}, stop)) return false;
      }
      return true;
    }
    ++failures;
    retries("apply_failed").inc();
    log::warn("event failed", {{"event_id", events[0].event->id}, {"type", events[0].event->type},
                               {"error", error}, {"failures", failures}});
    if (failures >= config_.max_attempts) {
      return deadLetter(*messages[0], events[0].event->id, events[0].event->type, "apply_failed", error, failures, stop);
    }
    if (!waitBeforeRetry(failures, stop)) return false;
  }
}

bool EventWorker::deadLetter(const ConsumedMessage& message, const std::string& event_id,
                             const std::string& event_type, const std::string& reason, const std::string& error,
                             int attempts, const std::atomic<bool>& stop) {
  auto connection = [this]() -> pg::Connection& {
    dropConnectionIfBroken();
    return db();
  };
  if (!moveToDeadLetters(dlq_, config_.dlq_topic, connection, message, event_id, event_type, reason, error, attempts,
                         stop)) {
    return false;
  }
  deadLetters(reason).inc();
  log::error("event dead-lettered", {{"event_id", event_id},
                                     {"type", event_type},
                                     {"reason", reason},
                                     {"error", error},
                                     {"partition", message.partition},
                                     {"offset", message.offset}});
  return true;
}

void EventWorker::pruneRound() {
  auto now = std::chrono::steady_clock::now();
  if (last_prune_ != std::chrono::steady_clock::time_point{} && now - last_prune_ < std::chrono::minutes(10)) return;
  last_prune_ = now;
  try {
    auto removed = sync::pruneProcessedEvents(db(), config_.event_retention_days);
    if (removed > 0) log::info("old processed event ids removed", {{"rows", removed}, {"days", config_.event_retention_days}});
  } catch (const pg::PgError& e) {
    dropConnectionIfBroken();
    log::warn("processed events retention failed", {{"sqlstate", e.sqlstate()}, {"error", e.what()}});
  }
}

}  // namespace billing::workers

#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/kafka_producer.h"
#include "common/metrics.h"
#include "common/postgres.h"
#include "stripe/stripe_client.h"
#include "sync/event_applier.h"
#include "workers/event_consumer.h"
#include "workers/worker_config.h"

namespace billing::workers {

/// The `billing worker` loop: consume a batch, apply it in one transaction, store the offsets only after the commit. An unavailable database is waited out (the batch is retried, never
/// skipped); an event that can't be applied goes to the dead-letter topic and table, and its partition moves on.
class EventWorker {
 public:
  /// `dlq` produces to config.dlq_topic. `index` tells the consumers of one process apart in metrics. Doubtful
  /// objects are fetched by the process's RefetchPool, not here.
  EventWorker(const WorkerConfig& config, kafka::DurableProducer& dlq, int index = 0);
  ~EventWorker();

  /// Runs until `stop` becomes true; the batch in progress is finished or abandoned unstored (re-delivered later).
  void run(const std::atomic<bool>& stop);

  bool live() const;
  bool ready() const { return ready_.load(); }

 private:
  bool processBatch(const std::vector<ConsumedMessage>& batch, const std::atomic<bool>& stop);
  bool applyWithRetries(const std::vector<sync::PositionedEvent>& events,
                        const std::vector<const ConsumedMessage*>& messages, const std::atomic<bool>& stop);
  bool deadLetter(const ConsumedMessage& message, const std::string& event_id, const std::string& event_type,
                  const std::string& reason, const std::string& error, int attempts, const std::atomic<bool>& stop);
  void pruneRound();
  pg::Connection& db();
  void dropConnectionIfBroken();
  void count(const std::string& type, sync::EventOutcome outcome);

  const WorkerConfig& config_;
  kafka::DurableProducer& dlq_;
  std::unique_ptr<EventConsumer> consumer_;
  std::unique_ptr<pg::Connection> db_;
  std::atomic<bool> ready_{false};
  std::chrono::steady_clock::time_point last_prune_{};
  std::chrono::steady_clock::time_point last_ping_{};

  std::map<std::pair<std::string, int>, metrics::Counter*> event_counters_;
  metrics::Histogram& batch_seconds_;
  metrics::Histogram& batch_size_;
  metrics::Gauge& lag_;
  metrics::Gauge& event_age_;
};

}  // namespace billing::workers

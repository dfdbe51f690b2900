#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/kafka_settings.h"

namespace RdKafka {
class Producer;
}

namespace billing::kafka {

struct ProducerOptions {
  int delivery_timeout_ms = 10000;  // message.timeout.ms: give up (and answer 503) after this
  int linger_ms = 1;                // small batches under load, ~no added latency when idle
  std::string compression = "lz4";
};

enum class DeliveryStatus {
  Delivered,  // acknowledged by all in-sync replicas
  Failed,     // the broker or librdkafka reported an error (incl. message timeout)
  QueueFull,  // local queue full: back-pressure
  TimedOut,   // no delivery report in time (the message may still land: duplicates are fine, loss is not)
};

struct DeliveryResult {
  DeliveryStatus status = DeliveryStatus::Failed;
  std::string error;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

using MessageHeaders = std::vector<std::pair<std::string, std::string>>;

/// Idempotent producer (enable.idempotence, acks=all) whose produce() blocks the calling thread until the
/// delivery report arrives, so callers can tell Stripe "2xx" only for what Kafka holds. A background thread
/// serves delivery reports. Thread-safe: many HTTP threads share one instance.
class DurableProducer {
 public:
  DurableProducer(const KafkaSettings& settings, const ProducerOptions& options);
  ~DurableProducer();
  DurableProducer(const DurableProducer&) = delete;
  DurableProducer& operator=(const DurableProducer&) = delete;

  /// Sends `value` byte-for-byte with `key` (murmur2 partitioner, same partition as the Java client) and headers.
  DeliveryResult produce(const std::string& topic, std::string_view key, std::string_view value,
                         const MessageHeaders& headers);

  struct Message {
    std::string_view key, value;  // the caller keeps them alive for the call
  };
  /// Sends all of them at once and waits for every delivery report: Delivered only if every one was delivered,
  /// else the first failure (earlier ones may be durable: callers retry with what makes duplicates harmless).
  DeliveryResult produceAll(const std::string& topic, const std::vector<Message>& messages,
                            const MessageHeaders& headers);

  /// True when the broker answers a metadata request and `topic` exists with partitions.
  bool topicAvailable(const std::string& topic, int timeout_ms);

  /// librdkafka raised a fatal error (e.g. idempotence sequence broken): the instance can't produce any more.
  bool fatal() const { return fatal_.load(); }

  /// Waits up to timeout_ms for in-flight messages (used on shutdown).
  void flush(int timeout_ms);

 private:
  class Callbacks;
  void pollLoop();

  ProducerOptions options_;
  std::unique_ptr<Callbacks> callbacks_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<bool> fatal_{false};
  std::atomic<bool> stopping_{false};
  std::thread poller_;
};

const char* toString(DeliveryStatus status);

}  // namespace billing::kafka

#include "common/kafka_producer.h"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "common/json_log.h"

namespace billing::kafka {
namespace {

/// One produce() waiting for its delivery report; shared between the caller and the report callback so either
/// side may go first (a caller that timed out leaves the report to free it).
struct PendingDelivery {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  DeliveryResult result;
};

void setOrThrow(RdKafka::Conf& conf, const std::string& key, const std::string& value) {
  std::string err;
  if (conf.set(key, value, err) != RdKafka::Conf::CONF_OK) {
    throw std::runtime_error("kafka config " + key + ": " + err);
  }
}

}  // namespace

class DurableProducer::Callbacks : public RdKafka::DeliveryReportCb, public RdKafka::EventCb {
 public:
  explicit Callbacks(std::atomic<bool>& fatal) : fatal_(fatal) {}

  void dr_cb(RdKafka::Message& message) override {
    auto* holder = static_cast<std::shared_ptr<PendingDelivery>*>(message.msg_opaque());
    if (holder == nullptr) return;
    std::shared_ptr<PendingDelivery> pending = std::move(*holder);
    delete holder;
    {
      std::lock_guard lock(pending->mutex);
      if (message.err() == RdKafka::ERR_NO_ERROR) {
        pending->result = {DeliveryStatus::Delivered, {}, message.partition(), message.offset()};
      } else {
        pending->result = {DeliveryStatus::Failed, message.errstr(), message.partition(), -1};
      }
      pending->done = true;
    }
    pending->done_cv.notify_one();
  }

  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_ERROR:
        if (event.fatal()) {
          fatal_.store(true);
          log::error("kafka fatal error", {{"error", RdKafka::err2str(event.err())}, {"detail", event.str()}});
        } else {
          log::warn("kafka error", {{"error", RdKafka::err2str(event.err())}, {"detail", event.str()}});
        }
        break;
      case RdKafka::Event::EVENT_LOG:
        log::debug("librdkafka", {{"facility", event.fac()}, {"detail", event.str()}});
        break;
      default:
        break;
    }
  }

 private:
  std::atomic<bool>& fatal_;
};

DurableProducer::DurableProducer(const KafkaSettings& settings, const ProducerOptions& options)
    : options_(options), callbacks_(std::make_unique<Callbacks>(fatal_)) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [key, value] : settings.properties()) setOrThrow(*conf, key, value);
  // Durability: the broker acknowledges only after all in-sync replicas have the message; idempotence keeps
  // librdkafka's retries from duplicating or reordering within a partition.
  setOrThrow(*conf, "enable.idempotence", "true");
  setOrThrow(*conf, "acks", "all");
  setOrThrow(*conf, "message.timeout.ms", std::to_string(options.delivery_timeout_ms));
  setOrThrow(*conf, "linger.ms", std::to_string(options.linger_ms));
  setOrThrow(*conf, "compression.type", getenv("XCOMP") ? getenv("XCOMP") : options.compression.c_str());
  // Same key -> same partition as Kafka's Java clients, whoever produces.
  setOrThrow(*conf, "partitioner", "murmur2_random");
  // Topics are created on purpose (billing create-topics), with the partition count chosen for ordering and scale.
  setOrThrow(*conf, "allow.auto.create.topics", "false");
  std::string err;
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(callbacks_.get()), err) != RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", static_cast<RdKafka::EventCb*>(callbacks_.get()), err) != RdKafka::Conf::CONF_OK) {
    throw std::runtime_error("kafka callbacks: " + err);
  }
  producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!producer_) throw std::runtime_error("kafka producer: " + err);
  poller_ = std::thread([this] { pollLoop(); });
}

DurableProducer::~DurableProducer() {
  stopping_.store(true);
  poller_.join();
  flush(5000);
  // Whatever is still queued fails its waiter now instead of leaking.
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  producer_->poll(0);
}

void DurableProducer::pollLoop() {
  while (!stopping_.load()) producer_->poll(100);
}

void DurableProducer::flush(int timeout_ms) { producer_->flush(timeout_ms); }

DeliveryResult DurableProducer::produce(const std::string& topic, std::string_view key, std::string_view value,
                                        const MessageHeaders& headers) {
  return produceAll(topic, {{key, value}}, headers);
}

DeliveryResult DurableProducer::produceAll(const std::string& topic, const std::vector<Message>& messages,
                                           const MessageHeaders& headers) {
  std::vector<std::shared_ptr<PendingDelivery>> waiting;
  waiting.reserve(messages.size());
  DeliveryResult refused{DeliveryStatus::Delivered, "", -1, -1};
  for (const auto& m : messages) {
    auto pending = std::make_shared<PendingDelivery>();
    auto* holder = new std::shared_ptr<PendingDelivery>(pending);
    RdKafka::Headers* kafka_headers = RdKafka::Headers::create();
    for (const auto& [name, header_value] : headers) kafka_headers->add(name, header_value.data(), header_value.size());
    auto err = producer_->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                  const_cast<char*>(m.value.data()), m.value.size(),
                                  m.key.empty() ? nullptr : m.key.data(), m.key.size(), 0, kafka_headers, holder);
    if (err != RdKafka::ERR_NO_ERROR) {
      // On failure librdkafka took ownership of neither the headers nor the opaque.
      delete kafka_headers;
      delete holder;
      refused = {err == RdKafka::ERR__QUEUE_FULL ? DeliveryStatus::QueueFull : DeliveryStatus::Failed,
                 RdKafka::err2str(err), -1, -1};
      break;
    }
    waiting.push_back(std::move(pending));
  }
  // librdkafka reports every message within message.timeout.ms; the grace covers report scheduling. Every queued
  // message is waited for, even after a refusal, so none outlives its waiter unnoticed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.delivery_timeout_ms + 2000);
  DeliveryResult outcome = refused;
  for (const auto& pending : waiting) {
    std::unique_lock lock(pending->mutex);
    if (!pending->done_cv.wait_until(lock, deadline, [&] { return pending->done; })) {
      if (outcome.status == DeliveryStatus::Delivered) outcome = {DeliveryStatus::TimedOut, "no delivery report in time", -1, -1};
      continue;
    }
    if (pending->result.status != DeliveryStatus::Delivered && outcome.status == DeliveryStatus::Delivered) {
      outcome = pending->result;
    }
    if (outcome.status == DeliveryStatus::Delivered && messages.size() == 1) outcome = pending->result;
  }
  return outcome;
}

bool DurableProducer::topicAvailable(const std::string& topic, int timeout_ms) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(producer_.get(), topic, nullptr, err));
  if (!handle) return false;
  RdKafka::Metadata* raw = nullptr;
  auto code = producer_->metadata(false, handle.get(), &raw, timeout_ms);
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (code != RdKafka::ERR_NO_ERROR || !metadata) return false;
  for (const auto* t : *metadata->topics()) {
    if (t->topic() == topic && t->err() == RdKafka::ERR_NO_ERROR && !t->partitions()->empty()) return true;
  }
  return false;
}

const char* toString(DeliveryStatus status) {
  switch (status) {
    case DeliveryStatus::Delivered: return "delivered";
    case DeliveryStatus::Failed: return "failed";
    case DeliveryStatus::QueueFull: return "queue_full";
    case DeliveryStatus::TimedOut: return "timed_out";
  }
  return "unknown";
}

}  // namespace billing::kafka

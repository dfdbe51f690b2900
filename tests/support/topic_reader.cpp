#include "tests/support/topic_reader.h"

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <stdexcept>

namespace billing::testing {

std::vector<ConsumedMessage> readTopic(const std::string& brokers, const std::string& topic, std::size_t expected,
                                       std::chrono::milliseconds quiet) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", brokers, err);
  conf->set("group.id", "test-reader", err);  // required by the API; offsets are never committed
  conf->set("enable.auto.commit", "false", err);
  conf->set("enable.partition.eof", "false", err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) throw std::runtime_error("consumer: " + err);

  RdKafka::Metadata* raw = nullptr;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(consumer.get(), topic, nullptr, err));
  if (consumer->metadata(false, handle.get(), &raw, 10000) != RdKafka::ERR_NO_ERROR) {
    throw std::runtime_error("metadata for " + topic + " failed");
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  std::vector<RdKafka::TopicPartition*> partitions;
  for (const auto* t : *metadata->topics()) {
    if (t->topic() != topic) continue;
    for (const auto* p : *t->partitions()) {
      partitions.push_back(RdKafka::TopicPartition::create(topic, p->id(), RdKafka::Topic::OFFSET_BEGINNING));
    }
  }
  consumer->assign(partitions);
  RdKafka::TopicPartition::destroy(partitions);

  std::vector<ConsumedMessage> out;
  auto last_progress = std::chrono::steady_clock::now();
  while (out.size() < expected && std::chrono::steady_clock::now() - last_progress < quiet) {
    std::unique_ptr<RdKafka::Message> msg(consumer->consume(200));
    if (msg->err() != RdKafka::ERR_NO_ERROR) continue;
    ConsumedMessage m;
    if (msg->key()) m.key = *msg->key();
    m.value.assign(static_cast<const char*>(msg->payload()), msg->len());
    m.partition = msg->partition();
    m.offset = msg->offset();
    if (auto* headers = msg->headers()) {
      for (const auto& h : headers->get_all()) {
        m.headers[h.key()] = std::string(static_cast<const char*>(h.value()), h.value_size());
      }
    }
    out.push_back(std::move(m));
    last_progress = std::chrono::steady_clock::now();
  }
  consumer->close();
  return out;
}

}  // namespace billing::testing

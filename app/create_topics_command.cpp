#include <algorithm>
#include <iostream>

#include "app/commands.h"
#include "common/config_reader.h"
#include "common/kafka_admin.h"
#include "common/kafka_settings.h"

namespace billing::app {

/// Creates the events topic, the usage topic and their dead-letter topics. Partitions bound how many workers consume in parallel; events
/// of one object share a partition (keyed by object id), so more partitions never break per-object order.
int runCreateTopics(const Args& args) {
  if (!args.empty()) {
    std::cerr << "billing create-topics takes no options; it reads BILLING_KAFKA_* variables\n";
    return kExitUsage;
  }
  auto env = common::Environment::fromProcess();
  common::ConfigReader reader(env);
  auto settings = kafka::readKafkaSettings(reader);
  kafka::TopicSpec events;
  events.name = reader.string("BILLING_KAFKA_EVENTS_TOPIC", "stripe.events");
  events.partitions = static_cast<int>(reader.integer("BILLING_KAFKA_EVENTS_PARTITIONS", 12, 1, 10000));
  events.replication_factor = static_cast<int>(reader.integer("BILLING_KAFKA_REPLICATION_FACTOR", 3, 1, 16));
  if (!kafka::validTopicName(events.name)) reader.addError("BILLING_KAFKA_EVENTS_TOPIC is not a valid topic name");
  // Dead letters are rare and read by operators: few partitions, same durability.
  kafka::TopicSpec dead_letters;
  dead_letters.name = reader.string("BILLING_KAFKA_DLQ_TOPIC", events.name + ".dlq");
  dead_letters.partitions = std::min(events.partitions, 3);
  dead_letters.replication_factor = events.replication_factor;
  if (!kafka::validTopicName(dead_letters.name)) reader.addError("BILLING_KAFKA_DLQ_TOPIC is not a valid topic name");
  // Usage: one message per accepted batch, keyed by account; partitions bound the usage reporters in parallel.
  kafka::TopicSpec usage;
  usage.name = reader.string("BILLING_KAFKA_USAGE_TOPIC", "stripe.usage");
  usage.partitions = static_cast<int>(reader.integer("BILLING_KAFKA_USAGE_PARTITIONS", 6, 1, 10000));
  usage.replication_factor = events.replication_factor;
  if (!kafka::validTopicName(usage.name)) reader.addError("BILLING_KAFKA_USAGE_TOPIC is not a valid topic name");
  kafka::TopicSpec usage_dead_letters;
  usage_dead_letters.name = reader.string("BILLING_KAFKA_USAGE_DLQ_TOPIC", usage.name + ".dlq");
  usage_dead_letters.partitions = 1;
  usage_dead_letters.replication_factor = events.replication_factor;
  if (!kafka::validTopicName(usage_dead_letters.name)) reader.addError("BILLING_KAFKA_USAGE_DLQ_TOPIC is not a valid topic name");
  if (!reader.errors().empty()) {
    std::cerr << "billing create-topics: invalid configuration:\n";
    for (const auto& e : reader.errors()) std::cerr << "  - " << e << "\n";
    return kExitUsage;
  }
  for (const auto& topic : {events, dead_letters, usage, usage_dead_letters}) {
    auto error = kafka::ensureTopic(settings, topic, 15000);
    if (!error.empty()) {
      std::cerr << "billing create-topics: " << topic.name << ": " << error << "\n";
      return kExitFailure;
    }
    std::cout << "topic " << topic.name << " ready (" << topic.partitions << " partitions requested)\n";
  }
  return kExitOk;
}

}  // namespace billing::app

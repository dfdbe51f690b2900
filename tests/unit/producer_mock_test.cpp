#include <catch2/catch.hpp>

#include "common/kafka_producer.h"
#include "tests/support/mock_kafka.h"
#include "tests/support/topic_reader.h"

using namespace billing;

TEST_CASE("durable producer: delivered messages are on the topic with key and headers", "[kafka][mock]") {
  testing::MockKafka cluster;
  cluster.createTopic("events", 3);
  kafka::KafkaSettings settings;
  settings.brokers = cluster.bootstrap();
  kafka::DurableProducer producer(settings, {});
  REQUIRE(producer.topicAvailable("events", 5000));

  auto result = producer.produce("events", "sub_1", "{\"a\":1}", {{"stripe-event-id", "evt_1"}});
  REQUIRE(result.status == kafka::DeliveryStatus::Delivered);
  CHECK(result.offset >= 0);

  auto messages = testing::readTopic(cluster.bootstrap(), "events", 1);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].key == "sub_1");
  CHECK(messages[0].value == "{\"a\":1}");
  CHECK(messages[0].headers.at("stripe-event-id") == "evt_1");
}

TEST_CASE("durable producer: same key goes to the same partition in order", "[kafka][mock]") {
  testing::MockKafka cluster;
  cluster.createTopic("events", 6);
  kafka::KafkaSettings settings;
  settings.brokers = cluster.bootstrap();
  kafka::DurableProducer producer(settings, {});
  std::int32_t partition = -1;
  for (int i = 0; i < 20; ++i) {
    auto r = producer.produce("events", "cus_same", std::to_string(i), {});
    REQUIRE(r.status == kafka::DeliveryStatus::Delivered);
    if (partition < 0) partition = r.partition;
    CHECK(r.partition == partition);
  }
  auto messages = testing::readTopic(cluster.bootstrap(), "events", 20);
  REQUIRE(messages.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(messages[static_cast<std::size_t>(i)].value == std::to_string(i));
}

TEST_CASE("durable producer: broker down means not delivered and never a false success", "[kafka][mock]") {
  testing::MockKafka cluster;
  cluster.createTopic("events", 1);
  kafka::KafkaSettings settings;
  settings.brokers = cluster.bootstrap();
  kafka::ProducerOptions options;
  options.delivery_timeout_ms = 1500;
  kafka::DurableProducer producer(settings, options);
  REQUIRE(producer.produce("events", "k", "before", {}).status == kafka::DeliveryStatus::Delivered);
  cluster.setBrokerDown(true);
  auto result = producer.produce("events", "k", "during", {});
  CHECK(result.status != kafka::DeliveryStatus::Delivered);
  cluster.setBrokerDown(false);
}

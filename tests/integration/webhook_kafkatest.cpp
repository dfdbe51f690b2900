// The receiver against a real Apache Kafka 4.1 broker (single KRaft node) that each test starts and stops
// through scripts/kafka.sh. This is also the proof that Debian's librdkafka 2.0.2 works with Kafka 4.1.
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/support/fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_broker.h"
#include "tests/support/running_receiver.h"
#include "tests/support/topic_reader.h"
#include "webhook/signature.h"

using namespace billing;

namespace {

const std::string kSecret = "whsec_integration_secret";
const std::string kTopic = "stripe.events";

testing::HttpReply post(testing::HttpClient& client, const std::string& body, const std::string& secret = kSecret) {
  return testing::postSigned(client, body, secret);
}

// A sample event with its id replaced, so every delivery in a test is distinguishable.
std::string withEventId(const std::string& body, const std::string& id) {
  auto dom = nlohmann::json::parse(body);
  auto old_id = dom["id"].get<std::string>();
  auto copy = body;
  copy.replace(copy.find(old_id), old_id.size(), id);
  return copy;
}

}  // namespace

TEST_CASE("real kafka: signed events land byte-for-byte with key and headers and forged ones never do",
          "[integration][kafka]") {
  testing::KafkaBroker broker;
  broker.createTopic(kTopic, 6);
  testing::RunningReceiver receiver(broker.address(), {kSecret}, 10000);
  receiver.waitReady(30);
  // Topics are never auto-created: a missing topic keeps the receiver unready instead of inventing one.
  CHECK_FALSE(receiver.producer->topicAvailable("no-such-topic", 3000));
  testing::HttpClient client(receiver.server->port());

  auto events = testing::sampleEvents();
  for (const auto& event : events) {
    auto reply = post(client, event.body);
    INFO(event.name << " " << reply.body);
    REQUIRE(reply.status == 200);
  }
  // Forgeries: wrong secret, tampered body, replayed old signature. Each carries a marker id.
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  for (std::size_t i = 0; i < 10; ++i) {
    auto forged = withEventId(events[i].body, "evt_FORGED_" + std::to_string(i));
    CHECK(post(client, forged, "whsec_attacker_secret").status == 400);
    auto header = webhook::makeSignatureHeader(kSecret, now, events[i].body);
    CHECK(client.request("POST", "/webhooks/stripe", forged, {{"Stripe-Signature", header}}).status == 400);
    auto old = webhook::makeSignatureHeader(kSecret, now - 3600, forged);
    CHECK(client.request("POST", "/webhooks/stripe", forged, {{"Stripe-Signature", old}}).status == 400);
  }

  // Read everything there is (ask for more than expected and wait for quiet).
  auto messages = testing::readTopic(broker.address(), kTopic, events.size() + 1, std::chrono::seconds(4));
  REQUIRE(messages.size() == events.size());
  std::map<std::string, std::set<std::int32_t>> partitions_by_key;
  std::set<std::string> bodies;
  for (const auto& m : messages) {
    CHECK(m.value.find("evt_FORGED_") == std::string::npos);
    bodies.insert(m.value);
    partitions_by_key[m.key].insert(m.partition);
    auto dom = nlohmann::json::parse(m.value);
    CHECK(m.headers.at("stripe-event-id") == dom["id"]);
    CHECK(m.headers.at("stripe-event-type") == dom["type"]);
    auto object_id = dom.contains("related_object") ? dom["related_object"]["id"] : dom["data"]["object"]["id"];
    CHECK(m.key == object_id.get<std::string>());
  }
  for (const auto& event : events) CHECK(bodies.count(event.body) == 1);  // byte-for-byte
  for (const auto& [key, parts] : partitions_by_key) {
    INFO(key);
    CHECK(parts.size() == 1);  // one object, one partition: per-object order holds
  }
}

TEST_CASE("real kafka: broker stopped gives 503 and never 2xx and after restart every acknowledged event is there",
          "[integration][kafka]") {
  testing::KafkaBroker broker;
  broker.createTopic(kTopic, 3);
  testing::RunningReceiver receiver(broker.address(), {kSecret}, 3000);
  receiver.waitReady(30);
  auto events = testing::sampleEvents();
  std::set<std::string> acknowledged;

  // Phase A: broker up.
  testing::HttpClient client(receiver.server->port());
  for (int i = 0; i < 20; ++i) {
    auto id = "evt_A_" + std::to_string(i);
    REQUIRE(post(client, withEventId(events[static_cast<std::size_t>(i)].body, id)).status == 200);
    acknowledged.insert(id);
  }

  // Phase B: broker stopped; concurrent deliveries must all be refused with 503 + Retry-After.
  broker.stop();
  std::atomic<int> ok{0}, unavailable{0}, other{0}, missing_retry_after{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      testing::HttpClient c(receiver.server->port());
      for (int i = 0; i < 3; ++i) {
        auto reply = post(c, withEventId(events[static_cast<std::size_t>(t * 3 + i)].body,
                                         "evt_B_" + std::to_string(t) + "_" + std::to_string(i)));
        if (reply.status == 503) {
          ++unavailable;
          if (reply.headers.count("Retry-After") == 0) ++missing_retry_after;
        } else if (reply.status / 100 == 2) {
          ++ok;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 0);
  CHECK(other == 0);
  CHECK(unavailable == 12);
  CHECK(missing_retry_after == 0);
  CHECK_FALSE(receiver.server->ready());

  // Phase C: broker back (same ports, same data). Stripe retries the refused ones; new ones flow again.
  broker.start();
  receiver.waitReady(60);
  testing::HttpClient client2(receiver.server->port());
  auto deliver = [&](const std::string& body, const std::string& id) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      auto reply = post(client2, body);
      if (reply.status == 200) {
        acknowledged.insert(id);
        return;
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    FAIL("event " << id << " never acknowledged after the broker came back");
  };
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 3; ++i) {
      auto id = "evt_B_" + std::to_string(t) + "_" + std::to_string(i);
      deliver(withEventId(events[static_cast<std::size_t>(t * 3 + i)].body, id), id);
    }
  }
  for (int i = 0; i < 20; ++i) {
    auto id = "evt_C_" + std::to_string(i);
    deliver(withEventId(events[static_cast<std::size_t>(i)].body, id), id);
  }

  auto messages = testing::readTopic(broker.address(), kTopic, acknowledged.size() + 100, std::chrono::seconds(4));
  std::set<std::string> on_topic;
  for (const auto& m : messages) on_topic.insert(m.headers.at("stripe-event-id"));
  for (const auto& id : acknowledged) {
    INFO(id);
    CHECK(on_topic.count(id) == 1);
  }
  CHECK(acknowledged.size() == 52);
  CHECK_FALSE(receiver.producer->fatal());
}

TEST_CASE("real kafka: librdkafka 2.0.2 consumer groups work with Kafka 4.1 (join and commit and resume)",
          "[integration][kafka]") {
  testing::KafkaBroker broker;
  broker.createTopic("group.check", 2);
  kafka::KafkaSettings settings;
  settings.brokers = broker.address();
  {
    kafka::DurableProducer producer(settings, {});
    for (int i = 0; i < 10; ++i) {
      REQUIRE(producer.produce("group.check", "k" + std::to_string(i), std::to_string(i), {}).status ==
              kafka::DeliveryStatus::Delivered);
    }
  }
  auto consume = [&](int wanted) {
    std::string err;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    conf->set("bootstrap.servers", broker.address(), err);
    conf->set("group.id", "billing-check", err);
    conf->set("auto.offset.reset", "earliest", err);
    conf->set("enable.auto.commit", "false", err);
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
    REQUIRE(consumer);
    REQUIRE(consumer->subscribe({"group.check"}) == RdKafka::ERR_NO_ERROR);
    std::vector<std::string> got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (static_cast<int>(got.size()) < wanted && std::chrono::steady_clock::now() < deadline) {
      std::unique_ptr<RdKafka::Message> msg(consumer->consume(200));
      if (msg->err() != RdKafka::ERR_NO_ERROR) continue;
      got.emplace_back(static_cast<const char*>(msg->payload()), msg->len());
      REQUIRE(consumer->commitSync(msg.get()) == RdKafka::ERR_NO_ERROR);
    }
    consumer->close();
    return got;
  };
  CHECK(consume(10).size() == 10);
  // Same group again: everything was committed, so nothing is redelivered.
  {
    kafka::DurableProducer producer(settings, {});
    REQUIRE(producer.produce("group.check", "k", "after", {}).status == kafka::DeliveryStatus::Delivered);
  }
  CHECK(consume(1) == std::vector<std::string>{"after"});
}

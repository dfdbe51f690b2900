#include <iostream>
#include <nlohmann/json.hpp>

#include "app/command_help.h"
#include "app/commands.h"
#include "common/config_reader.h"
#include "common/kafka_producer.h"
#include "common/kafka_settings.h"
#include "common/postgres.h"
#include "workers/dead_letters.h"

namespace billing::app {
namespace {

constexpr const char* kUsage = R"(usage: billing dlq list [--all] [--limit N]
       billing dlq replay (--id N | --all-pending)

list     prints dead-lettered events as JSON lines (pending ones; --all includes replayed)
replay   sends events back to the events topic (same key, payload and headers) and marks them replayed;
         the worker applies them again, and dead-letters them again if they still fail
)";

nlohmann::json describe(const workers::DeadLetter& d) {
  return {{"id", d.id},         {"event_id", d.event_id},   {"event_type", d.event_type}, {"reason", d.reason},
          {"error", d.error},   {"attempts", d.attempts},   {"topic", d.topic},           {"partition", d.partition},
          {"offset", d.offset}, {"failed_at", d.failed_at}, {"replayed_at", d.replayed_at.empty() ? nlohmann::json() : nlohmann::json(d.replayed_at)},
          {"payload_bytes", d.payload.size()}};
}

}  // namespace

int runDlq(const Args& args) {
  if (args.empty()) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  if (asksForHelp(args)) {
    std::cout << kUsage;
    return kExitOk;
  }
  const std::string& action = args[0];
  bool all = false, all_pending = false;
  long long limit = 100, id = 0;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--all") all = true;
    else if (args[i] == "--all-pending") all_pending = true;
    else if (args[i] == "--limit" && nextPositiveNumber(args, i, limit)) continue;
    else if (args[i] == "--id" && nextPositiveNumber(args, i, id)) continue;
    else {
      std::cerr << "billing dlq: bad option '" << args[i] << "'\n" << kUsage;
      return kExitUsage;
    }
  }
  if ((action != "list" && action != "replay") || (action == "replay" && (id == 0) == !all_pending)) {
    std::cerr << kUsage;
    return kExitUsage;
  }

  auto env = common::Environment::fromProcess();
  common::ConfigReader reader(env);
  auto url = reader.secret("BILLING_DATABASE_URL", true).value_or("");
  kafka::KafkaSettings kafka_settings;
  std::string topic;
  if (action == "replay") {
    kafka_settings = kafka::readKafkaSettings(reader);
    topic = reader.string("BILLING_KAFKA_EVENTS_TOPIC", "stripe.events");
  }
  if (!reader.errors().empty()) {
    std::cerr << "billing dlq: invalid configuration:\n";
    for (const auto& e : reader.errors()) std::cerr << "  - " << e << "\n";
    return kExitUsage;
  }
  try {
    pg::Connection db(url);
    workers::DeadLetterStore store(db);
    if (action == "list") {
      for (const auto& d : store.list(all, static_cast<int>(limit))) std::cout << describe(d).dump() << "\n";
      return kExitOk;
    }
    std::vector<workers::DeadLetter> targets;
    if (id != 0) {
      auto found = store.get(id);
      if (!found) {
        std::cerr << "billing dlq: no dead letter with id " << id << "\n";
        return kExitFailure;
      }
      targets.push_back(*found);
    } else {
      targets = store.list(false, 100000);
    }
    kafka::DurableProducer producer(kafka_settings, {});
    int replayed = 0;
    for (const auto& d : targets) {
      kafka::MessageHeaders headers = {{"stripe-event-id", d.event_id}, {"stripe-event-type", d.event_type},
                                       {"dlq-replay-of", std::to_string(d.id)}};
      auto delivery = producer.produce(topic, d.key, d.payload, headers);
      if (delivery.status != kafka::DeliveryStatus::Delivered) {
        std::cerr << "billing dlq: dead letter " << d.id << " not replayed: " << kafka::toString(delivery.status) << " "
                  << delivery.error << "\n";
        return kExitFailure;
      }
      store.markReplayed(d.id);
      ++replayed;
      std::cout << nlohmann::json{{"replayed", d.id}, {"event_id", d.event_id}, {"partition", delivery.partition},
                                  {"offset", delivery.offset}}.dump()
                << "\n";
    }
    std::cerr << replayed << " dead letter(s) replayed to " << topic << "\n";
    return kExitOk;
  } catch (const pg::PgError& e) {
    std::cerr << "billing dlq: database: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace billing::app

#include "workers/event_replayer.h"

#include <stdexcept>

#include "sync/event_routes.h"

namespace billing::workers {
namespace {

// Stripe's list filter takes at most 20 types per request.
constexpr std::size_t kTypesPerRequest = 20;

}  // namespace

ReplayResult replayEvents(stripe::StripeClient& stripe, kafka::DurableProducer& producer, const ReplayOptions& options,
                          const std::function<void(const ReplayResult&)>& on_page) {
  auto types = options.types.empty() ? sync::handledEventTypes() : options.types;
  ReplayResult result;
  for (std::size_t first = 0; first < types.size(); first += kTypesPerRequest) {
    std::string starting_after;
    for (;;) {
      stripe::FormParams query = {{"limit", "100"}, {"created[gte]", std::to_string(options.since)}};
      if (options.until) query.emplace_back("created[lte]", std::to_string(*options.until));
      for (std::size_t i = first; i < std::min(types.size(), first + kTypesPerRequest); ++i) {
        query.emplace_back("types[]", types[i]);
      }
      if (!starting_after.empty()) query.emplace_back("starting_after", starting_after);
      auto page = stripe.get("/v1/events", query);
      ++result.pages;
      const auto& data = page.at("data");
      for (const auto& event : data) {
        const auto& object = event.at("data").at("object");
        std::string id = event.at("id").get<std::string>();
        std::string object_id = object.value("id", "");
        kafka::MessageHeaders headers = {
            {"stripe-event-id", id},
            {"stripe-event-type", event.value("type", "")},
            {"stripe-event-object", "event"},
            {"stripe-object-type", object.value("object", "")},
            {"stripe-livemode", event.value("livemode", false) ? "true" : "false"},
            {"stripe-api-version", event.value("api_version", "")},
            {"stripe-event-created", std::to_string(event.value("created", 0LL))},
            {"replayed-from", "events-api"},
        };
        auto delivery = producer.produce(options.topic, object_id.empty() ? id : object_id, event.dump(), headers);
        if (delivery.status != kafka::DeliveryStatus::Delivered) {
          throw std::runtime_error("event " + id + " not acknowledged by Kafka: " + kafka::toString(delivery.status) +
                                   " " + delivery.error);
        }
        ++result.produced;
        starting_after = id;
      }
      if (on_page) on_page(result);
      if (data.empty() || !page.value("has_more", false)) break;
    }
  }
  return result;
}

}  // namespace billing::workers

#include "tests/support/event_delivery.h"

#include <chrono>
#include <ctime>
#include <iostream>

#include "tests/support/http_client.h"
#include "webhook/signature.h"

namespace billing::testing {

EventDelivery::EventDelivery(FakeStripe& fake, int port, std::string path, std::string secret)
    : fake_(fake), port_(port), path_(std::move(path)), secret_(std::move(secret)), thread_([this] { run(); }) {}

EventDelivery::~EventDelivery() {
  stop_ = true;
  thread_.join();
}

void EventDelivery::run() {
  // Where the last run stopped (a saved account), else after the seeded history, which is backfilled, not delivered.
  std::size_t delivered = fake_.deliveredEvents().value_or(fake_.events().size());
  fake_.setDeliveredEvents(delivered);
  int pause_ms = 200;
  while (!stop_) {
    auto events = fake_.events();
    if (delivered >= events.size()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    const std::string body = events[delivered].dump();
    int status = 0;
    try {
      HttpClient client(port_);
      auto header = webhook::makeSignatureHeader(secret_, static_cast<std::int64_t>(std::time(nullptr)), body);
      status = client.request("POST", path_, body, {{"Stripe-Signature", header}, {"Content-Type", "application/json"}}).status;
    } catch (const std::exception& e) {
      std::cerr << "fake-stripe: delivery of " << events[delivered].value("id", "") << " failed: " << e.what() << std::endl;
    }
    if (status / 100 == 2) {
      fake_.setDeliveredEvents(++delivered);
      pause_ms = 200;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
      pause_ms = std::min(pause_ms * 2, 5000);
    }
  }
}

}  // namespace billing::testing

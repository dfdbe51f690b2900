#pragma once
#include <atomic>
#include <string>
#include <thread>

#include "tests/support/fake_stripe.h"

namespace billing::testing {

/// Delivers the fake's events to a webhook endpoint as Stripe does: each one POSTed as JSON with a
/// `Stripe-Signature` over its body, retried (with a growing pause, at most 5 s) until the endpoint answers 2xx
/// (https://docs.stripe.com/webhooks#retries). The demo (fake-stripe --deliver-to) uses it so that what happens at
/// the fake (a Checkout completed, an invoice paid) reaches the service through its webhook path. With a saved
/// account (FakeStripe::keepStateIn) it resumes where the last run stopped: events made but not yet delivered when
/// the demo stopped are delivered at its next start, as Stripe keeps retrying an endpoint that was down.
class EventDelivery {
 public:
  /// `port`, `path`: the receiver on 127.0.0.1; `secret`: its signing secret (whsec_...).
  EventDelivery(FakeStripe& fake, int port, std::string path, std::string secret);
  ~EventDelivery();
  EventDelivery(const EventDelivery&) = delete;
  EventDelivery& operator=(const EventDelivery&) = delete;

 private:
  void run();

  FakeStripe& fake_;
  int port_;
  std::string path_, secret_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace billing::testing

#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/local_http_server.h"

namespace billing::testing {
namespace fake {
struct State;
}

/// A stateful stand-in for the Stripe API that behaves like Stripe where the service depends on it: idempotency as
/// Stripe saves and replays it, Date stamped after the read, calendar billing periods, test clocks that renew,
/// finalize and collect, prorations with trials and discounts, subscription schedules with their phases, payment
/// outcomes per test payment method (declines, 3-D Secure), multi-item subscriptions, meter usage billed into
/// invoices with the finalization grace, asynchronous v2 meter validation, eventually consistent Search, portal
/// configuration defaults, and Stripe's refusals of unknown or mistyped parameters. Each behaviour cites the Stripe
/// page it follows (tests/support/fake_stripe/*.cpp); tests/contract/ checks them, against Stripe test mode too.
/// Requests it gets are also checked against stripe-mock (Stripe's OpenAPI validation) by the flows' tests.
class FakeStripe {
 public:
  /// Listens on 127.0.0.1:`port` (0: any free port).
  explicit FakeStripe(int port = 0);
  ~FakeStripe();
  FakeStripe(const FakeStripe&) = delete;
  FakeStripe& operator=(const FakeStripe&) = delete;

  std::string baseUrl() const;

  /// Keeps the account in the file at `path`, as Stripe keeps an account: loads it if the file exists (true), else
  /// starts a new account whose ids carry a tag of their own (false); from then on every change is saved there
  /// before its answer leaves (written aside, then renamed over the old file). Throws std::runtime_error when the
  /// file can't be read or isn't a saved account.
  bool keepStateIn(const std::string& path);
  /// Saves the account now (after seeding it through put(), which doesn't save).
  void saveState();
  /// How many of events() were delivered to the webhook endpoint, if a delivery ever ran (EventDelivery); saved.
  std::optional<std::size_t> deliveredEvents() const;
  void setDeliveredEvents(std::size_t count);

  /// Stores (or replaces) an object under its `object` type and `id`, as if it had existed for a while (Search
  /// finds it at once).
  void put(const nlohmann::json& object);
  /// Marks an object deleted: GET answers a `deleted: true` stub (customers) or 404 resource_missing (others).
  void remove(const std::string& object_type, const std::string& id);
  void addEvent(const nlohmann::json& event);
  /// The wall clock (Date, and objects not on a test clock), unix seconds; 0 (the default) means the real clock.
  void setClock(std::int64_t unix_seconds);
  /// Seconds between Stripe reading an object and stamping the answer's Date (default 1).
  void setLatency(std::int64_t seconds);
  /// How long after a write Customer Search finds the customer (default 60 s of the wall clock).
  void setSearchDelay(std::int64_t seconds);
  /// The next `count` requests answer `status` with a Stripe error body. A 429 is refused before execution (not
  /// saved for its Idempotency-Key); a 5xx happened during execution and is saved, with `Stripe-Should-Retry: false`,
  /// as Stripe does (https://docs.stripe.com/api/idempotent_requests: "including 500 errors"). With `request`
  /// ("POST /v1/subscription_schedules/"), only requests whose method and path start with it fail; others pass.
  void failNext(int count, int status, const std::string& request = "");
  /// The next `count` requests are executed (and saved for their Idempotency-Key) but their connection closes before
  /// the answer: a network failure after Stripe did the work, which the client can only resend
  /// (https://docs.stripe.com/api/idempotent_requests: "if a connection error occurs, you can safely repeat the
  /// request"; for meter events the identifier is what makes a resend count once,
  /// https://docs.stripe.com/api/billing/meter-event/create#create_billing_meter_event-identifier).
  void loseAnswers(int count);
  /// Answers still to be lost.
  int lostAnswersLeft() const;
  /// Scripted failures not yet answered.
  int scriptedFailuresLeft() const;
  /// Charges to this customer are declined (card_error, card_declined), as with pm_card_chargeCustomerFail.
  void declineCustomer(const std::string& customer_id);
  /// What the customer does on Checkout's hosted page: pays, and the session's subscription is made (with its
  /// events). Returns the subscription.
  nlohmann::json completeCheckout(const std::string& session_id);
  /// Serve stand-ins for Stripe's hosted Checkout and invoice pages at `base_url`/_hosted/ (the demo: a browser can
  /// pay and authenticate there); Checkout Session and invoice URLs then point at them.
  void setHostedPagesBase(const std::string& base_url);
  /// Loses the most recent meter event of this customer (a drift for `billing usage reconcile` to find).
  void loseLastMeterEvent(const std::string& customer_id);
  /// The customer's card works again (a fixed payment method, as with pm_card_visa).
  void approveCustomer(const std::string& customer_id);
  /// Payments of this customer need 3-D Secure, as with pm_card_authenticationRequired.
  void requireAuthentication(const std::string& customer_id);
  /// The customer pays an open invoice on its hosted page (authenticates, or uses a working card): the invoice is
  /// paid and the subscription's pending update, if that invoice carries one, applied. False if it isn't open.
  bool completePayment(const std::string& invoice_id);
  /// A stored object (null if none).
  nlohmann::json object(const std::string& object_type, const std::string& id) const;
  /// Events the fake emitted for its own changes (and those added), oldest first.
  std::vector<nlohmann::json> events() const;

  /// Meter events Stripe accepted (v1 and the v2 stream), each identifier once, in arrival order.
  struct MeterEvent {
    std::string identifier, event_name, customer;
    std::int64_t value = 0, timestamp = 0;
    std::string via;  // v1 | v2
  };
  std::vector<MeterEvent> meterEvents() const;
  /// Meter events sent again under an identifier already accepted (dropped, as Stripe does).
  std::int64_t meterDuplicates() const;
  /// The v2 events as an event destination receives them: thin (no `data`; the receiver fetches the event,
  /// https://docs.stripe.com/event-destinations#thin-events).
  std::vector<nlohmann::json> thinEvents() const;
  /// A v2 event served by GET /v2/core/events/{id} (e.g. a meter error report).
  void putV2Event(const nlohmann::json& event);

  std::vector<RecordedRequest> requests() const;
  /// Requests whose path (without query) starts with `prefix`.
  std::size_t count(const std::string& prefix) const;

 private:
  std::unique_ptr<fake::State> state_;
  std::unique_ptr<LocalHttpServer> server_;  // last: stopped (handlers joined) before the state goes away
};

}  // namespace billing::testing

#pragma once
// The contract suite's view of Stripe: plain HTTP requests as the API reference documents them (form bodies written
// out as Stripe's bracket notation), against the Stripe fake by default or Stripe test mode when
// STRIPE_TEST_SECRET_KEY is set. Nothing here knows the service's code.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace billing::testing {
class FakeStripe;
}

namespace contract {

using json = nlohmann::json;
using Form = std::vector<std::pair<std::string, std::string>>;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  json body;
  std::int64_t date = 0;  // the Date header, unix seconds
  std::string header(const std::string& name) const;
};

class StripeApi {
 public:
  /// The run's target: Stripe test mode with STRIPE_TEST_SECRET_KEY (sk_test_ only; a live key is refused), else the
  /// fake, started on first use.
  static StripeApi& target();
  bool real() const { return real_; }
  std::string name() const { return real_ ? "Stripe test mode" : "the Stripe fake"; }
  /// The fake, or null against Stripe.
  billing::testing::FakeStripe* fake() const { return fake_.get(); }

  /// POST with a new Idempotency-Key unless one is given.
  Reply post(const std::string& path, const Form& form, const std::string& idempotency_key = "");
  Reply get(const std::string& path, const Form& query = {});
  Reply del(const std::string& path);
  /// The body of a 2xx; anything else fails the test with Stripe's error.
  json ok(const Reply& reply) const;

  /// A test clock frozen at `frozen_time`, deleted (with what was made on it) at the end of the run.
  std::string newClock(std::int64_t frozen_time);
  /// Advances a clock and waits until Stripe says it is ready (minutes at Stripe; at once in the fake).
  void advance(const std::string& clock_id, std::int64_t to);
  /// Lets `seconds` of wall-clock time pass (the fake's clock is moved; at Stripe, this sleeps).
  void passWallClock(std::int64_t seconds);
  /// A customer on `clock` with a default card from Stripe's test payment methods (pm_card_visa,
  /// pm_card_chargeCustomerFail, pm_card_authenticationRequired).
  std::string newCustomer(const std::string& clock, const std::string& card = "pm_card_visa");
  /// A product with a recurring licensed price; returns the price id.
  std::string newPrice(std::int64_t unit_amount, const std::string& interval = "month", const std::string& currency = "usd");

  static std::string newKey();
  ~StripeApi();

 private:
  StripeApi();
  Reply send(const std::string& method, const std::string& path_and_query, const std::string& body,
             const std::string& idempotency_key);

  bool real_ = false;
  std::string base_url_;
  std::string key_;
  std::unique_ptr<billing::testing::FakeStripe> fake_;
  std::vector<std::string> clocks_;
  std::int64_t wall_shift_ = 0;
};

std::string encode(const Form& form);

}  // namespace contract

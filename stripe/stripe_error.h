#pragma once
#include <stdexcept>
#include <string>

namespace billing::stripe {

/// A request Stripe refused or that never got an answer. Carries Stripe's error object fields and the request id
/// (quote it to Stripe support). `status` is 0 for network errors and timeouts.
class StripeError : public std::runtime_error {
 public:
  StripeError(int status, std::string type, std::string code, std::string message, std::string request_id = {},
              std::string param = {}, std::string decline_code = {});

  int status() const { return status_; }
  /// Stripe's error type: api_error, card_error, idempotency_error, invalid_request_error; ours: network_error.
  const std::string& type() const { return type_; }
  const std::string& code() const { return code_; }  // e.g. resource_missing, card_declined, rate_limit
  const std::string& param() const { return param_; }
  const std::string& declineCode() const { return decline_code_; }
  const std::string& requestId() const { return request_id_; }

  bool isNetwork() const { return status_ == 0; }
  bool isRateLimit() const { return status_ == 429; }
  bool isCardError() const { return type_ == "card_error"; }
  /// Worth trying again later (network, 429, 5xx): callers map it to "unavailable", never to "bad input".
  bool isTransient() const { return status_ == 0 || status_ == 429 || status_ == 409 || status_ >= 500; }

 private:
  int status_;
  std::string type_;
  std::string code_;
  std::string param_;
  std::string decline_code_;
  std::string request_id_;
};

/// Builds the error from a non-2xx response body ({"error": {...}}); tolerates bodies that aren't Stripe's shape.
StripeError parseStripeError(int status, const std::string& body, const std::string& request_id);

}  // namespace billing::stripe

#pragma once
#include <stdexcept>
#include <string>

#include "stripe/stripe_error.h"

namespace billing::api {

/// An answer other than success, in the API's one error shape: {"error": {"type", "code", "message", "request_id"}}.
/// type: invalid_request_error (4xx caused by the request), authentication_error, permission_error,
/// payment_error (402), rate_limit_error, api_error (our side or Stripe's).
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), type_(std::move(type)), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string type_;
  std::string code_;
};

/// Stripe's refusal as our answer: declined cards 402, Stripe's 4xx as 400 (404 stays 404), its rate limit 503 with
/// the caller asked to retry, outages 502.
ApiError fromStripe(const stripe::StripeError& error);

inline ApiError badRequest(const std::string& code, const std::string& message) {
  return ApiError(400, "invalid_request_error", code, message);
}

}  // namespace billing::api

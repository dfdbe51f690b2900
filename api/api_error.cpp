#include "api/api_error.h"

namespace billing::api {

ApiError fromStripe(const stripe::StripeError& error) {
  const std::string code = error.code().empty() ? "stripe_error" : error.code();
  if (error.type() == "card_error") return ApiError(402, "payment_error", code, error.what());
  if (error.status() == 429) return ApiError(503, "rate_limit_error", "stripe_rate_limited", "Stripe is rate limiting us; retry shortly");
  if (error.status() == 404) return ApiError(404, "invalid_request_error", code, error.what());
  if (error.status() >= 400 && error.status() < 500 && error.status() != 401 && error.status() != 403) {
    return ApiError(400, "invalid_request_error", code, error.what());
  }
  return ApiError(502, "api_error", "stripe_unavailable", "Stripe could not complete the request; retry shortly");
}

}  // namespace billing::api

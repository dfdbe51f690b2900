#include "stripe/stripe_error.h"

#include <nlohmann/json.hpp>

namespace billing::stripe {

StripeError::StripeError(int status, std::string type, std::string code, std::string message, std::string request_id,
                         std::string param, std::string decline_code)
    : std::runtime_error(std::move(message)),
      status_(status),
      type_(std::move(type)),
      code_(std::move(code)),
      param_(std::move(param)),
      decline_code_(std::move(decline_code)),
      request_id_(std::move(request_id)) {}

StripeError parseStripeError(int status, const std::string& body, const std::string& request_id) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    const auto& e = parsed["error"];
    auto text = [&](const char* key) {
      return e.contains(key) && e[key].is_string() ? e[key].get<std::string>() : std::string();
    };
    auto message = text("message");
    if (message.empty()) message = "Stripe answered HTTP " + std::to_string(status);
    return StripeError(status, text("type"), text("code"), message, request_id, text("param"), text("decline_code"));
  }
  return StripeError(status, "api_error", "unexpected_response",
                     "Stripe answered HTTP " + std::to_string(status) + " without an error object", request_id);
}

}  // namespace billing::stripe

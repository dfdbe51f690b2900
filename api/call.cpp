#include "api/call.h"

#include <ctime>

#include "api/api_error.h"
#include "api/billing_reads.h"
#include "api/input_checks.h"

namespace billing::api {

std::string Call::queryValue(const std::string& name) const {
  Poco::URI::QueryParameters parameters;
  try {
    parameters = uri.getQueryParameters();
  } catch (const Poco::Exception&) {
    throw badRequest("invalid_query", "the query string is malformed");
  }
  for (const auto& [k, v] : parameters) {
    if (k == name) {
      checkUrlValue(name, v);
      return v;
    }
  }
  return "";
}

std::string Call::idempotencyKey() const {
  auto header = request.find("Idempotency-Key");
  if (header == request.end()) return "";
  if (header->second.size() > 255) throw badRequest("parameter_invalid", "Idempotency-Key is longer than 255 characters");
  return header->second;
}

std::int64_t unixNow() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string requireString(const nlohmann::json& body, const std::string& field, bool required) {
  if (!body.contains(field)) {
    if (required) throw badRequest("parameter_missing", "missing required field: " + field);
    return "";
  }
  // null is not "left out": openapi.yaml declares these fields strings, not nullable.
  if (!body[field].is_string()) throw badRequest("parameter_invalid", field + " must be a string (or left out)");
  return body[field].get<std::string>();
}

std::string customerOfAccount(pg::Connection& db, const std::string& account_id) {
  auto customer = BillingReads(db).customerOf(account_id);
  if (!customer) throw ApiError(404, "invalid_request_error", "account_not_found", "no such account: " + account_id);
  return *customer;
}

}  // namespace billing::api

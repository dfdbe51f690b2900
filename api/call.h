#pragma once
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/URI.h>

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "api/api_handler.h"
#include "api/authenticator.h"
#include "common/postgres.h"

namespace billing::api {

/// One authenticated request on its way to an endpoint: the route's path parameters and the parsed JSON body.
struct Call {
  Poco::Net::HTTPServerRequest& request;
  const ApiContext& context;
  Caller caller;
  std::map<std::string, std::string> params;
  nlohmann::json body = nlohmann::json::object();
  Poco::URI uri;

  /// The path's {account_id} (access to it was checked before the endpoint runs).
  const std::string& accountId() const { return params.at("account_id"); }
  /// A query parameter's value, "" when absent. Throws ApiError (400) for a malformed query string.
  std::string queryValue(const std::string& name) const;
  /// The caller's Idempotency-Key header ("" when absent). Throws ApiError (400) when over 255 characters.
  std::string idempotencyKey() const;
};

/// Seconds since the epoch, UTC.
std::int64_t unixNow();

/// A body field that must be a string when present. Throws ApiError (400 parameter_missing / parameter_invalid).
std::string requireString(const nlohmann::json& body, const std::string& field, bool required);

/// The account's Stripe customer. Throws ApiError (404 account_not_found).
std::string customerOfAccount(pg::Connection& db, const std::string& account_id);

}  // namespace billing::api

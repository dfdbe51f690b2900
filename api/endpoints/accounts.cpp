// POST /v1/accounts and POST /v1/tokens (API keys only).
#include "api/endpoints/endpoints.h"

#include "api/accounts.h"
#include "api/api_error.h"
#include "api/call.h"

namespace billing::api::endpoints {

std::string postAccounts(Call& call) {
  auto account_id = requireString(call.body, "account_id", true);
  auto email = requireString(call.body, "email", false);
  auto name = requireString(call.body, "name", false);
  auto customer_id = requireString(call.body, "customer_id", false);
  if (!customer_id.empty() && customer_id.rfind("cus_", 0) != 0) {
    throw badRequest("parameter_invalid", "customer_id must be a Stripe customer id (cus_...)");
  }
  auto db = call.context.db.acquire();
  auto account = Accounts(*db, call.context.stripe).ensure(account_id, email, name, customer_id);
  return nlohmann::json{{"account_id", account.account_id}, {"customer_id", account.customer_id},
                        {"created", account.created}}
      .dump();
}

std::string postTokens(Call& call) {
  auto account_id = requireString(call.body, "account_id", true);
  if (!Accounts::validId(account_id)) throw badRequest("invalid_account_id", "account_id is not a valid account id");
  const int max_ttl = call.context.config.token_ttl_seconds;
  int ttl = max_ttl;
  if (call.body.contains("ttl_seconds")) {
    const auto& value = call.body["ttl_seconds"];
    if (!value.is_number_integer() || value.get<long long>() < 30 || value.get<long long>() > max_ttl) {
      throw badRequest("parameter_invalid", "ttl_seconds must be an integer from 30 to " + std::to_string(max_ttl));
    }
    ttl = value.get<int>();
  }
  auto issued = unixNow();
  return nlohmann::json{{"token", call.context.auth.mintAccountToken(account_id, issued, ttl)},
                        {"account_id", account_id},
                        {"expires_at", issued + ttl}}
      .dump();
}

}  // namespace billing::api::endpoints

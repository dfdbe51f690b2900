// Usage: POST /v1/usage (batches from product backends) and the account's usage read.
#include "api/endpoints/endpoints.h"

#include "api/api_error.h"
#include "api/call.h"
#include "api/usage_ingest.h"

namespace billing::api::endpoints {

std::string postUsage(Call& call) {
  if (!call.context.usage_producer) {
    throw ApiError(404, "invalid_request_error", "usage_not_configured", "no meters are configured (BILLING_USAGE_METERS)");
  }
  auto key = call.idempotencyKey();
  auto db = call.context.db.acquire();
  return UsageIngest(*db, *call.context.usage_producer, call.context.config).accept(call.body, key, unixNow()).dump();
}

std::string getUsage(Call& call) {
  auto db = call.context.db.acquire();
  auto customer = customerOfAccount(*db, call.accountId());
  auto answer = usageForAccount(*db, call.context.config, customer);
  answer["account_id"] = call.accountId();
  return answer.dump();
}

}  // namespace billing::api::endpoints

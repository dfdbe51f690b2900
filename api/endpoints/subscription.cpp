// Changes of the account's current subscription: preview, change, cancel, resume, cancel_scheduled_change.
#include "api/endpoints/endpoints.h"

#include "api/api_error.h"
#include "api/call.h"
#include "api/plan_changes.h"

namespace billing::api::endpoints {
namespace {

// Runs one change with the account's customer; whatever it changed, the next read shows it, before the database's
// change notification comes back.
template <typename Change>
std::string change(Call& call, Change&& run) {
  auto db = call.context.db.acquire();
  auto customer = customerOfAccount(*db, call.accountId());
  struct Invalidate {
    ReadCache& cache;
    std::string customer;
    ~Invalidate() { cache.invalidateCustomer(customer); }
  } invalidate{call.context.cache, customer};
  PlanChanges changes(*db, call.context.stripe, call.context.auth);
  return run(changes, customer).dump();
}

}  // namespace

std::string postPreview(Call& call) {
  auto price_id = requireString(call.body, "price_id", true);
  std::int64_t quantity = 1;
  if (call.body.contains("quantity")) {
    const auto& value = call.body["quantity"];
    if (!value.is_number_integer() || value.get<long long>() < 1 || value.get<long long>() > 1000000) {
      throw badRequest("parameter_invalid", "quantity must be an integer from 1 to 1000000");
    }
    quantity = value.get<std::int64_t>();
  }
  return change(call, [&](PlanChanges& changes, const std::string& customer) {
    auto answer = changes.preview(call.accountId(), customer, price_id, quantity, unixNow());
    answer["account_id"] = call.accountId();
    return answer;
  });
}

std::string postChange(Call& call) {
  for (const auto& [field, value] : call.body.items()) {
    if (field != "preview_token" && field != "authenticate_after_change") {
      throw badRequest("parameter_unknown", "unknown field: " + field);
    }
  }
  auto token = requireString(call.body, "preview_token", true);
  bool authenticate_after_change = false;
  if (call.body.contains("authenticate_after_change")) {
    if (!call.body["authenticate_after_change"].is_boolean()) {
      throw badRequest("parameter_invalid", "authenticate_after_change must be true or false");
    }
    authenticate_after_change = call.body["authenticate_after_change"].get<bool>();
  }
  auto key = call.idempotencyKey();
  return change(call, [&](PlanChanges& changes, const std::string& customer) {
    return changes.apply(call.accountId(), customer, token, key, unixNow(), authenticate_after_change);
  });
}

std::string postCancelScheduledChange(Call& call) {
  auto key = call.idempotencyKey();
  return change(call, [&](PlanChanges& changes, const std::string& customer) {
    return changes.cancelScheduledChange(call.accountId(), customer, key);
  });
}

std::string postCancel(Call& call) {
  auto key = call.idempotencyKey();
  return change(call, [&](PlanChanges& changes, const std::string& customer) {
    return changes.setCancelAtPeriodEnd(call.accountId(), customer, true, key, unixNow());
  });
}

std::string postResume(Call& call) {
  auto key = call.idempotencyKey();
  return change(call, [&](PlanChanges& changes, const std::string& customer) {
    return changes.setCancelAtPeriodEnd(call.accountId(), customer, false, key, unixNow());
  });
}

}  // namespace billing::api::endpoints

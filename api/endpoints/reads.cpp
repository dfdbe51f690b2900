// Reads of the synced state: plans, subscription, entitlements (through the read cache) and invoices.
#include "api/endpoints/endpoints.h"

#include "api/api_error.h"
#include "api/billing_reads.h"
#include "api/call.h"

namespace billing::api::endpoints {
namespace {

// Answered from the read cache when it can be; the cache is invalidated by the database's change notifications.
std::string cachedRead(Call& call, const std::string& what) {
  const auto& account_id = call.accountId();
  auto body = call.context.cache.get(account_id, what, [&]() -> std::optional<std::pair<std::string, std::string>> {
    auto db = call.context.db.acquire();
    BillingReads reads(*db, stripe::livemodeOfKey(call.context.config.stripe.api_key));
    auto customer = reads.customerOf(account_id);
    if (!customer) return std::nullopt;
    nlohmann::json answer;
    if (what == "plans") {
      answer = {{"account_id", account_id}, {"plans", reads.plans(*customer)}};
    } else if (what == "subscription") {
      answer = {{"account_id", account_id}, {"subscription", reads.subscription(*customer)}};
    } else {
      answer = reads.entitlements(*customer);
      answer["account_id"] = account_id;
    }
    return std::make_pair(*customer, answer.dump());
  });
  if (!body) throw ApiError(404, "invalid_request_error", "account_not_found", "no such account: " + account_id);
  return *body;
}

}  // namespace

std::string getPlans(Call& call) { return cachedRead(call, "plans"); }
std::string getSubscription(Call& call) { return cachedRead(call, "subscription"); }
std::string getEntitlements(Call& call) { return cachedRead(call, "entitlements"); }

std::string getInvoices(Call& call) {
  auto db = call.context.db.acquire();
  BillingReads reads(*db);
  auto customer = customerOfAccount(*db, call.accountId());
  int limit = 10;
  if (auto text = call.queryValue("limit"); !text.empty()) {
    try {
      std::size_t used = 0;
      limit = std::stoi(text, &used);
      if (used != text.size() || limit < 1 || limit > 100) throw std::out_of_range("limit");
    } catch (const std::exception&) {
      throw badRequest("parameter_invalid", "limit must be an integer from 1 to 100");
    }
  }
  auto page = reads.invoices(customer, limit, call.queryValue("starting_after"));
  if (!page) throw badRequest("parameter_invalid", "starting_after is not one of this account's invoices");
  (*page)["account_id"] = call.accountId();
  return page->dump();
}

}  // namespace billing::api::endpoints

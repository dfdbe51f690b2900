#include "api/accounts.h"

#include <cctype>

#include "api/api_error.h"
#include "sync/object_fetcher.h"
#include "sync/snapshot_writer.h"

namespace billing::api {

bool Accounts::validId(const std::string& account_id) {
  if (account_id.empty() || account_id.size() > 128) return false;
  for (unsigned char c : account_id) {
    if (!std::isalnum(c) && c != '_' && c != '.' && c != ':' && c != '@' && c != '-') return false;
  }
  return true;
}

void Accounts::syncCustomer(const stripe::StripeClient::Response& response) {
  sync::writeAnswers(db_, {{sync::ObjectKind::Customer, &response}});
}

Account Accounts::ensure(const std::string& account_id, const std::string& email, const std::string& name,
                         const std::string& adopt_customer_id) {
  if (!validId(account_id)) throw badRequest("invalid_account_id", "account_id must be 1-128 of A-Z a-z 0-9 _ . : @ -");
  auto existing = db_.query("SELECT customer_id FROM accounts WHERE account_id = $1", {account_id});
  if (!existing.empty()) {
    auto customer = existing[0][0].value_or("");
    if (!adopt_customer_id.empty() && adopt_customer_id != customer) {
      throw ApiError(409, "invalid_request_error", "account_exists",
                     "account " + account_id + " already bills to another customer");
    }
    return {account_id, customer, false};
  }

  std::string customer_id;
  if (!adopt_customer_id.empty()) {
    auto found = stripe_.fetch("/v1/customers/" + adopt_customer_id);
    if (found.body.value("deleted", false)) {
      throw ApiError(400, "invalid_request_error", "customer_deleted", "customer " + adopt_customer_id + " is deleted");
    }
    syncCustomer(found);
    customer_id = adopt_customer_id;
  } else {
    // A customer made for this account earlier (e.g. before a crash, beyond the 24 h idempotency window).
    auto search = stripe_.fetch("/v1/customers/search",
                                {{"query", "metadata['account_id']:'" + account_id + "'"}, {"limit", "2"}});
    const auto& data = search.body.at("data");
    if (!data.empty() && data[0].value("id", "").rfind("cus_", 0) == 0 &&
        data[0].contains("metadata") && data[0]["metadata"].value("account_id", "") == account_id) {
      customer_id = data[0]["id"].get<std::string>();
      // Search is eventually consistent (a hit can be up to a minute old): the customer's state comes from a GET.
      syncCustomer(stripe_.fetch("/v1/customers/" + customer_id));
    } else {
      nlohmann::json params = {{"metadata", {{"account_id", account_id}}}};
      if (!email.empty()) params["email"] = email;
      if (!name.empty()) params["name"] = name;
      auto created = stripe_.postWithTime("/v1/customers", params, "account:" + account_id + ":create-customer");
      customer_id = created.body.at("id").get<std::string>();
      syncCustomer(created);
    }
  }
  auto inserted = db_.query(
      "INSERT INTO accounts (account_id, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING customer_id",
      {account_id, customer_id});
  if (!inserted.empty()) return {account_id, customer_id, true};
  // Lost a race with a concurrent first call, or the customer is another account's.
  auto now = db_.query("SELECT customer_id FROM accounts WHERE account_id = $1", {account_id});
  if (!now.empty() && now[0][0] == customer_id) return {account_id, customer_id, false};
  throw ApiError(409, "invalid_request_error", "customer_taken",
                 "customer " + customer_id + " already belongs to another account");
}

}  // namespace billing::api

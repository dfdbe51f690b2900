#pragma once
#include <string>

#include "common/postgres.h"
#include "stripe/stripe_client.h"

namespace billing::api {

struct Account {
  std::string account_id;
  std::string customer_id;
  bool created = false;  // this call made the mapping
};

/// Maps the product's account ids to Stripe customers (table `accounts`).
class Accounts {
 public:
  Accounts(pg::Connection& db, stripe::StripeClient& stripe) : db_(db), stripe_(stripe) {}

  /// The account's customer, creating the mapping on first use: adopt `adopt_customer_id` if given (it must exist
  /// in Stripe and belong to no other account), else a customer whose metadata.account_id is this account (found
  /// with Stripe's search), else a new customer (metadata.account_id set; the Idempotency-Key is derived from the
  /// account, so a retried or concurrent first call creates one customer). The customer is synced at once.
  /// Throws ApiError.
  Account ensure(const std::string& account_id, const std::string& email, const std::string& name,
                 const std::string& adopt_customer_id);

  /// Valid account ids: 1-128 of [A-Za-z0-9_.:@-].
  static bool validId(const std::string& account_id);

 private:
  void syncCustomer(const stripe::StripeClient::Response& response);
  pg::Connection& db_;
  stripe::StripeClient& stripe_;
};

}  // namespace billing::api

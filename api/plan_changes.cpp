#include "api/plan_changes.h"

#include "api/api_error.h"
#include "api/billing_reads.h"
#include "api/change_rules.h"
#include "api/schedule_phases.h"

#include <algorithm>
#include <limits>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <optional>
#include <vector>
#include <stdexcept>
#include "common/advisory_lock.h"
#include "common/digest.h"
#include "common/json_log.h"
#include "common/metrics.h"
#include "common/utc_time.h"
#include "sync/object_fetcher.h"
#include "subscription/invoice_breakdown.h"
#include "subscription/price_amount.h"
#include "subscription/upgrade_payment.h"
#include "subscription/write_attempts.h"
#include "usage/usage_ledger.h"
#include "sync/snapshot_writer.h"

namespace billing::api {
namespace {

// One change of a subscription at a time (see apply).
class ChangeLock : public pg::TryAdvisoryLock {
 public:
  ChangeLock(pg::Connection& db, const std::string& subscription_id) : TryAdvisoryLock(db, "plan-change:" + subscription_id) {}
};


// The items a change moves: the plan item to the new price, and the old plan's own metered prices to the new
// plan's on the same meter, so usage keeps being billed on the new plan; the new plan's metered prices on meters
// the subscription doesn't bill yet are added. Shared metered prices (of a product that isn't the plan) and
// add-ons stay as they are.
struct ItemMoves {
  nlohmann::json update_items = nlohmann::json::array();  // items[] of the subscription update
  std::map<std::string, std::string> metered_swaps;        // old metered price -> new one, "" when dropped
  std::vector<std::string> metered_added;
  bool dropsMetered() const {
    for (const auto& [from, to] : metered_swaps) {
      if (to.empty()) return true;
    }
    return false;
  }
  bool movesMetered() const { return !metered_swaps.empty() || !metered_added.empty(); }
};

ItemMoves itemMoves(pg::Connection& db, const CurrentSubscription& sub, const PriceRow& from, const PriceRow& to,
                    std::int64_t quantity) {
  ItemMoves moves;
  moves.update_items.push_back({{"id", sub.plan->id}, {"price", to.id}, {"quantity", quantity}});
  auto target = meteredPricesOfPlan(db, to.product_id, to.currency, to.interval, to.interval_count);
  std::set<std::string> billed_meters;
  for (const auto& item : sub.items) {
    if (item.role != "metered") continue;
    auto price = loadPrice(db, item.price_id);
    if (!price) continue;
    billed_meters.insert(price->meter);
    if (item.product_id != from.product_id) continue;  // a shared metered price: not the plan's
    auto same_meter = std::find_if(target.begin(), target.end(), [&](const PriceRow& p) { return p.meter == price->meter; });
    if (same_meter == target.end()) {
      moves.metered_swaps[item.price_id] = "";
    } else if (same_meter->id != item.price_id) {
      moves.metered_swaps[item.price_id] = same_meter->id;
      moves.update_items.push_back({{"id", item.id}, {"price", same_meter->id}});
    }
  }
  for (const auto& p : target) {
    if (billed_meters.count(p.meter)) continue;
    moves.metered_added.push_back(p.id);
    moves.update_items.push_back({{"price", p.id}});
  }
  return moves;
}

// An upgrade applies now and waits for its payment as a pending update, which can't remove an item
// (https://docs.stripe.com/billing/subscriptions/pending-updates-reference); in Stripe's classic billing mode a
// metered price replaced mid-period loses the usage recorded so far
// (https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup#update-prices-mid-cycle).
void requireUpgradableItems(const CurrentSubscription& sub, const ItemMoves& moves) {
  if (moves.dropsMetered()) {
    throw ApiError(409, "invalid_request_error", "plans_incompatible",
                   "the new plan bills no usage on a meter the current plan bills: Stripe can't remove that item in a "
                   "change that applies now; change to this plan at the period end instead");
  }
  if (!moves.metered_swaps.empty() && sub.billing_mode != "flexible") {
    throw ApiError(409, "invalid_request_error", "usage_would_be_lost",
                   "the subscription uses Stripe's classic billing mode, where replacing a metered price mid-period "
                   "drops the usage recorded so far: migrate it to flexible billing mode, or change at the period end");
  }
}

// Items that stay as they are (a shared usage price, an add-on) keep their interval. In Stripe's classic billing
// mode every item of a subscription must bill on the same interval; mixed intervals need flexible mode
// (https://docs.stripe.com/billing/subscriptions/mixed-interval), so Stripe would refuse the change.
void requireOneIntervalUnlessFlexible(pg::Connection& db, const CurrentSubscription& sub, const PriceRow& to,
                                      const ItemMoves& moves) {
  if (sub.billing_mode == "flexible") return;
  for (const auto& item : sub.items) {
    if (item.id == sub.plan->id || moves.metered_swaps.count(item.price_id)) continue;  // moved with the plan
    auto price = loadPrice(db, item.price_id);
    if (!price || (price->interval == to.interval && price->interval_count == to.interval_count)) continue;
    throw ApiError(409, "invalid_request_error", "intervals_must_match",
                   "the subscription uses Stripe's classic billing mode, where every item bills on one interval, and " +
                       item.price_id + " bills every " + std::to_string(price->interval_count) + " " + price->interval +
                       ": migrate it to flexible billing mode to bill them on different intervals");
  }
}

subscription::UpgradePayment upgradePaymentOf(const CurrentSubscription& sub, bool authenticate_after_change = false) {
  return subscription::upgradePayment(
      {sub.collection_method, sub.payment_method_type, sub.hasMeteredItem(), authenticate_after_change});
}

// How the upgrade's invoice is paid, for the preview: charged now (card), sent with the invoice terms, or debited
// from a bank account (settles in days).
const char* collectionOf(subscription::UpgradePayment payment) {
  switch (payment) {
    case subscription::UpgradePayment::Invoiced: return "invoice";
    case subscription::UpgradePayment::DebitProcessing: return "bank_debit";
    default: return "charge";
  }
}

// The preview's parts of the invoice of now (all zero for a downgrade: nothing is invoiced until the period end).
void putBreakdown(nlohmann::json& answer, const subscription::InvoiceBreakdown& b) {
  answer["proration_credit"] = b.proration_credit;
  answer["proration_charge"] = b.proration_charge;
  answer["new_period_charge"] = b.new_period_charge;
  answer["usage_charge"] = b.usage_charge;
  answer["other_charges"] = b.other_charges;
  answer["subtotal"] = b.subtotal;
  answer["discount"] = b.discount;
  answer["tax"] = b.tax;
  answer["total"] = b.total;
  answer["balance_applied"] = b.balance_applied;
  answer["amount_due_now"] = b.amount_due;
}

// A change waiting for its payment must be paid or expire first: a second one would replace it unpaid.
void requireNoPendingPayment(const CurrentSubscription& sub) {
  if (!sub.pending_update.is_object()) return;
  std::string expires = sub.pending_update.value("expires_at", nlohmann::json()).is_number()
                            ? common::formatIso8601Utc(sub.pending_update["expires_at"].get<std::int64_t>())
                            : "soon";
  throw ApiError(409, "invalid_request_error", "payment_pending",
                 "a plan change waits for the payment of invoice " + sub.latest_invoice_id +
                     ": pay it, or preview again after it expires at " + expires);
}

}  // namespace

PlanChanges::Current PlanChanges::current(const std::string& customer_id) {
  auto found = currentSubscription(db_, customer_id);
  if (!found) throw ApiError(404, "invalid_request_error", "no_subscription", "the account has no subscription");
  if (!found->in_use) {
    throw ApiError(409, "invalid_request_error", "subscription_not_changeable",
                   "the subscription is " + found->status + ": its plan can't be changed until it is active again");
  }
  if (!found->plan) {
    throw ApiError(409, "invalid_request_error", "no_plan_item",
                   "no item of the subscription is a plan (product metadata plan_key): change it in the Customer Portal");
  }
  return *found;
}

std::int64_t PlanChanges::periodAmount(PriceRow& price, std::int64_t quantity, const std::string& currency) {
  if (price.tiersMissing()) {
    // Stripe sends a price's tiers only when asked; they never change, so they are fetched once and kept.
    auto fetched = stripe_.get("/v1/prices/" + price.id, {{"expand[]", "tiers"}});
    if (fetched.contains("tiers") && fetched["tiers"].is_array()) {
      storePriceTiers(db_, price.id, fetched["tiers"]);
      price.raw["tiers"] = fetched["tiers"];
    }
  }
  auto priced = subscription::priceAmount(price.raw, quantity, currency);
  if (!priced.priced()) {
    throw ApiError(409, "invalid_request_error", "price_not_priceable",
                   "price " + price.id + " can't be priced for a plan change (" +
                       subscription::unpriceableCode(priced.reason) + ": " + priced.detail + ")");
  }
  return *priced.amount;
}

void PlanChanges::recordMeteredSwaps(const std::string& customer_id, const std::map<std::string, std::string>& metered_swaps,
                                     std::int64_t at) {
  std::vector<std::string> meters;
  for (const auto& [from, to] : metered_swaps) {
    if (auto price = loadPrice(db_, from); price && !price->meter.empty()) meters.push_back(price->meter);
  }
  // Usage accepted before the change but not yet at Stripe is dated at the change, not in the invoiced time before.
  usage::UsageLedger(db_).markMeteredPriceChanged(customer_id, meters, at);
}

std::function<bool(const std::string&)> PlanChanges::meteredPrices() {
  return [this, known = std::make_shared<std::map<std::string, bool>>()](const std::string& price_id) {
    auto [it, added] = known->try_emplace(price_id, false);
    if (added) {
      auto price = loadPrice(db_, price_id);
      it->second = price && !price->licensed();
    }
    return it->second;
  };
}

void PlanChanges::sync(const stripe::StripeClient::Response& response) {
  sync::writeAnswers(db_, {{sync::ObjectKind::Subscription, &response}});
}

namespace {
std::string attemptBase(const std::string& operation, const std::string& idempotency_key) {
  return operation + ":" + common::sha256Hex(idempotency_key);
}
}  // namespace

stripe::StripeClient::Response PlanChanges::postAttempt(const std::string& path, const nlohmann::json& params,
                                                        const std::string& operation, const std::string& idempotency_key) {
  if (idempotency_key.empty()) return stripe_.postWithTime(path, params, operation + ":" + stripe::newIdempotencyKey());
  subscription::WriteAttempts attempts(db_);
  const auto base = attemptBase(operation, idempotency_key);
  try {
    return stripe_.postWithTime(path, params, attempts.current(base).key);
  } catch (const stripe::StripeError& e) {
    attempts.record(base, e);
    throw;
  }
}

int PlanChanges::endedAttempts(const std::string& operation, const std::string& idempotency_key) {
  if (idempotency_key.empty()) return 0;
  return subscription::WriteAttempts(db_).current(attemptBase(operation, idempotency_key)).ended;
}

nlohmann::json PlanChanges::preview(const std::string& account_id, const std::string& customer_id,
                                    const std::string& price_id, std::int64_t quantity, std::int64_t now) {
  auto sub = current(customer_id);
  auto from = loadPrice(db_, sub.plan->price_id);
  auto to = loadPrice(db_, price_id);
  if (!to) throw ApiError(400, "invalid_request_error", "price_not_found", "no such price: " + price_id);
  if (!to->usable) throw badRequest("price_not_available", "price " + price_id + " is not an active recurring price");
  if (!from) throw ApiError(409, "invalid_request_error", "current_price_unknown", "the current price is not synced yet");
  if (to->currency != sub.currency) {
    throw badRequest("currency_mismatch", "price " + price_id + " is in " + to->currency + ", the subscription in " + sub.currency);
  }
  if (price_id == sub.plan->price_id && quantity == sub.plan->quantity) throw badRequest("no_change", "that is the current plan");
  const auto from_amount = periodAmount(*from, sub.plan->quantity, sub.currency);
  const auto to_amount = periodAmount(*to, quantity, sub.currency);
  bool upgrade = appliesNow(*from, from_amount, *to, to_amount);

  nlohmann::json answer = {{"kind", upgrade ? "upgrade" : "downgrade"},
                           {"subscription_id", sub.subscription_id},
                           {"from", {{"price_id", sub.plan->price_id}, {"quantity", sub.plan->quantity}}},
                           {"to", {{"price_id", price_id}, {"product_id", to->product_id}, {"quantity", quantity},
                                   {"unit_amount", to->unit_amount ? nlohmann::json(*to->unit_amount) : nlohmann::json()},
                                   {"amount", to_amount}, {"interval", to->interval}}},
                           {"currency", sub.currency},
                           {"period_end", common::formatIso8601Utc(sub.period_end)}};
  nlohmann::json claims = {{"sub", account_id}, {"subscription_id", sub.subscription_id}, {"item_id", sub.plan->id},
                           {"from_price", sub.plan->price_id}, {"from_quantity", sub.plan->quantity}, {"price_id", price_id},
                           {"quantity", quantity}, {"kind", upgrade ? "upgrade" : "downgrade"},
                           {"state", sub.billing_state.dump()}};
  requireOurSchedule(sub);
  requireNoPendingPayment(sub);
  if (!upgrade && sub.cancelling()) throw cancellationPending();
  auto moves = itemMoves(db_, sub, *from, *to, quantity);
  if (upgrade) requireUpgradableItems(sub, moves);
  requireOneIntervalUnlessFlexible(db_, sub, *to, moves);
  answer["metered"] = {{"swapped", moves.metered_swaps}, {"added", moves.metered_added}};
  if (upgrade && sub.changeScheduled(now)) {
    // A change now would race the scheduled one (the schedule's next phase would still replace it at period end).
    throw ApiError(409, "invalid_request_error", "scheduled_change_pending",
                   "the subscription has a scheduled change: cancel it first, then preview again");
  }
  const std::string key_base = account_id + ":" + price_id + ":" + std::to_string(quantity) + ":" + std::to_string(now);
  const auto metered = meteredPrices();  // one lookup per price for both previews
  if (upgrade) {
    // The server fixes the proration date; the change uses the same one, so Stripe charges what this shows.
    const std::int64_t proration_date = now;
    nlohmann::json params = {
        {"customer", customer_id},
        {"subscription", sub.subscription_id},
        {"subscription_details", {{"items", moves.update_items},
                                  {"proration_date", proration_date},
                                  {"proration_behavior", "always_invoice"}}}};
    auto invoice = stripe_.post("/v1/invoices/create_preview", params, "preview:" + key_base);
    putBreakdown(answer, subscription::breakdownOf(invoice, metered));
    answer["collection"] = collectionOf(upgradePaymentOf(sub));
    answer["proration_date"] = common::formatIso8601Utc(proration_date);
    answer["effective_at"] = common::formatIso8601Utc(proration_date);
    claims["proration_date"] = proration_date;
    claims["amount_due"] = answer["amount_due_now"];
  } else {
    putBreakdown(answer, subscription::InvoiceBreakdown{});
    answer["effective_at"] = answer["period_end"];
  }
  // A period on the new plan as Stripe would invoice it (no prorations): tax, discounts, the other items and the
  // usage so far included, not the plan's list price.
  nlohmann::json next_params = {{"customer", customer_id},
                                {"subscription", sub.subscription_id},
                                {"subscription_details", {{"items", moves.update_items}, {"proration_behavior", "none"}}}};
  auto next = subscription::breakdownOf(stripe_.post("/v1/invoices/create_preview", next_params, "preview-next:" + key_base),
                                        metered);
  answer["next_invoice_total"] = next.total;
  answer["next_invoice"] = {{"subtotal", next.subtotal}, {"discount", next.discount}, {"tax", next.tax},
                            {"total", next.total}, {"usage_so_far", next.usage_charge}};
  answer["preview_token"] = auth_.mintToken("preview", claims, now, kPreviewTtlSeconds);
  answer["expires_at"] = common::formatIso8601Utc(now + kPreviewTtlSeconds);
  return answer;
}

nlohmann::json PlanChanges::apply(const std::string& account_id, const std::string& customer_id,
                                  const std::string& preview_token, const std::string& idempotency_key,
                                  std::int64_t now, bool authenticate_after_change) {
  auto claims = auth_.verifyToken("preview", preview_token, now);
  if (!claims) {
    throw badRequest("preview_invalid", "the preview token is expired or not ours: preview the change again");
  }
  if (claims->value("sub", "") != account_id) {
    throw ApiError(403, "permission_error", "account_forbidden", "this preview is for another account");
  }
  auto sub = current(customer_id);
  if (claims->value("subscription_id", "") == sub.subscription_id && claims->value("price_id", "") == sub.plan->price_id &&
      claims->value("quantity", 0LL) == sub.plan->quantity) {
    // Already applied (a retried request whose first answer was lost): the same success again.
    return {{"account_id", account_id}, {"subscription", BillingReads(db_).subscription(customer_id)}};
  }
  if (claims->value("subscription_id", "") != sub.subscription_id || claims->value("item_id", "") != sub.plan->id ||
      claims->value("from_price", "") != sub.plan->price_id || claims->value("from_quantity", 0LL) != sub.plan->quantity) {
    throw ApiError(409, "invalid_request_error", "preview_stale",
                   "the subscription changed since this preview: preview the change again");
  }
  if (sub.pending_update.is_object()) {
    // This change waits for its payment (a confirmation sent again, or the page reloaded): the same answer again.
    for (const auto& item : sub.pending_update.value("subscription_items", nlohmann::json::array())) {
      if (item.value("id", "") == sub.plan->id && item["price"].value("id", "") == claims->value("price_id", "") &&
          item.value("quantity", 0LL) == claims->value("quantity", 0LL)) {
        auto invoice = stripe_.get("/v1/invoices/" + sub.latest_invoice_id, {{"expand[]", "confirmation_secret"}});
        return {{"account_id", account_id}, {"outcome", "payment_required"},
                {"payment", paymentRequired(invoice, sub.pending_update)},
                {"subscription", BillingReads(db_).subscription(customer_id)}};
      }
    }
    requireNoPendingPayment(sub);
  }
  // A renewal, a discount, a trial end, a cancellation toggle or a new invoice since the preview changes what the
  // change would charge: never charged differently from what was shown.
  auto pinned = nlohmann::json::parse(claims->value("state", std::string("{}")), nullptr, false);
  if (auto changed = changedFact(pinned.is_object() ? pinned : nlohmann::json::object(), sub.billing_state)) {
    throw ApiError(409, "invalid_request_error", "preview_stale",
                   "the subscription's " + *changed + " changed since this preview: preview the change again");
  }
  requireOurSchedule(sub);
  if (claims->value("kind", "") == "upgrade" && sub.changeScheduled(now)) {
    throw ApiError(409, "invalid_request_error", "scheduled_change_pending",
                   "the subscription has a scheduled change: cancel it first, then preview again");
  }
  // One change of a subscription at a time, a downgrade included: a second confirmation while the first is at
  // Stripe would pass every check above and charge twice, and a downgrade sent beside an upgrade would send back
  // the phase as it was before the upgrade (with no proration: the paid upgrade reverted).
  ChangeLock lock(db_, sub.subscription_id);
  if (!lock.held()) {
    throw ApiError(409, "invalid_request_error", "change_in_progress",
                   "another change of this subscription is in progress: reload and try again");
  }
  const bool upgrade = claims->value("kind", "") == "upgrade";
  const std::string operation = "change:" + account_id;
  if (upgrade && endedAttempts(operation, idempotency_key) > 0) {
    // An earlier attempt under this key ended in a Stripe error; after a 5xx Stripe may still have applied it.
    // Stripe's own state decides before a new attempt is sent.
    sync(stripe_.fetch("/v1/subscriptions/" + sub.subscription_id));
  }
  {
    // Re-read under the lock: the other change may have landed meanwhile.
    auto again = current(customer_id);
    if (upgrade && again.plan->price_id == claims->value("price_id", "") &&
        again.plan->quantity == claims->value("quantity", 0LL)) {
      return {{"account_id", account_id}, {"subscription", BillingReads(db_).subscription(customer_id)}};
    }
    if (again.plan->price_id != sub.plan->price_id || again.plan->quantity != sub.plan->quantity ||
        again.billing_state != sub.billing_state || again.schedule_id != sub.schedule_id) {
      throw ApiError(409, "invalid_request_error", "preview_stale",
                     "the subscription changed since this preview: preview the change again");
    }
  }
  if (!upgrade) {
    if (sub.cancelling()) throw cancellationPending();
    return scheduleDowngrade(account_id, customer_id, sub, *claims, idempotency_key);
  }
  auto from = loadPrice(db_, sub.plan->price_id);
  auto to = loadPrice(db_, claims->value("price_id", ""));
  if (!from || !to || !to->usable) throw badRequest("price_not_available", "the target price is no longer available");
  auto moves = itemMoves(db_, sub, *from, *to, claims->value("quantity", 1LL));
  requireUpgradableItems(sub, moves);
  // Our schedule whose last phase has begun changes nothing any more: released, the subscription is free again.
  releaseFinishedSchedule(sub, now);
  const auto payment = upgradePaymentOf(sub, authenticate_after_change);
  nlohmann::json params = {
      {"items", moves.update_items},
      {"proration_behavior", "always_invoice"},
      {"proration_date", claims->value("proration_date", now)},
      // Never a new card plan without its payment: a pending update when the payment fails or needs 3-D Secure,
      // the change refused as a whole on a usage plan (its usage would be discarded with an expired pending
      // update); invoice terms and bank debits apply now and are paid by the invoice (subscription/upgrade_payment.h).
      {"payment_behavior", subscription::paymentBehavior(payment)}};
  // The caller's key names one attempt (a network retry of it keeps it, and Stripe replays that attempt's answer);
  // after Stripe answered it with an error, or without a key, each request is a new attempt: after a declined card
  // is fixed or a 500, the next try is not answered with the saved error. The lock and the already-applied check
  // keep a retry from charging twice.
  stripe::StripeClient::Response updated;
  try {
    updated = postAttempt("/v1/subscriptions/" + sub.subscription_id, params, operation, idempotency_key);
  } catch (const stripe::StripeError& e) {
    if (payment == subscription::UpgradePayment::RefusedUnlessPaid && e.code() == "authentication_required") {
      // Nothing changed. The way forward is the customer's to choose: change now and confirm afterwards.
      throw ApiError(402, "payment_error", "authentication_required",
                     "the bank asks the customer to confirm this payment (3-D Secure); the plan has not changed. "
                     "Confirm again with authenticate_after_change: true to change it now and confirm the payment "
                     "on the invoice page afterwards");
    }
    throw;
  }
  sync(updated);
  // What Stripe invoiced, against the preview. The change is made: a failure to read the invoice is logged, not
  // answered as a failure of the change.
  nlohmann::json invoice;
  const auto invoice_id = updated.body.value("latest_invoice", nlohmann::json());
  try {
    if (invoice_id.is_string()) {
      auto fetched = stripe_.fetch("/v1/invoices/" + invoice_id.get<std::string>(), {{"expand[]", "confirmation_secret"}});
      invoice = fetched.body;
      // Synced too (the read's pending change shows its amount and page), without the client secret: that is for
      // this answer only, never stored.
      fetched.body.erase("confirmation_secret");
      sync::writeAnswers(db_, {{sync::ObjectKind::Invoice, &fetched}});
    }
  } catch (const stripe::StripeError& e) {
    log::warn("plan change made; its invoice could not be read",
              {{"subscription_id", sub.subscription_id}, {"invoice_id", invoice_id}, {"error", e.what()}});
  }
  nlohmann::json answer = {{"account_id", account_id},
                           {"charge", checkCharge(invoice, claims->value("amount_due", 0LL), sub.subscription_id)}};
  const auto pending = updated.body.value("pending_update", nlohmann::json());
  if (!pending.is_object()) recordMeteredSwaps(customer_id, moves.metered_swaps, claims->value("proration_date", now));
  if (pending.is_object()) {
    answer["outcome"] = "payment_required";
    answer["payment"] = paymentRequired(invoice, pending);
  } else {
    answer["outcome"] = subscription::appliedOutcome(payment);
    if (payment == subscription::UpgradePayment::AppliedAwaitingPayment) {
      // Applied; its invoice waits for the bank's confirmation, or was paid at once after all.
      if (invoice.value("status", "") == "paid") {
        answer["outcome"] = "applied";
      } else {
        answer["payment"] = paymentRequired(invoice, nlohmann::json::object());
      }
    }
    if (payment == subscription::UpgradePayment::Invoiced || payment == subscription::UpgradePayment::DebitProcessing) {
      // Applied, and paid later: by the invoice's due date (terms), or when the debit settles.
      answer["invoice"] = {{"invoice_id", invoice.value("id", nlohmann::json())},
                           {"amount_due", invoice.value("amount_due", nlohmann::json())},
                           {"currency", invoice.value("currency", nlohmann::json())},
                           {"status", invoice.value("status", nlohmann::json())},
                           {"hosted_invoice_url", invoice.value("hosted_invoice_url", nlohmann::json())},
                           {"due_date", invoice.value("due_date", nlohmann::json()).is_number()
                                            ? nlohmann::json(common::formatIso8601Utc(invoice["due_date"].get<std::int64_t>()))
                                            : nlohmann::json()}};
    }
  }
  answer["subscription"] = BillingReads(db_).subscription(customer_id);
  return answer;
}

nlohmann::json PlanChanges::paymentRequired(const nlohmann::json& invoice, const nlohmann::json& pending_update) {
  const auto secret = invoice.value("confirmation_secret", nlohmann::json());
  return {{"invoice_id", invoice.value("id", nlohmann::json())},
          {"amount_due", invoice.value("amount_due", nlohmann::json())},
          {"currency", invoice.value("currency", nlohmann::json())},
          // Stripe's hosted invoice page handles both: 3-D Secure, or another card after a decline.
          {"hosted_invoice_url", invoice.value("hosted_invoice_url", nlohmann::json())},
          // For Stripe.js (confirmPayment) in the product's own page.
          {"client_secret", secret.is_object() ? secret.value("client_secret", nlohmann::json()) : nlohmann::json()},
          {"expires_at", pending_update.value("expires_at", nlohmann::json()).is_number()
                             ? nlohmann::json(common::formatIso8601Utc(pending_update["expires_at"].get<std::int64_t>()))
                             : nlohmann::json()}};
}

nlohmann::json PlanChanges::checkCharge(const nlohmann::json& invoice, std::int64_t previewed,
                                        const std::string& subscription_id) {
  nlohmann::json charge = {{"previewed", previewed}, {"charged", nullptr}, {"matches", nullptr}};
  if (!invoice.is_object() || !invoice.contains("id")) return charge;
  const auto invoice_id = invoice["id"];
  auto charged = invoice.value("amount_due", 0LL);
  charge["charged"] = charged;
  charge["invoice_id"] = invoice_id;
  charge["matches"] = charged == previewed;
  if (charged != previewed) {
    metrics::defaultRegistry()
        .counter("billing_api_charge_mismatch_total", "Plan changes Stripe charged differently from their preview")
        .inc();
    log::error("plan change charged differently from its preview",
               {{"subscription_id", subscription_id}, {"invoice_id", invoice_id}, {"previewed", previewed},
                {"charged", charged}});
  }
  return charge;
}

void PlanChanges::syncSchedule(const stripe::StripeClient::Response& schedule, const std::string& subscription_id) {
  // The schedule, and the subscription whose `schedule` field changed with it (fetched: its answer is newer).
  auto subscription = stripe_.fetch("/v1/subscriptions/" + subscription_id);
  sync::writeAnswers(db_, {{sync::ObjectKind::SubscriptionSchedule, &schedule},
                           {sync::ObjectKind::Subscription, &subscription}});
}

// A downgrade keeps the current plan until the period ends, then moves to the new price: a subscription schedule
// (made from the subscription, or ours already) whose current phase is sent back exactly as Stripe has it (trial,
// discounts, tax and payment settings, every item) and a next phase where only the plan item changes; no
// prorations; released to a plain subscription afterwards. The schedule is read from Stripe, not from our row,
// which may be a moment behind.
nlohmann::json PlanChanges::scheduleDowngrade(const std::string& account_id, const std::string& customer_id,
                                              const Current& sub, const nlohmann::json& claims,
                                              const std::string& idempotency_key) {
  auto to = loadPrice(db_, claims.value("price_id", ""));
  if (!to || !to->usable) throw badRequest("price_not_available", "the target price is no longer available");
  // Without the caller's key, the preview names the attempt: a retried confirmation of it is the same attempt.
  const std::string named = idempotency_key.empty() ? claims.dump() : idempotency_key;
  stripe::StripeClient::Response schedule;
  const std::string create_operation = "schedule:create:" + sub.subscription_id;
  const bool created = sub.schedule_id.empty();
  if (created) {
    // from_subscription takes no other parameter ("other parameters (such as phase values) cannot be set",
    // https://docs.stripe.com/api/subscription_schedules/create; stricter reading: metadata neither): the schedule
    // is unmarked until the update below marks it ours.
    schedule = postAttempt("/v1/subscription_schedules", {{"from_subscription", sub.subscription_id}}, create_operation,
                           named);
  } else {
    schedule = stripe_.fetch("/v1/subscription_schedules/" + sub.schedule_id);
    if (!scheduleIsOurs(schedule.body)) throw scheduleNotOurs(sub.schedule_id);
  }
  stripe::StripeClient::Response updated;
  try {
    nlohmann::json params;
    try {
      auto from = loadPrice(db_, sub.plan->price_id);
      if (!from) throw ApiError(409, "invalid_request_error", "current_price_unknown", "the current price is not synced yet");
      auto moves = itemMoves(db_, sub, *from, *to, claims.value("quantity", 1LL));
      params = downgradeParams(schedule.body, {sub.plan->price_id, to->id, claims.value("quantity", 1LL), to->interval,
                                               to->interval_count, moves.metered_swaps, moves.metered_added});
    } catch (const std::invalid_argument& e) {
      throw ApiError(409, "invalid_request_error", "schedule_unexpected",
                     std::string("the subscription's schedule can't take a downgrade: ") + e.what());
    }
    updated = postAttempt("/v1/subscription_schedules/" + schedule.body.at("id").get<std::string>(), params,
                          "schedule:update:" + sub.subscription_id, named);
  } catch (...) {
    // A schedule made for this downgrade and left unmarked would read as someone else's from now on (every
    // later change answered schedule_not_ours): it is released, and the attempt that made it ends.
    if (created) undoCreatedSchedule(schedule.body.value("id", ""), sub.subscription_id, attemptBase(create_operation, named));
    throw;
  }
  syncSchedule(updated, sub.subscription_id);
  return {{"account_id", account_id}, {"subscription", BillingReads(db_).subscription(customer_id)}};
}

void PlanChanges::undoCreatedSchedule(const std::string& schedule_id, const std::string& subscription_id,
                                      const std::string& create_attempt) {
  if (schedule_id.empty()) return;
  try {
    auto released = stripe_.postWithTime("/v1/subscription_schedules/" + schedule_id + "/release", nlohmann::json::object(),
                                         "schedule:release:" + schedule_id + ":" + stripe::newIdempotencyKey());
    subscription::WriteAttempts(db_).end(create_attempt, 0);  // 0: undone, not a Stripe error
    syncSchedule(released, subscription_id);
  } catch (const std::exception& e) {
    metrics::defaultRegistry()
        .counter("billing_api_schedule_release_failed_total",
                 "Schedules made for a failed downgrade that could not be released (release them in the Dashboard)")
        .inc();
    log::error("a schedule made for a failed downgrade could not be released: release it in the Dashboard",
               {{"schedule_id", schedule_id}, {"subscription_id", subscription_id}, {"error", e.what()}});
  }
}

void PlanChanges::requireOurSchedule(const Current& sub) const {
  if (!sub.schedule_id.empty() && !sub.schedule.is_null() && !sub.schedule_ours) throw scheduleNotOurs(sub.schedule_id);
}

ApiError PlanChanges::scheduleNotOurs(const std::string& schedule_id) {
  return ApiError(409, "invalid_request_error", "schedule_not_ours",
                  "the subscription follows a subscription schedule made outside this service (" + schedule_id +
                      ", e.g. a contract in the Dashboard): change it there");
}

ApiError PlanChanges::cancellationPending() {
  return ApiError(409, "invalid_request_error", "cancellation_pending",
                  "the subscription is set to cancel at the period end: resume it first, then change the plan");
}

void PlanChanges::releaseFinishedSchedule(const Current& sub, std::int64_t now) {
  if (sub.schedule_id.empty() || !sub.schedule_ours || sub.changeScheduled(now)) return;
  releaseOurSchedule(sub);
}

nlohmann::json PlanChanges::cancelScheduledChange(const std::string& account_id, const std::string& customer_id,
                                                  const std::string& idempotency_key) {
  auto sub = current(customer_id);
  if (sub.schedule_id.empty()) {
    throw ApiError(409, "invalid_request_error", "no_scheduled_change", "the subscription has no scheduled change");
  }
  requireOurSchedule(sub);
  // Not synced yet: ask Stripe whose it is before releasing it.
  if (sub.schedule.is_null() && !scheduleIsOurs(stripe_.get("/v1/subscription_schedules/" + sub.schedule_id))) {
    throw scheduleNotOurs(sub.schedule_id);
  }
  auto released = postAttempt("/v1/subscription_schedules/" + sub.schedule_id + "/release", nlohmann::json::object(),
                              "schedule:release:" + sub.schedule_id, idempotency_key);
  syncSchedule(released, sub.subscription_id);
  return {{"account_id", account_id}, {"subscription", BillingReads(db_).subscription(customer_id)}};
}

nlohmann::json PlanChanges::setCancelAtPeriodEnd(const std::string& account_id, const std::string& customer_id,
                                                 bool cancel, const std::string& idempotency_key, std::int64_t now) {
  // Cancelling (or resuming) needs no plan item and works in any status a subscription can still end from.
  auto found = currentSubscription(db_, customer_id);
  if (!found) throw ApiError(404, "invalid_request_error", "no_subscription", "the account has no subscription");
  const auto& sub = *found;
  // Stripe refuses cancellation changes on a subscription a schedule manages. Ours is released first: cancelling
  // drops a scheduled downgrade (the subscription ends anyway); a finished one changes nothing. Another's is left
  // alone.
  requireOurSchedule(sub);
  if (!cancel && !sub.cancelling()) {
    // Nothing to resume: answered as it is (a retried resume, or a page behind), never sent to Stripe.
    return {{"account_id", account_id}, {"subscription", BillingReads(db_).subscription(customer_id)}};
  }
  if (!sub.schedule_id.empty()) {
    if (cancel) {
      releaseOurSchedule(sub);
    } else {
      releaseFinishedSchedule(sub, now);
    }
  }
  auto updated = postAttempt("/v1/subscriptions/" + sub.subscription_id, cancellationParams(sub, cancel),
                             "cancel:" + sub.subscription_id + ":" + (cancel ? "1" : "0"), idempotency_key);
  sync(updated);
  return {{"account_id", account_id}, {"subscription", BillingReads(db_).subscription(customer_id)}};
}

nlohmann::json PlanChanges::cancellationParams(const Current& sub, bool cancel) {
  if (cancel) {
    // "For mixed interval subscriptions the existing cancel_at_period_end feature always resolves to the earliest
    // item period end" (https://docs.stripe.com/changelog/basil/2025-07-30/cancel-at-enums): an annual plan beside a
    // monthly usage item would end at the month's end. max_period_end ends it with the last period paid for.
    if (sub.mixedPeriods()) return {{"cancel_at", "max_period_end"}};
    return {{"cancel_at_period_end", true}};
  }
  // cancel_at_period_end=false clears a period-end cancellation (changelog 2018-02-28); a date set in the Dashboard
  // or the portal ("cancel on date", or max_period_end) is cleared by unsetting cancel_at: "" (the update's
  // cancel_at accepts "" in the API spec). Stricter reading: cancel_at_period_end=false may leave such a date set.
  if (sub.cancel_at_period_end) return {{"cancel_at_period_end", false}};
  return {{"cancel_at", ""}};
}

void PlanChanges::releaseOurSchedule(const Current& sub) {
  try {
    auto released = stripe_.postWithTime("/v1/subscription_schedules/" + sub.schedule_id + "/release",
                                         nlohmann::json::object(),
                                         "schedule:release:" + sub.schedule_id + ":" + stripe::newIdempotencyKey());
    syncSchedule(released, sub.subscription_id);
  } catch (const stripe::StripeError& e) {
    // Released meanwhile (by another request, or the worker saw it end): the subscription is free either way.
    if (e.status() != 400) throw;
  }
}

}  // namespace billing::api

#include "api/plan_changes.h"

#include "api/api_error.h"
#include "api/billing_reads.h"
#include "api/schedule_phases.h"

#include <limits>
#include <optional>
#include <vector>
#include <stdexcept>
#include "common/digest.h"
#include "common/json_log.h"
#include "common/metrics.h"
#include "common/utc_time.h"
#include "sync/object_fetcher.h"
#include "sync/snapshot_writer.h"

namespace billing::api {
namespace {

struct PriceRow {
  std::string id, product_id, currency, interval;
  std::int64_t unit_amount = 0, interval_count = 1;
  bool usable = false;  // active, recurring, licensed, not deleted
};

std::optional<PriceRow> loadPrice(pg::Connection& db, const std::string& price_id) {
  auto rows = db.query(
      "SELECT id, coalesce(product_id, ''), coalesce(currency, ''), coalesce(recurring_interval, ''),\n"
      "       coalesce(unit_amount, 0), coalesce(recurring_interval_count, 1),\n"
      "       active AND NOT deleted AND type = 'recurring' AND coalesce(usage_type, 'licensed') = 'licensed'\n"
      "FROM prices WHERE id = $1",
      {price_id});
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  return PriceRow{*r[0], *r[1], *r[2], *r[3], std::stoll(*r[4]), std::stoll(*r[5]), r[6] == "t"};
}

// Price per month in minor units × 12 (exact for month and year intervals), to compare plans across intervals.
std::int64_t perYear(const PriceRow& p, std::int64_t quantity) {
  std::int64_t periods_per_year = p.interval == "year" ? 1 : p.interval == "month" ? 12 : p.interval == "week" ? 52 : 365;
  return p.unit_amount * quantity * periods_per_year / std::max<std::int64_t>(1, p.interval_count);
}

// Length of one billing period in days (approximate, only to order intervals).
std::int64_t periodDays(const PriceRow& p) {
  std::int64_t days = p.interval == "day" ? 1 : p.interval == "week" ? 7 : p.interval == "month" ? 30 : 365;
  return days * std::max<std::int64_t>(1, p.interval_count);
}

// Whether a change applies now (charged with proration) or at the period end (nothing charged now). A longer period
// (monthly to annual) starts now; a shorter one (annual to monthly) waits for the end of the period already paid for;
// on the same period length, paying more applies now and paying less (cheaper plan, fewer seats) waits.
bool appliesNow(const PriceRow& from, std::int64_t from_quantity, const PriceRow& to, std::int64_t to_quantity) {
  if (periodDays(to) != periodDays(from)) return periodDays(to) > periodDays(from);
  return perYear(to, to_quantity) > perYear(from, from_quantity);
}

// Which of the pinned facts differ ("period", "trial", ...), if any.
std::optional<std::string> stateChange(const nlohmann::json& pinned, const nlohmann::json& now) {
  static const std::vector<std::pair<const char*, const char*>> facts = {
      {"period_start", "billing period"}, {"period_end", "billing period"}, {"trial_end", "trial"},
      {"cancel_at_period_end", "cancellation"}, {"cancel_at", "cancellation"}, {"discounts", "discounts"},
      {"latest_invoice", "latest invoice"}, {"status", "status"}};
  for (const auto& [key, name] : facts) {
    if (pinned.value(key, nlohmann::json()) != now.value(key, nlohmann::json())) return std::string(name);
  }
  return std::nullopt;
}

// A session-level advisory lock per subscription, held across the Stripe call, released on every path.
class ChangeLock {
 public:
  ChangeLock(pg::Connection& db, const std::string& subscription_id) : db_(db), key_("plan-change:" + subscription_id) {
    held_ = db_.query("SELECT pg_try_advisory_lock(hashtext($1))", {key_}).at(0)[0] == "t";
  }
  ~ChangeLock() {
    if (!held_) return;
    try {
      db_.query("SELECT pg_advisory_unlock(hashtext($1))", {key_});
    } catch (const std::exception&) {
      // The connection broke: the session ended, and the lock with it.
    }
  }
  ChangeLock(const ChangeLock&) = delete;
  ChangeLock& operator=(const ChangeLock&) = delete;
  bool held() const { return held_; }

 private:
  pg::Connection& db_;
  std::string key_;
  bool held_ = false;
};

}  // namespace

struct PlanChanges::Current {
  std::string subscription_id, status, item_id, price_id, currency, schedule_id;
  std::int64_t quantity = 1, period_end = 0;
  bool schedule_ours = false;
  bool cancel_at_period_end = false;
  // What the charge of a change depends on besides price and quantity; pinned in the preview token.
  nlohmann::json billing_state;
  nlohmann::json schedule;  // as synced, null if none
  /// A change is still to come in the schedule (a phase after the current one).
  bool changeScheduled(std::int64_t now) const { return !schedule_id.empty() && (schedule.is_null() || hasPhaseAfter(schedule, now)); }
};

PlanChanges::Current PlanChanges::current(const std::string& customer_id) {
  // The plan item (subscription_item_roles, migration 0006): other items (metered prices, add-ons) are left alone.
  auto rows = db_.query(
      "SELECT s.id, s.status, coalesce(s.currency, ''), i.id, i.price_id, coalesce(i.quantity, 1),\n"
      "       extract(epoch FROM i.current_period_end)::bigint, coalesce(s.schedule_id, ''),\n"
      "       coalesce(sc.metadata ->> 'managed_by', ''), sc.raw::text, s.cancel_at_period_end,\n"
      "       jsonb_build_object('period_start', extract(epoch FROM i.current_period_start)::bigint,\n"
      "         'period_end', extract(epoch FROM i.current_period_end)::bigint, 'trial_end', s.raw -> 'trial_end',\n"
      "         'cancel_at_period_end', s.cancel_at_period_end, 'cancel_at', s.raw -> 'cancel_at',\n"
      "         'discounts', coalesce(s.raw -> 'discounts', '[]'::jsonb), 'latest_invoice', s.raw -> 'latest_invoice',\n"
      "         'status', s.status)::text\n"
      "FROM subscriptions s\n"
      "LEFT JOIN LATERAL (SELECT si.* FROM subscription_items si JOIN subscription_item_roles r ON r.id = si.id\n"
      "                   WHERE si.subscription_id = s.id AND r.role = 'plan') i ON true\n"
      "LEFT JOIN subscription_schedules sc ON sc.id = s.schedule_id AND NOT sc.deleted\n"
      "WHERE s.customer_id = $1 AND NOT s.deleted AND s.status IN ('active', 'trialing', 'past_due')\n"
      "ORDER BY s.created DESC, s.id DESC LIMIT 1",
      {customer_id});
  if (rows.empty()) throw ApiError(404, "invalid_request_error", "no_subscription", "the account has no active subscription");
  const auto& r = rows[0];
  if (!r[3]) {
    throw ApiError(409, "invalid_request_error", "no_plan_item",
                   "no item of the subscription is a plan (product metadata plan_key): change it in the Customer Portal");
  }
  Current c;
  c.subscription_id = *r[0];
  c.status = *r[1];
  c.item_id = *r[3];
  c.price_id = *r[4];
  c.currency = *r[2];
  c.schedule_id = *r[7];
  c.quantity = std::stoll(*r[5]);
  c.period_end = std::stoll(r[6].value_or("0"));
  c.schedule_ours = r[8] == kScheduleManagedBy;
  if (r[9]) c.schedule = nlohmann::json::parse(*r[9]);
  c.cancel_at_period_end = r[10] == "t";
  c.billing_state = nlohmann::json::parse(r[11].value_or("{}"));
  return c;
}

void PlanChanges::sync(const stripe::StripeClient::Response& response) {
  sync::writeAnswers(db_, {{sync::ObjectKind::Subscription, &response}});
}

nlohmann::json PlanChanges::preview(const std::string& account_id, const std::string& customer_id,
                                    const std::string& price_id, std::int64_t quantity, std::int64_t now) {
  auto sub = current(customer_id);
  auto from = loadPrice(db_, sub.price_id);
  auto to = loadPrice(db_, price_id);
  if (!to) throw ApiError(400, "invalid_request_error", "price_not_found", "no such price: " + price_id);
  if (!to->usable) throw badRequest("price_not_available", "price " + price_id + " is not an active recurring price");
  if (!from) throw ApiError(409, "invalid_request_error", "current_price_unknown", "the current price is not synced yet");
  if (to->currency != sub.currency) {
    throw badRequest("currency_mismatch", "price " + price_id + " is in " + to->currency + ", the subscription in " + sub.currency);
  }
  if (price_id == sub.price_id && quantity == sub.quantity) throw badRequest("no_change", "that is the current plan");
  bool upgrade = appliesNow(*from, sub.quantity, *to, quantity);

  nlohmann::json answer = {{"kind", upgrade ? "upgrade" : "downgrade"},
                           {"subscription_id", sub.subscription_id},
                           {"from", {{"price_id", sub.price_id}, {"quantity", sub.quantity}}},
                           {"to", {{"price_id", price_id}, {"product_id", to->product_id}, {"quantity", quantity},
                                   {"unit_amount", to->unit_amount}, {"interval", to->interval}}},
                           {"currency", sub.currency},
                           {"period_end", common::formatIso8601Utc(sub.period_end)},
                           {"next_invoice_total", to->unit_amount * quantity}};
  nlohmann::json claims = {{"sub", account_id}, {"subscription_id", sub.subscription_id}, {"item_id", sub.item_id},
                           {"from_price", sub.price_id}, {"from_quantity", sub.quantity}, {"price_id", price_id},
                           {"quantity", quantity}, {"kind", upgrade ? "upgrade" : "downgrade"},
                           {"state", sub.billing_state.dump()}};
  requireOurSchedule(sub);
  if (!upgrade && sub.cancel_at_period_end) throw cancellationPending();
  if (upgrade && sub.changeScheduled(now)) {
    // A change now would race the scheduled one (the schedule's next phase would still replace it at period end).
    throw ApiError(409, "invalid_request_error", "scheduled_change_pending",
                   "the subscription has a scheduled change: cancel it first, then preview again");
  }
  if (upgrade) {
    // The server fixes the proration date; the change uses the same one, so Stripe charges what this shows.
    const std::int64_t proration_date = now;
    nlohmann::json params = {
        {"customer", customer_id},
        {"subscription", sub.subscription_id},
        {"subscription_details", {{"items", {{{"id", sub.item_id}, {"price", price_id}, {"quantity", quantity}}}},
                                  {"proration_date", proration_date},
                                  {"proration_behavior", "always_invoice"}}}};
    nlohmann::json invoice;
    invoice = stripe_.post("/v1/invoices/create_preview", params,
                           "preview:" + account_id + ":" + price_id + ":" + std::to_string(quantity) + ":" +
                               std::to_string(proration_date));
    std::int64_t credit = 0, charge = 0;
    for (const auto& line : invoice["lines"]["data"]) {
      auto amount = line.value("amount", 0LL);
      (amount < 0 ? credit : charge) += amount;
    }
    answer["amount_due_now"] = invoice.value("amount_due", 0LL);
    answer["proration_credit"] = -credit;
    answer["proration_charge"] = charge;
    answer["proration_date"] = common::formatIso8601Utc(proration_date);
    answer["effective_at"] = common::formatIso8601Utc(proration_date);
    claims["proration_date"] = proration_date;
    claims["amount_due"] = answer["amount_due_now"];
  } else {
    answer["amount_due_now"] = 0;
    answer["proration_credit"] = 0;
    answer["proration_charge"] = 0;
    answer["effective_at"] = answer["period_end"];
  }
  answer["preview_token"] = auth_.mintToken("preview", claims, now, kPreviewTtlSeconds);
  answer["expires_at"] = common::formatIso8601Utc(now + kPreviewTtlSeconds);
  return answer;
}

nlohmann::json PlanChanges::apply(const std::string& account_id, const std::string& customer_id,
                                  const std::string& preview_token, const std::string& idempotency_key,
                                  std::int64_t now) {
  auto claims = auth_.verifyToken("preview", preview_token, now);
  if (!claims) {
    throw badRequest("preview_invalid", "the preview token is expired or not ours: preview the change again");
  }
  if (claims->value("sub", "") != account_id) {
    throw ApiError(403, "permission_error", "account_forbidden", "this preview is for another account");
  }
  auto sub = current(customer_id);
  if (claims->value("subscription_id", "") == sub.subscription_id && claims->value("price_id", "") == sub.price_id &&
      claims->value("quantity", 0LL) == sub.quantity) {
    // Already applied (a retried request whose first answer was lost): the same success again.
    return {{"account_id", account_id}, {"subscription", BillingReads(db_).subscription(customer_id)}};
  }
  if (claims->value("subscription_id", "") != sub.subscription_id || claims->value("item_id", "") != sub.item_id ||
      claims->value("from_price", "") != sub.price_id || claims->value("from_quantity", 0LL) != sub.quantity) {
    throw ApiError(409, "invalid_request_error", "preview_stale",
                   "the subscription changed since this preview: preview the change again");
  }
  // A renewal, a discount, a trial end, a cancellation toggle or a new invoice since the preview changes what the
  // change would charge: never charged differently from what was shown.
  auto pinned = nlohmann::json::parse(claims->value("state", std::string("{}")), nullptr, false);
  if (auto changed = stateChange(pinned.is_object() ? pinned : nlohmann::json::object(), sub.billing_state)) {
    throw ApiError(409, "invalid_request_error", "preview_stale",
                   "the subscription's " + *changed + " changed since this preview: preview the change again");
  }
  requireOurSchedule(sub);
  if (claims->value("kind", "") == "upgrade" && sub.changeScheduled(now)) {
    throw ApiError(409, "invalid_request_error", "scheduled_change_pending",
                   "the subscription has a scheduled change: cancel it first, then preview again");
  }
  if (claims->value("kind", "") != "upgrade") {
    if (sub.cancel_at_period_end) throw cancellationPending();
    return scheduleDowngrade(account_id, customer_id, sub, *claims, idempotency_key);
  }
  // One change of a subscription at a time: a second confirmation while the first is at Stripe would pass every
  // check above and charge twice.
  ChangeLock lock(db_, sub.subscription_id);
  if (!lock.held()) {
    throw ApiError(409, "invalid_request_error", "change_in_progress",
                   "another change of this subscription is in progress: reload and try again");
  }
  {
    // Re-read under the lock: the other change may have landed meanwhile.
    auto again = current(customer_id);
    if (again.price_id == claims->value("price_id", "") && again.quantity == claims->value("quantity", 0LL)) {
      return {{"account_id", account_id}, {"subscription", BillingReads(db_).subscription(customer_id)}};
    }
    if (again.price_id != sub.price_id || again.quantity != sub.quantity || again.billing_state != sub.billing_state) {
      throw ApiError(409, "invalid_request_error", "preview_stale",
                     "the subscription changed since this preview: preview the change again");
    }
  }
  // Our schedule whose last phase has begun changes nothing any more: released, the subscription is free again.
  releaseFinishedSchedule(sub, now);
  nlohmann::json params = {
      {"items", {{{"id", sub.item_id}, {"price", claims->value("price_id", "")}, {"quantity", claims->value("quantity", 1LL)}}}},
      {"proration_behavior", "always_invoice"},
      {"proration_date", claims->value("proration_date", now)},
      // The update is refused as a whole when the payment fails: never a new plan without its payment.
      {"payment_behavior", "error_if_incomplete"}};
  // The caller's key names one attempt (a network retry of it keeps it, and Stripe replays that attempt's answer);
  // without one each request is its own attempt: after a declined card is fixed, the next try is not answered with
  // the saved decline. The lock and the already-applied check keep a retry from charging twice.
  std::string key = "change:" + account_id + ":" +
                    (idempotency_key.empty() ? stripe::newIdempotencyKey() : common::sha256Hex(idempotency_key));
  stripe::StripeClient::Response updated;
  nlohmann::json charge;
  updated = stripe_.postWithTime("/v1/subscriptions/" + sub.subscription_id, params, key);
  charge = checkCharge(updated.body, claims->value("amount_due", 0LL), sub.subscription_id);
  sync(updated);
  return {{"account_id", account_id}, {"subscription", BillingReads(db_).subscription(customer_id)}, {"charge", charge}};
}

nlohmann::json PlanChanges::checkCharge(const nlohmann::json& subscription, std::int64_t previewed,
                                        const std::string& subscription_id) {
  nlohmann::json charge = {{"previewed", previewed}, {"charged", nullptr}, {"matches", nullptr}};
  auto invoice_id = subscription.value("latest_invoice", nlohmann::json());
  if (!invoice_id.is_string()) return charge;
  auto invoice = stripe_.get("/v1/invoices/" + invoice_id.get<std::string>());
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
  std::string key = common::sha256Hex(idempotency_key.empty() ? claims.dump() : idempotency_key);
  stripe::StripeClient::Response schedule;
  if (sub.schedule_id.empty()) {
    schedule = stripe_.postWithTime("/v1/subscription_schedules", {{"from_subscription", sub.subscription_id}},
                                    "schedule:create:" + sub.subscription_id + ":" + key);
  } else {
    schedule = stripe_.fetch("/v1/subscription_schedules/" + sub.schedule_id);
    if (!scheduleIsOurs(schedule.body)) throw scheduleNotOurs(sub.schedule_id);
  }
  nlohmann::json params;
  try {
    params = downgradeParams(schedule.body, {sub.price_id, to->id, claims.value("quantity", 1LL), to->interval,
                                             to->interval_count});
  } catch (const std::invalid_argument& e) {
    throw ApiError(409, "invalid_request_error", "schedule_unexpected",
                   std::string("the subscription's schedule can't take a downgrade: ") + e.what());
  }
  auto updated = stripe_.postWithTime("/v1/subscription_schedules/" + schedule.body.at("id").get<std::string>(), params,
                                      "schedule:update:" + sub.subscription_id + ":" + key);
  syncSchedule(updated, sub.subscription_id);
  return {{"account_id", account_id}, {"subscription", BillingReads(db_).subscription(customer_id)}};
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
  auto released = stripe_.postWithTime("/v1/subscription_schedules/" + sub.schedule_id + "/release", nlohmann::json::object(),
                                       "schedule:release:" + sub.schedule_id + ":" +
                                           (idempotency_key.empty() ? stripe::newIdempotencyKey() : common::sha256Hex(idempotency_key)));
  syncSchedule(released, sub.subscription_id);
  return {{"account_id", account_id}, {"subscription", BillingReads(db_).subscription(customer_id)}};
}

nlohmann::json PlanChanges::setCancelAtPeriodEnd(const std::string& account_id, const std::string& customer_id,
                                                 bool cancel, const std::string& idempotency_key) {
  auto sub = current(customer_id);
  // Stripe refuses cancellation changes on a subscription a schedule manages. Ours is released first: cancelling
  // drops a scheduled downgrade (the subscription ends anyway); a finished one changes nothing. Another's is left
  // alone.
  requireOurSchedule(sub);
  if (!sub.schedule_id.empty()) releaseFinishedSchedule(sub, std::numeric_limits<std::int64_t>::max());
  // Setting a flag is idempotent by nature; the key still protects against a retried request crossing an undo.
  std::string key = "cancel:" + sub.subscription_id + ":" + (cancel ? "1" : "0") + ":" +
                    (idempotency_key.empty() ? stripe::newIdempotencyKey() : common::sha256Hex(idempotency_key));
  stripe::StripeClient::Response updated;
  updated = stripe_.postWithTime("/v1/subscriptions/" + sub.subscription_id, {{"cancel_at_period_end", cancel}}, key);
  sync(updated);
  return {{"account_id", account_id}, {"subscription", BillingReads(db_).subscription(customer_id)}};
}

}  // namespace billing::api

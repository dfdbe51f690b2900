// Subscriptions: create, update with prorations, cancel; invoices and their collection; what a test clock's
// advance does to them (renewals, trial ends, metered usage, finalization grace).
#include <algorithm>
#include <cmath>

#include "tests/support/fake_stripe/state.h"

namespace billing::testing::fake {
namespace {

constexpr std::int64_t kFinalizationGraceSeconds = 3600;  // https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period
constexpr std::int64_t kPendingUpdateSeconds = 23 * 3600;  // https://docs.stripe.com/billing/subscriptions/pending-updates-reference

bool isMetered(const json& price) {
  return price.contains("recurring") && price["recurring"].is_object() &&
         price["recurring"].value("usage_type", "licensed") == "metered";
}

const json& recurringOf(const json& price) {
  static const json none = {{"interval", "month"}, {"interval_count", 1}};
  return price.contains("recurring") && price["recurring"].is_object() ? price["recurring"] : none;
}

bool live(const json& sub) {
  auto status = sub.value("status", "");
  return status != "canceled" && status != "incomplete_expired";
}

// The earliest and the latest current_period_end of the items: they differ only with mixed intervals, which flexible
// billing mode allows, each item keeping its own period
// (https://docs.stripe.com/billing/subscriptions/mixed-interval; changelog 2025-07-30.basil).
std::int64_t minPeriodEnd(const json& sub) {
  std::int64_t out = 0;
  for (const auto& item : sub["items"]["data"]) {
    std::int64_t end = item["current_period_end"];
    if (out == 0 || end < out) out = end;
  }
  return out;
}
std::int64_t maxPeriodEnd(const json& sub) {
  std::int64_t out = 0;
  for (const auto& item : sub["items"]["data"]) out = std::max<std::int64_t>(out, item["current_period_end"]);
  return out;
}

bool flexibleMode(const json& sub) { return sub.value("billing_mode", json::object()).value("type", "flexible") == "flexible"; }

// In classic billing mode "all prices must have the same billing interval" (mixed intervals need flexible billing
// mode: https://docs.stripe.com/billing/subscriptions/mixed-interval). The answer's wording isn't documented;
// stricter reading: a 400 on items.
void requireOneIntervalUnlessFlexible(const json& sub, const json& items) {
  if (flexibleMode(sub) || items.empty()) return;
  const auto& first = recurringOf(items[0]["price"]);
  for (const auto& item : items) {
    const auto& r = recurringOf(item["price"]);
    if (r.value("interval", "") != first.value("interval", "") || r.value("interval_count", 1LL) != first.value("interval_count", 1LL)) {
      throw invalidRequest(400, "", "Mixed intervals are only supported on subscriptions with billing_mode[type]=flexible: "
                                    "all prices on a classic subscription must have the same recurring interval.", "items", true);
    }
  }
}

// The customer's payment outcome: a behaviour set for the customer (its card), else a default payment method on the
// subscription or customer succeeds, else there is nothing to charge (declined as requires_payment_method).
CardBehaviour cardOf(State& s, const json& sub) {
  const std::string customer = sub.value("customer", "");
  if (auto it = s.customer_cards.find(customer); it != s.customer_cards.end()) return it->second;
  if (sub.contains("default_payment_method") && sub["default_payment_method"].is_string()) return CardBehaviour::Succeeds;
  if (auto* c = s.find("customer", customer)) {
    if ((*c)["invoice_settings"].value("default_payment_method", json()).is_string()) return CardBehaviour::Succeeds;
  }
  return CardBehaviour::Declines;
}

std::int64_t percentOff(State& s, const json& sub, std::int64_t amount) {
  // Prorations reflect the subscription's discounts (https://docs.stripe.com/billing/subscriptions/prorations:
  // "Any adjustments from discounts are reflected in the proration invoice item's amount"). percent_off only;
  // amount_off coupons apply to the invoice as a whole, not to each line.
  double percent = 0;
  auto coupons = s.objects["subscription_coupons"].find(sub.value("id", ""));
  if (coupons == s.objects["subscription_coupons"].end()) return amount;
  for (const auto& c : coupons->second["coupons"]) {
    if (c["percent_off"].is_number()) percent += c["percent_off"].get<double>();
  }
  return amount - static_cast<std::int64_t>(std::llround(static_cast<double>(amount) * percent / 100.0));
}

// The line's pricing.unit_amount_decimal (invoice line item object, pricing.unit_amount_decimal): the price's decimal
// amount, or its whole unit_amount as a string; a tiered price has no single unit amount, so null (the stricter
// reading: the docs show no unit amount for tiered lines, and a client must not infer one).
json lineUnitAmount(const json& price) {
  if (price.contains("unit_amount_decimal") && price["unit_amount_decimal"].is_string()) return price["unit_amount_decimal"];
  if (price.contains("unit_amount") && price["unit_amount"].is_number_integer()) return std::to_string(price["unit_amount"].get<std::int64_t>());
  return nullptr;
}

json line(State& s, const json& sub, const json& item, const json& price, std::int64_t amount, std::int64_t quantity,
          std::int64_t start, std::int64_t end, bool proration, const std::string& description) {
  return {{"id", s.newId("il")}, {"object", "line_item"}, {"amount", amount}, {"currency", sub["currency"]},
          {"description", description}, {"livemode", false}, {"metadata", json::object()},
          {"period", {{"start", start}, {"end", end}}}, {"quantity", quantity}, {"subscription", sub["id"]},
          {"discountable", !proration}, {"discounts", json::array()},
          {"parent", {{"type", "subscription_item_details"}, {"invoice_item_details", nullptr},
                      {"subscription_item_details", {{"proration", proration}, {"subscription", sub["id"]},
                                                     {"subscription_item", item["id"]}, {"invoice_item", nullptr}}}}},
          {"pricing", {{"type", "price_details"}, {"unit_amount_decimal", lineUnitAmount(price)},
                       {"price_details", {{"price", price["id"]}, {"product", price["product"]}}}}}};
}

// send_invoice: "Stripe will email this invoice to the customer with payment instructions", due
// `days_until_due` days after it is created (https://docs.stripe.com/api/subscriptions/object#subscription_object-days_until_due,
// https://docs.stripe.com/billing/collection-method); charge_automatically invoices have no due date.
json dueDate(const json& sub, std::int64_t now) {
  if (sub.value("collection_method", "") != "send_invoice") return nullptr;
  return now + sub.value("days_until_due", 0LL) * 86400;
}

json newInvoice(State& s, const json& sub, const std::string& reason, std::int64_t now, json lines) {
  std::int64_t subtotal = 0;
  for (const auto& l : lines) subtotal += l["amount"].get<std::int64_t>();
  auto id = s.newId("in");
  json invoice = {{"id", id}, {"object", "invoice"}, {"customer", sub["customer"]}, {"currency", sub["currency"]},
                  {"created", now}, {"livemode", false}, {"billing_reason", reason}, {"status", "draft"},
                  {"collection_method", sub.value("collection_method", json("charge_automatically"))}, {"auto_advance", true},
                  {"due_date", dueDate(sub, now)},
                  {"subtotal", subtotal}, {"total", subtotal}, {"amount_due", 0}, {"amount_paid", 0},
                  {"amount_remaining", 0}, {"starting_balance", 0}, {"ending_balance", nullptr},
                  {"period_start", now}, {"period_end", now}, {"attempt_count", 0}, {"attempted", false},
                  {"number", nullptr}, {"hosted_invoice_url", nullptr}, {"invoice_pdf", nullptr},
                  {"discounts", json::array()},
                  {"lines", {{"object", "list"}, {"data", lines}, {"has_more", false}, {"url", "/v1/invoices/" + id + "/lines"}}},
                  {"parent", {{"type", "subscription_details"}, {"quote_details", nullptr},
                              {"subscription_details", {{"metadata", sub.value("metadata", json::object())}, {"subscription", sub["id"]}}}}},
                  {"status_transitions", {{"finalized_at", nullptr}, {"marked_uncollectible_at", nullptr},
                                          {"paid_at", nullptr}, {"voided_at", nullptr}}},
                  {"metadata", json::object()}};
  return invoice;
}

// Finalizing applies the customer's credit balance (negative balance = credit): a negative total is credited to the
// balance; https://docs.stripe.com/billing/customer/balance.
void finalize(State& s, json& invoice, std::int64_t now) {
  std::int64_t total = 0;
  for (const auto& l : invoice["lines"]["data"]) total += l["amount"].get<std::int64_t>();
  invoice["subtotal"] = total;
  invoice["total"] = total;
  auto& customer = s.get("customer", invoice["customer"], "customer", "customer");
  std::int64_t balance = customer.value("balance", 0LL);
  invoice["starting_balance"] = balance;
  std::int64_t due = total + balance;
  std::int64_t ending = due < 0 ? due : 0;
  customer["balance"] = ending;
  invoice["ending_balance"] = ending;
  invoice["amount_due"] = std::max<std::int64_t>(due, 0);
  invoice["amount_remaining"] = invoice["amount_due"];
  invoice["status"] = "open";
  invoice["number"] = "FAKE-" + std::to_string(s.next_id++);
  invoice["hosted_invoice_url"] = s.hosted_base.empty()
                                      ? "https://invoice.stripe.com/i/acct_fake/test_" + invoice["id"].get<std::string>()
                                      : s.hosted_base + "/_hosted/invoice/" + invoice["id"].get<std::string>();
  invoice["invoice_pdf"] = "https://pay.stripe.com/invoice/acct_fake/test_" + invoice["id"].get<std::string>() + "/pdf";
  invoice["status_transitions"]["finalized_at"] = now;
  s.emit("invoice.finalized", invoice, now);
}

// Sent: a send_invoice invoice is not charged; it waits for the customer to pay it by its due date.
// Processing: a bank debit was initiated; it settles later (settleDebits).
enum class Paid { Yes, Declined, NeedsAction, Sent, Processing };

// A bank debit settles "within 5 business days" for SEPA (https://docs.stripe.com/payments/sepa-debit); stricter
// reading: not before 3 days, so nothing may treat a processing debit as paid early.
constexpr std::int64_t kDebitSettleSeconds = 3 * 86400;

// Collects an open invoice. A zero amount is paid at once.
Paid collect(State& s, json& invoice, const json& sub, std::int64_t now) {
  if (invoice.value("collection_method", "") == "send_invoice" && invoice["amount_due"].get<std::int64_t>() > 0) {
    s.emit("invoice.sent", invoice, now);
    return Paid::Sent;
  }
  invoice["attempted"] = true;
  invoice["attempt_count"] = invoice.value("attempt_count", 0) + 1;
  if (invoice["amount_due"].get<std::int64_t>() > 0) {
    auto card = cardOf(s, sub);
    if (card == CardBehaviour::DebitProcessing) {
      // The invoice stays open while its PaymentIntent is processing; paid when the debit settles.
      s.objects["payment_intent_status"][invoice["id"].get<std::string>()] = {{"status", "processing"}};
      s.objects["debit_settles"][invoice["id"].get<std::string>()] = {{"at", now + kDebitSettleSeconds}};
      return Paid::Processing;
    }
    if (card != CardBehaviour::Succeeds) {
      // The invoice's PaymentIntent waits for the customer: requires_action (3-D Secure) or requires_payment_method.
      auto pi = s.newId("pi");
      // confirmation_secret is includable: returned only when expanded (fake_stripe.cpp's invoice read).
      s.objects["confirmation_secret"][invoice["id"].get<std::string>()] = {{"type", "payment_intent"},
                                                                            {"client_secret", pi + "_secret_fake"}};
      s.objects["payment_intent_status"][invoice["id"].get<std::string>()] = {
          {"status", card == CardBehaviour::RequiresAction ? "requires_action" : "requires_payment_method"}};
      // 3-D Secure: invoice.payment_action_required; a decline: invoice.payment_failed
      // (https://docs.stripe.com/billing/subscriptions/overview#requires-action).
      // Both for 3-D Secure (stricter reading: the payment failed *and* needs action; the docs describe
      // invoice.payment_failed with the PaymentIntent in requires_action).
      s.emit("invoice.payment_failed", invoice, now);
      if (card == CardBehaviour::RequiresAction) s.emit("invoice.payment_action_required", invoice, now);
      return card == CardBehaviour::RequiresAction ? Paid::NeedsAction : Paid::Declined;
    }
  }
  invoice["status"] = "paid";
  invoice["amount_paid"] = invoice["amount_due"];
  invoice["amount_remaining"] = 0;
  invoice["status_transitions"]["paid_at"] = now;
  s.objects["payment_intent_status"].erase(invoice["id"].get<std::string>());
  s.emit("invoice.paid", invoice, now);
  return Paid::Yes;
}

json& storeInvoice(State& s, json invoice) {
  auto id = invoice["id"].get<std::string>();
  s.objects["invoice"][id] = std::move(invoice);
  return s.objects["invoice"][id];
}

// Items of a subscription as Stripe returns them (dahlia: periods live on the items).
json makeItem(State& s, const json& sub, const json& price_object, std::int64_t quantity, std::int64_t start,
              std::int64_t end, const json& metadata) {
  json item = {{"id", s.newId("si")}, {"object", "subscription_item"}, {"created", start},
               {"subscription", sub["id"]}, {"price", price_object}, {"metadata", metadata},
               {"current_period_start", start}, {"current_period_end", end}, {"discounts", json::array()},
               {"tax_rates", json::array()}};
  if (!isMetered(price_object)) item["quantity"] = quantity;
  return item;
}

// Where a metered item's usage starts counting in its period: the period start, or the moment its price was
// changed or the item was added mid-period ("the invoice includes usage from January 16 to January 31 at price C",
// https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup#update-prices-mid-cycle).
std::int64_t meteredStart(State& s, const json& item) {
  std::int64_t start = item["current_period_start"];
  auto since = s.objects["metered_since"].find(item["id"].get<std::string>());
  if (since != s.objects["metered_since"].end()) start = std::max<std::int64_t>(start, since->second["at"]);
  return start;
}

// The subscription's items after a change at `t`; items whose metered price changed (or that were added) count
// usage from `t` on.
void applyItems(State& s, json& sub, const json& items, const std::vector<std::string>& metered_restarted, std::int64_t t) {
  sub["items"]["data"] = items;
  for (const auto& id : metered_restarted) s.objects["metered_since"][id] = {{"at", t}};
}

// The usage of a metered item over [start, end): meter events of the customer with the meter's event name, dated in
// the period and received before the invoice is finalized (period end + the 1 h grace). Later events for a closed
// period are not billed (stricter reading: they are dropped, not moved to the next period).
std::int64_t usageOf(State& s, const std::string& customer, const json& price_object, std::int64_t start,
                     std::int64_t end, std::int64_t finalized_at) {
  auto meter_id = recurringOf(price_object).value("meter", json());
  if (!meter_id.is_string()) return 0;
  auto* meter = s.find("billing.meter", meter_id.get<std::string>());
  if (!meter) return 0;
  const std::string event_name = (*meter)["event_name"];
  std::int64_t sum = 0;
  for (const auto& e : s.meter_events) {
    if (e.customer == customer && e.event_name == event_name && e.timestamp >= start && e.timestamp < end &&
        e.received_at <= finalized_at) {
      sum += e.value;
    }
  }
  return sum;
}

// Applies the outcome of paying an update's invoice under `payment_behavior`
// (https://docs.stripe.com/api/subscriptions/update#update_subscription-payment_behavior).
void fail(State& s, const std::string& code, const std::string& message, const json& invoice) {
  Refusal r{{402, {{"error", {{"type", "card_error"}, {"code", code}, {"message", message}}}}, {}}, false};
  if (code == "card_declined") r.answer.body["error"]["decline_code"] = "generic_decline";
  r.answer.body["error"]["payment_intent"] = {
      {"status", s.objects["payment_intent_status"][invoice["id"].get<std::string>()].value("status", "")}};
  throw r;
}

struct ItemChange {
  std::string id;                 // empty: a new item
  std::optional<std::string> price;
  std::optional<std::int64_t> quantity;
  bool deleted = false;
  json metadata = nullptr;
};

std::vector<ItemChange> itemChanges(State& s, const json& sub, const std::vector<Params>& items) {
  std::vector<ItemChange> out;
  for (const auto& i : items) {
    i.allow({"id", "price", "quantity", "deleted", "metadata", "clear_usage"});
    ItemChange c;
    c.id = i.str("id").value_or("");
    c.price = i.str("price");
    c.quantity = i.integer("quantity");
    c.deleted = i.boolean("deleted").value_or(false);
    if (i.has("metadata")) c.metadata = i.strings("metadata");
    if (!c.id.empty()) {
      bool found = false;
      for (const auto& existing : sub["items"]["data"]) found = found || existing["id"] == c.id;
      if (!found) throw invalidRequest(400, "resource_missing", "No such subscription item: '" + c.id + "'", i.path("id"), true);
    } else if (!c.price) {
      throw missingParameter(i.path("price"));
    }
    if (c.price) price(s, *c.price, i.path("price"));
    if (c.quantity && *c.quantity < 0) throw invalidRequest(400, "parameter_invalid_integer", "quantity must be >= 0", i.path("quantity"), true);
    out.push_back(c);
  }
  return out;
}

struct Plan {
  json items;  // the subscription's items after the change
  json proration_lines = json::array();
  bool interval_changed = false;
  std::int64_t new_period_end = 0;
  std::vector<std::string> metered_restarted;  // items whose metered usage counts from the change on
};

// What an item change does at `t`: prorations credit the unused time of the old price and charge the remaining time
// of the new one over the item's period, to the second, rounded per line
// (https://docs.stripe.com/billing/subscriptions/prorations). Nothing is prorated while trialing (stricter reading:
// a change during a trial never charges). A change of billing interval starts a new period at once, charged in full
// (https://support.stripe.com/questions/handling-subscription-changes).
Plan planChange(State& s, const json& sub, const std::vector<ItemChange>& changes, std::int64_t t,
                const std::string& proration_behavior) {
  Plan plan;
  plan.items = sub["items"]["data"];
  bool trialing = sub.value("status", "") == "trialing";
  bool prorate = proration_behavior != "none" && !trialing;
  for (const auto& c : changes) {
    if (c.id.empty()) {
      const auto& anchor_item = plan.items.empty() ? json() : plan.items[0];
      auto start = anchor_item.is_null() ? t : anchor_item["current_period_start"].get<std::int64_t>();
      auto end = anchor_item.is_null() ? t : anchor_item["current_period_end"].get<std::int64_t>();
      auto item = makeItem(s, sub, price(s, *c.price, "items"), c.quantity.value_or(1), start, end,
                           c.metadata.is_null() ? json::object() : c.metadata);
      if (prorate && !isMetered(item["price"]) && end > t) {
        double fraction = static_cast<double>(end - t) / static_cast<double>(end - start);
        auto amount = percentOff(s, sub, std::llround(fraction * static_cast<double>(lineAmount(s, item["price"], item.value("quantity", 1LL)))));
        plan.proration_lines.push_back(line(s, sub, item, item["price"], amount, item.value("quantity", 1LL), t, end, true, "Remaining time"));
      }
      if (isMetered(item["price"]) && t > start) plan.metered_restarted.push_back(item["id"]);
      plan.items.push_back(item);
      continue;
    }
    auto it = std::find_if(plan.items.begin(), plan.items.end(), [&](const json& i) { return i["id"] == c.id; });
    auto& item = *it;
    const json old_price = item["price"];
    const std::int64_t old_quantity = item.value("quantity", 1LL);
    const json new_price = c.price ? price(s, *c.price, "items") : old_price;
    const std::int64_t new_quantity = c.deleted ? 0 : c.quantity.value_or(c.price && *c.price != old_price["id"] ? 1 : old_quantity);
    std::int64_t start = item["current_period_start"], end = item["current_period_end"];
    const auto& ro = recurringOf(old_price);
    const auto& rn = recurringOf(new_price);
    bool interval_changed = !c.deleted && (ro.value("interval", "") != rn.value("interval", "") ||
                                           ro.value("interval_count", 1LL) != rn.value("interval_count", 1LL));
    if (isMetered(old_price) && (c.deleted || new_price["id"] != old_price["id"]) && end > t) {
      // A metered price removed or replaced mid-period: in flexible billing mode "we create an invoice item that
      // bills for previously reported metered usage", and proration_behavior decides whether it is billed (none:
      // not billed); in classic mode that usage isn't billed at all
      // (https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup#update-prices-mid-cycle).
      // Stricter reading: only events received by now count, and always_invoice bills it on the invoice of now.
      bool flexible = sub.value("billing_mode", json::object()).value("type", "flexible") == "flexible";
      if (flexible && proration_behavior != "none") {
        auto used = usageOf(s, sub["customer"], old_price, meteredStart(s, item), t, s.nowFor(sub["customer"]));
        plan.proration_lines.push_back(line(s, sub, item, old_price, percentOff(s, sub, lineAmount(s, old_price, used)),
                                            used, meteredStart(s, item), t, true, "Usage until the change"));
      }
      if (!c.deleted) plan.metered_restarted.push_back(c.id);
    }
    if (prorate && !isMetered(old_price) && end > t) {
      double fraction = static_cast<double>(end - t) / static_cast<double>(end - start);
      auto credit = -percentOff(s, sub, std::llround(fraction * static_cast<double>(lineAmount(s, old_price, old_quantity))));
      if (credit != 0) plan.proration_lines.push_back(line(s, sub, item, old_price, credit, old_quantity, t, end, true, "Unused time"));
      if (!c.deleted && !isMetered(new_price) && !interval_changed) {
        auto charge = percentOff(s, sub, std::llround(fraction * static_cast<double>(lineAmount(s, new_price, new_quantity))));
        plan.proration_lines.push_back(line(s, sub, item, new_price, charge, new_quantity, t, end, true, "Remaining time"));
      }
    }
    if (interval_changed && !trialing && !isMetered(new_price)) {
      // A new interval starts a new period now, billed in full on the invoice of now whatever proration_behavior
      // says (only the old period's credit is a proration): "the first full period of the new plan begins
      // immediately" (https://support.stripe.com/questions/handling-subscription-changes,
      // https://docs.stripe.com/billing/subscriptions/upgrade-downgrade). Stricter reading: the new period's line is a regular subscription line, not a
      // proration (its `parent.subscription_item_details.proration` false), since it bills a whole period.
      std::int64_t charge_end = addIntervals(t, rn.value("interval", "month"), rn.value("interval_count", 1LL), 1);
      auto charge = percentOff(s, sub, lineAmount(s, new_price, new_quantity));
      plan.proration_lines.push_back(line(s, sub, item, new_price, charge, new_quantity, t, charge_end, false, "New period"));
    }
    if (c.deleted) {
      plan.items.erase(it);
      continue;
    }
    item["price"] = new_price;
    if (!isMetered(new_price)) item["quantity"] = new_quantity;
    else item.erase("quantity");
    if (!c.metadata.is_null()) item["metadata"] = c.metadata;
    if (interval_changed) {
      plan.interval_changed = true;
      plan.new_period_end = addIntervals(t, rn.value("interval", "month"), rn.value("interval_count", 1LL), 1);
      // Flexible mode: the changed item starts its own period now; the others keep theirs (mixed intervals).
      item["current_period_start"] = t;
      item["current_period_end"] = plan.new_period_end;
    }
  }
  requireOneIntervalUnlessFlexible(sub, plan.items);
  if (plan.interval_changed && !flexibleMode(sub)) {
    // Classic mode: one period for the whole subscription, restarted at the change.
    for (auto& item : plan.items) {
      item["current_period_start"] = t;
      item["current_period_end"] = plan.new_period_end;
    }
  }
  return plan;
}

// The next renewal's lines: licensed items for the next period in advance, metered items' usage so far in arrears.
json renewalLines(State& s, const json& sub, const json& items, std::int64_t at) {
  json lines = json::array();
  for (const auto& item : items) {
    const auto& p = item["price"];
    std::int64_t end = item["current_period_end"];
    const auto& r = recurringOf(p);
    if (isMetered(p)) {
      auto used = usageOf(s, sub["customer"], p, meteredStart(s, item), end, at);
      lines.push_back(line(s, sub, item, p, percentOff(s, sub, lineAmount(s, p, used)), used,
                           meteredStart(s, item), end, false, "Usage"));
    } else {
      auto next_end = addIntervals(end, r.value("interval", "month"), r.value("interval_count", 1LL), 1);
      auto q = item.value("quantity", 1LL);
      lines.push_back(line(s, sub, item, p, percentOff(s, sub, lineAmount(s, p, q)), q, end, next_end, false,
                           std::to_string(q) + " x " + p.value("id", "")));
    }
  }
  return lines;
}

json pendingInvoiceItems(State& s, const std::string& subscription_id) {
  auto& pending = s.objects["pending_line"];
  auto found = pending.find(subscription_id);
  if (found == pending.end() || !found->second.is_object()) return json::array();
  return found->second.value("lines", json::array());
}

}  // namespace

json& price(State& s, const std::string& id, const std::string& param) { return s.get("price", id, "price", param); }

void cancelNow(State& s, json& sub, std::int64_t now) {
  sub["status"] = "canceled";
  sub["canceled_at"] = now;
  sub["ended_at"] = now;
  sub["cancel_at_period_end"] = false;
  if (sub.value("schedule", json()).is_string()) {
    if (auto* schedule = s.find("subscription_schedule", sub["schedule"])) {
      (*schedule)["status"] = "canceled";
      (*schedule)["canceled_at"] = now;
    }
  }
  s.emit("customer.subscription.deleted", sub, now);
}

bool payOpenInvoice(State& s, const std::string& invoice_id) {
  auto* invoice = s.find("invoice", invoice_id);
  if (!invoice || (*invoice)["status"] != "open") return false;
  const auto now = s.nowFor((*invoice)["customer"]);
  (*invoice)["status"] = "paid";
  (*invoice)["amount_paid"] = (*invoice)["amount_due"];
  (*invoice)["amount_remaining"] = 0;
  (*invoice)["status_transitions"]["paid_at"] = now;
  s.objects["payment_intent_status"].erase(invoice_id);
  s.emit("invoice.paid", *invoice, now);
  auto pending = s.objects["pending_invoice"].find(invoice_id);
  if (pending == s.objects["pending_invoice"].end()) {
    // A past_due subscription whose latest invoice is paid is active again ("past_due ... the subscription becomes
    // active once the invoice is paid": https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses).
    auto sub_id = (*invoice).value("parent", json::object()).value("subscription_details", json::object()).value("subscription", json());
    auto* sub = sub_id.is_string() ? s.find("subscription", sub_id.get<std::string>()) : nullptr;
    if (sub && (*sub)["latest_invoice"] == invoice_id && (*sub)["status"] == "past_due") {
      (*sub)["status"] = "active";
      s.emit("customer.subscription.updated", *sub, now);
    }
    return true;
  }
  const json waiting = pending->second;
  s.objects["pending_invoice"].erase(pending);
  auto* sub = s.find("subscription", waiting["subscription"].get<std::string>());
  if (!sub || !(*sub)["pending_update"].is_object() || (*sub)["latest_invoice"] != invoice_id) return true;
  // "If payment succeeds, the changes are applied and pending_update is cleared"
  // (https://docs.stripe.com/billing/subscriptions/pending-updates).
  const json update = (*sub)["pending_update"];
  applyItems(s, *sub, update["subscription_items"], waiting["metered_restarted"].get<std::vector<std::string>>(),
             waiting["at"].get<std::int64_t>());
  if (waiting.value("interval_changed", false)) (*sub)["billing_cycle_anchor"] = waiting["at"];
  if (update.value("metadata", json()).is_object()) {
    for (const auto& [k, v] : update["metadata"].items()) (*sub)["metadata"][k] = v;
  }
  (*sub)["pending_update"] = nullptr;
  s.emit("customer.subscription.pending_update_applied", *sub, now);
  s.emit("customer.subscription.updated", *sub, now);
  return true;
}

// Bank debits of this customer's invoices that settle by `until`: paid (invoice.paid, a past_due subscription active).
void settleDebits(State& s, const std::string& customer_id, std::int64_t until) {
  std::vector<std::string> settled;
  for (const auto& [id, debit] : s.objects["debit_settles"]) {
    auto* invoice = s.find("invoice", id);
    if (!invoice || invoice->value("customer", "") != customer_id || debit["at"].get<std::int64_t>() > until) continue;
    settled.push_back(id);
  }
  for (const auto& id : settled) {
    s.objects["debit_settles"].erase(id);
    payOpenInvoice(s, id);
  }
}

void advanceInvoices(State& s, const std::string& customer_id, std::int64_t until) {
  settleDebits(s, customer_id, until);
  for (auto& [id, invoice] : s.objects["invoice"]) {
    if (invoice.value("customer", "") != customer_id || invoice.value("status", "") != "draft") continue;
    auto meta = s.objects["draft_meta"].find(id);
    if (meta == s.objects["draft_meta"].end()) continue;
    std::int64_t finalize_at = meta->second["finalize_at"];
    if (finalize_at > until) continue;
    // Draft renewal invoices are finalized about an hour after creation
    // (https://docs.stripe.com/invoicing/integration/automatic-advancement-collection); metered usage counts up to then.
    for (auto& l : invoice["lines"]["data"]) {
      if (l.value("description", "") != "Usage") continue;
      auto sub_id = l["subscription"].get<std::string>();
      auto* sub = s.find("subscription", sub_id);
      auto* p = s.find("price", l["pricing"]["price_details"]["price"].get<std::string>());
      if (!sub || !p) continue;
      auto used = usageOf(s, customer_id, *p, l["period"]["start"], l["period"]["end"], finalize_at);
      l["quantity"] = used;
      l["amount"] = percentOff(s, *sub, lineAmount(s, *p, used));
    }
    finalize(s, invoice, finalize_at);
    auto* sub = s.find("subscription", invoice["parent"]["subscription_details"]["subscription"].get<std::string>());
    if (!sub) continue;
    auto paid = collect(s, invoice, *sub, finalize_at);
    if (paid != Paid::Yes && paid != Paid::Sent && paid != Paid::Processing && (*sub)["status"] == "active") {
      (*sub)["status"] = "past_due";
      s.emit("customer.subscription.updated", *sub, finalize_at);
    }
    s.objects["draft_meta"].erase(meta);
  }
}

void advanceSubscription(State& s, json& sub, std::int64_t until) {
  for (int guard = 0; guard < 1000 && live(sub); ++guard) {
    if (sub["items"]["data"].empty()) return;
    // The next period end of any item (the earliest, with mixed intervals).
    std::int64_t period_end = minPeriodEnd(sub);
    std::int64_t trial_end = sub.value("trial_end", json()).is_number() ? sub["trial_end"].get<std::int64_t>() : 0;
    bool trial_boundary = sub["status"] == "trialing" && trial_end > 0 && trial_end <= period_end;
    std::int64_t boundary = trial_boundary ? trial_end : period_end;
    // A pending update expires unpaid (https://docs.stripe.com/billing/subscriptions/pending-updates-reference).
    if (sub.value("pending_update", json()).is_object() && sub["pending_update"]["expires_at"].get<std::int64_t>() <= until &&
        sub["pending_update"]["expires_at"].get<std::int64_t>() <= boundary) {
      // "the invoice is voided and the pending update is discarded"; the usage it billed is discarded too.
      const std::int64_t at = sub["pending_update"]["expires_at"];
      sub["pending_update"] = nullptr;
      if (auto* invoice = s.find("invoice", sub.value("latest_invoice", ""))) {
        if ((*invoice)["status"] == "open" && s.objects["pending_invoice"].count((*invoice)["id"].get<std::string>())) {
          const json waiting = s.objects["pending_invoice"][(*invoice)["id"].get<std::string>()];
          for (const auto& id : waiting["metered_restarted"]) s.objects["metered_since"][id.get<std::string>()] = {{"at", waiting["at"]}};
          (*invoice)["status"] = "void";
          (*invoice)["status_transitions"]["voided_at"] = at;
          s.objects["pending_invoice"].erase((*invoice)["id"].get<std::string>());
          s.emit("invoice.voided", *invoice, at);
        }
      }
      s.emit("customer.subscription.pending_update_expired", sub, at);
    }
    // Schedule phases change at their boundaries (subscription_schedules.cpp moves the phases).
    if (sub.value("schedule", json()).is_string()) {
      if (auto* schedule = s.find("subscription_schedule", sub["schedule"])) {
        std::int64_t phase_end = (*schedule)["current_phase"].is_object()
                                     ? (*schedule)["current_phase"].value("end_date", std::int64_t{0}) : 0;
        if (phase_end > 0 && phase_end < boundary) boundary = phase_end;
      }
    }
    // A cancellation date (cancel_at_period_end resolves to the earliest item period end, cancel_at to its date).
    const std::int64_t cancel_at = sub.value("cancel_at", json()).is_number() ? sub["cancel_at"].get<std::int64_t>() : 0;
    if (cancel_at > 0 && cancel_at < boundary) boundary = cancel_at;
    if (boundary > until) return;
    if (cancel_at > 0 && boundary == cancel_at) {
      // The final invoice bills the metered usage of the last period.
      json lines = json::array();
      for (const auto& item : sub["items"]["data"]) {
        if (isMetered(item["price"])) {
          lines.push_back(line(s, sub, item, item["price"], 0, 0, meteredStart(s, item), boundary, false, "Usage"));
        }
      }
      if (!lines.empty()) {
        auto& invoice = storeInvoice(s, newInvoice(s, sub, "subscription_cycle", boundary, lines));
        s.objects["draft_meta"][invoice["id"].get<std::string>()] = {{"finalize_at", boundary + kFinalizationGraceSeconds}};
        s.emit("invoice.created", invoice, boundary);
      }
      cancelNow(s, sub, boundary);
      advanceInvoices(s, sub["customer"], until);
      return;
    }
    bool phase_change = false;
    if (sub.value("schedule", json()).is_string()) {
      if (auto* schedule = s.find("subscription_schedule", sub["schedule"])) {
        if ((*schedule)["current_phase"].is_object() && (*schedule)["current_phase"]["end_date"] == boundary) {
          phase_change = true;
          advanceSchedulePhase(s, *schedule, sub, boundary);
          if (!live(sub)) return;
        }
      }
    }
    if (trial_boundary) {
      sub["status"] = "active";
      sub["trial_end"] = trial_end;
    }
    if (boundary == period_end || trial_boundary || phase_change) {
      // A new period starts at the boundary: licensed items billed in advance, metered usage of the closed period in
      // arrears, pending prorations; drafted now, finalized after the grace.
      json lines = json::array();
      json next_items = sub["items"]["data"];
      std::int64_t closed_period_start = boundary;
      for (const auto& item : next_items) {
        if (item["current_period_end"] == boundary || trial_boundary || phase_change) {
          closed_period_start = std::min<std::int64_t>(closed_period_start, item.value("current_period_start", boundary));
        }
      }
      for (auto& item : next_items) {
        // With mixed intervals only the items whose period ends here renew (an annual plan item doesn't at the
        // month end of its monthly usage item).
        if (!trial_boundary && !phase_change && item["current_period_end"] != boundary) continue;
        const auto& r = recurringOf(item["price"]);
        std::int64_t start = item["current_period_end"];
        if (trial_boundary || phase_change) start = boundary;
        if (isMetered(item["price"]) && !trial_boundary) {
          lines.push_back(line(s, sub, item, item["price"], 0, 0, meteredStart(s, item), boundary, false, "Usage"));
        }
        auto anchor = sub.value("billing_cycle_anchor", start);
        if (trial_boundary || phase_change) anchor = start;
        auto period = periodAround(anchor, r.value("interval", "month"), r.value("interval_count", 1LL), start);
        item["current_period_start"] = period.first;
        item["current_period_end"] = period.second;
        if (!isMetered(item["price"])) {
          auto q = item.value("quantity", 1LL);
          lines.push_back(line(s, sub, item, item["price"], percentOff(s, sub, lineAmount(s, item["price"], q)), q,
                               period.first, period.second, false, std::to_string(q) + " x " + item["price"].value("id", "")));
        }
      }
      if (trial_boundary || phase_change) sub["billing_cycle_anchor"] = boundary;
      for (auto& l : pendingInvoiceItems(s, sub["id"])) lines.push_back(l);
      s.objects["pending_line"].erase(sub["id"].get<std::string>());
      sub["items"]["data"] = next_items;
      auto& invoice = storeInvoice(s, newInvoice(s, sub, "subscription_cycle", boundary, lines));
      // "Start/End of the usage period during which invoice items were added to this invoice. This looks back one
      // period for a subscription invoice" (https://docs.stripe.com/api/invoices/object#invoice_object-period_start).
      invoice["period_start"] = closed_period_start;
      invoice["period_end"] = boundary;
      s.objects["draft_meta"][invoice["id"].get<std::string>()] = {{"finalize_at", boundary + kFinalizationGraceSeconds}};
      sub["latest_invoice"] = invoice["id"];
      s.emit("invoice.created", invoice, boundary);
      s.emit("customer.subscription.updated", sub, boundary);
      advanceInvoices(s, sub["customer"], until);
    }
  }
}

// "Subscriptions you create through the API now default to flexible billing mode" (2025-09-30.clover and later,
// https://docs.stripe.com/changelog/clover/2025-09-30/billing-mode-default-flexible); billing_mode[type]=classic asks
// for the old one.
std::string billingMode(const Params& p) {
  if (!p.has("billing_mode")) return "flexible";
  auto mode = p.object("billing_mode");
  mode.allow({"type", "flexible"});
  auto type = mode.required("type");
  if (type != "classic" && type != "flexible") throw invalidRequest(400, "", "Invalid billing_mode[type]", "billing_mode[type]", true);
  return type;
}

Answer subscriptions(State& s, const std::string& method, const std::vector<std::string>& parts, const Params& p) {
  if (parts.size() == 2 && method == "POST") {
    p.allow({"customer", "items", "trial_period_days", "trial_end", "discounts", "payment_behavior",
             "proration_behavior", "metadata", "default_payment_method", "collection_method", "expand",
             "cancel_at_period_end", "currency", "off_session", "billing_mode", "days_until_due"});
    auto customer_id = p.required("customer");
    const auto collection = p.str("collection_method").value_or("charge_automatically");
    if (collection != "charge_automatically" && collection != "send_invoice") {
      throw invalidRequest(400, "", "Invalid collection_method: must be one of charge_automatically or send_invoice", "collection_method", true);
    }
    // days_until_due is "valid only for subscriptions where collection_method is set to send_invoice"
    // (https://docs.stripe.com/api/subscriptions/create#create_subscription-days_until_due); stricter reading: a
    // send_invoice subscription must say it (Stripe's invoices require a due date for send_invoice).
    if (collection == "send_invoice" && !p.has("days_until_due")) throw missingParameter("days_until_due");
    if (collection != "send_invoice" && p.has("days_until_due")) {
      throw invalidRequest(400, "", "days_until_due can only be set when collection_method is send_invoice", "days_until_due", true);
    }
    s.get("customer", customer_id, "customer", "customer");
    auto items = p.list("items");
    if (items.empty()) throw missingParameter("items");
    const auto now = s.nowFor(customer_id);
    // "pending_if_incomplete ... cannot be passed when creating a Subscription"
    // (https://docs.stripe.com/api/subscriptions/create#create_subscription-payment_behavior).
    if (p.str("payment_behavior").value_or("") == "pending_if_incomplete") {
      throw invalidRequest(400, "", "payment_behavior=pending_if_incomplete can't be used when creating a subscription",
                           "payment_behavior", true);
    }
    json sub = {{"id", s.newId("sub")}, {"object", "subscription"}, {"customer", customer_id}, {"created", now},
                {"start_date", now}, {"livemode", false}, {"status", "active"}, {"cancel_at_period_end", false},
                {"cancel_at", nullptr}, {"canceled_at", nullptr}, {"ended_at", nullptr}, {"schedule", nullptr},
                {"trial_start", nullptr}, {"trial_end", nullptr}, {"pending_update", nullptr}, {"latest_invoice", nullptr},
                {"default_payment_method", nullptr}, {"collection_method", collection},
                {"days_until_due", collection == "send_invoice" ? json(*p.integer("days_until_due")) : json()},
                {"discounts", json::array()}, {"metadata", p.strings("metadata")}, {"billing_cycle_anchor", now},
                {"billing_mode", {{"type", billingMode(p)}}}, {"test_clock", s.get("customer", customer_id, "customer")["test_clock"]},
                {"items", {{"object", "list"}, {"data", json::array()}, {"has_more", false}}}};
    sub["items"]["url"] = "/v1/subscription_items?subscription=" + sub["id"].get<std::string>();
    if (auto pm = p.str("default_payment_method")) sub["default_payment_method"] = *pm;
    for (const auto& d : p.list("discounts")) {
      d.allow({"coupon"});
      auto& coupon = s.get("coupon", d.required("coupon"), "coupon", d.path("coupon"));
      sub["discounts"].push_back("di_" + coupon["id"].get<std::string>());
      s.objects["subscription_coupons"][sub["id"].get<std::string>()]["coupons"].push_back(coupon);
    }
    std::int64_t trial_end = 0;
    if (auto days = p.integer("trial_period_days")) trial_end = now + *days * 86400;
    if (auto end = p.str("trial_end")) trial_end = *end == "now" ? 0 : *p.integer("trial_end");
    std::string currency;
    for (const auto& change : itemChanges(s, sub, items)) {
      const auto& pr = price(s, *change.price, "items");
      if (!currency.empty() && pr["currency"] != currency) throw invalidRequest(400, "", "All prices on a subscription must have the same currency", "items", true);
      currency = pr["currency"];
      const auto& r = recurringOf(pr);
      auto end = trial_end > 0 ? trial_end : addIntervals(now, r.value("interval", "month"), r.value("interval_count", 1LL), 1);
      sub["items"]["data"].push_back(makeItem(s, sub, pr, change.quantity.value_or(1), now, end,
                                              change.metadata.is_null() ? json::object() : change.metadata));
    }
    sub["currency"] = currency;
    requireOneIntervalUnlessFlexible(sub, sub["items"]["data"]);
    if (trial_end > 0) {
      sub["status"] = "trialing";
      sub["trial_start"] = now;
      sub["trial_end"] = trial_end;
    }
    // The first invoice: licensed items for the first period (zero during a trial), finalized and paid at once.
    json lines = json::array();
    for (const auto& item : sub["items"]["data"]) {
      if (isMetered(item["price"])) continue;
      auto q = item.value("quantity", 1LL);
      auto amount = trial_end > 0 ? 0 : percentOff(s, sub, lineAmount(s, item["price"], q));
      lines.push_back(line(s, sub, item, item["price"], amount, q, now, item["current_period_end"], false,
                           std::to_string(q) + " x " + item["price"].value("id", "")));
    }
    auto& invoice = storeInvoice(s, newInvoice(s, sub, "subscription_create", now, lines));
    s.emit("invoice.created", invoice, now);
    finalize(s, invoice, now);
    sub["latest_invoice"] = invoice["id"];
    auto behaviour = p.str("payment_behavior").value_or("allow_incomplete");
    auto paid = collect(s, invoice, sub, now);
    if (paid != Paid::Yes && paid != Paid::Sent && paid != Paid::Processing) {
      // https://docs.stripe.com/api/subscriptions/create#create_subscription-payment_behavior
      if (behaviour == "error_if_incomplete") {
        fail(s, paid == Paid::NeedsAction ? "authentication_required" : "card_declined",
             paid == Paid::NeedsAction ? "The payment requires authentication." : "Your card was declined.", invoice);
      }
      sub["status"] = "incomplete";
    }
    s.objects["subscription"][sub["id"]] = sub;
    s.emit("customer.subscription.created", sub, now);
    return {200, s.objects["subscription"][sub["id"]], {}};
  }
  if (parts.size() != 3) throw invalidRequest(404, "", "Unrecognized request URL");
  auto& sub = s.get("subscription", parts[2], "subscription");
  const auto now = s.nowFor(sub["customer"]);
  if (method == "DELETE") {
    if (!live(sub)) throw invalidRequest(400, "", "This subscription is already canceled.", "", true);
    cancelNow(s, sub, now);
    return {200, sub, {}};
  }
  p.allow({"items", "proration_behavior", "proration_date", "payment_behavior", "cancel_at_period_end", "cancel_at",
           "metadata", "trial_end", "default_payment_method", "expand", "discounts", "off_session", "billing_cycle_anchor"});
  if (!live(sub)) throw invalidRequest(400, "", "A canceled subscription can only update its cancellation_details and metadata.", "", true);
  if ((p.has("cancel_at_period_end") || p.has("cancel_at")) && sub.value("schedule", json()).is_string()) {
    // Observed Stripe answer (not on a docs page; stricter reading: a 400 whatever the wording).
    throw invalidRequest(400, "", "The subscription is managed by the subscription schedule `" +
                                      sub["schedule"].get<std::string>() +
                                      "`, and updating any cancelation behavior directly is not allowed. Please update the schedule instead.");
  }
  auto behaviour = p.str("payment_behavior").value_or("allow_incomplete");
  auto proration_behavior = p.str("proration_behavior").value_or("create_prorations");
  if (proration_behavior != "create_prorations" && proration_behavior != "none" && proration_behavior != "always_invoice") {
    throw invalidRequest(400, "", "Invalid proration_behavior", "proration_behavior", true);
  }
  auto changes = itemChanges(s, sub, p.list("items"));
  std::int64_t t = p.integer("proration_date").value_or(now);
  if (behaviour == "pending_if_incomplete" && cardOf(s, sub) == CardBehaviour::DebitProcessing) {
    // Same page: "... or when bank debits are used as the payment method". Stricter reading: a 400, as above.
    throw invalidRequest(400, "", "Pending updates are not supported when a bank debit is the payment method.",
                         "payment_behavior", true);
  }
  if (behaviour == "pending_if_incomplete" && sub.value("collection_method", "") == "send_invoice") {
    // "Pending updates aren't supported when the subscription's collection_method is send_invoice or when bank
    // debits are used as the payment method for the subscription" (https://docs.stripe.com/billing/subscriptions/pending-updates).
    // The wording of Stripe's answer isn't documented; stricter reading: a 400 on payment_behavior.
    throw invalidRequest(400, "", "Pending updates are not supported for subscriptions with collection_method=send_invoice.",
                         "payment_behavior", true);
  }
  if (behaviour == "pending_if_incomplete") {
    // "When you use pending_if_incomplete you can only pass the parameters supported by pending updates"
    // (https://docs.stripe.com/billing/subscriptions/pending-updates-reference): items with price and quantity,
    // proration settings, trial_end, billing_cycle_anchor; metadata and discounts since 2026-05-27.dahlia;
    // cancel_at_period_end only from 2026-09-30.endive. Stricter reading: an item's `deleted` isn't listed, refused.
    bool deleting = false;
    for (const auto& c : changes) deleting = deleting || c.deleted;
    if (p.has("cancel_at_period_end") || p.has("default_payment_method") || deleting) {
      throw invalidRequest(400, "", "When you use pending_if_incomplete you can only pass the parameters supported by pending updates.",
                           "payment_behavior", true);
    }
  }
  if (p.has("cancel_at_period_end") && p.has("cancel_at")) {
    // Not on a docs page; stricter reading: the two describe one cancellation, so both at once are refused.
    throw invalidRequest(400, "", "You may only specify one of these parameters: cancel_at, cancel_at_period_end.", "cancel_at", true);
  }
  if (auto v = p.boolean("cancel_at_period_end")) {
    // "For mixed interval subscriptions the existing cancel_at_period_end feature always resolves to the earliest
    // item period end" (https://docs.stripe.com/changelog/basil/2025-07-30/cancel-at-enums). false clears the
    // cancellation it set (changelog 2018-02-28); stricter reading: it leaves a cancel_at date set another way.
    if (*v) {
      sub["cancel_at_period_end"] = true;
      sub["cancel_at"] = minPeriodEnd(sub);
    } else if (sub.value("cancel_at_period_end", false)) {
      sub["cancel_at_period_end"] = false;
      sub["cancel_at"] = nullptr;
    }
  }
  if (p.has("cancel_at")) {
    // cancel_at: a timestamp, "" to unset, or min_period_end / max_period_end, which "resolve to timestamps
    // immediately" (same changelog; the update's cancel_at in the API spec).
    const auto raw = *p.str("cancel_at");
    sub["cancel_at_period_end"] = false;
    if (raw.empty()) {
      sub["cancel_at"] = nullptr;
    } else if (raw == "min_period_end") {
      sub["cancel_at"] = minPeriodEnd(sub);
    } else if (raw == "max_period_end") {
      sub["cancel_at"] = maxPeriodEnd(sub);
    } else {
      auto at = p.integer("cancel_at");
      if (!at) throw invalidRequest(400, "", "Invalid cancel_at: must be a timestamp, \"\", min_period_end or max_period_end", "cancel_at", true);
      bool at_period_end = false;
      for (const auto& item : sub["items"]["data"]) at_period_end = at_period_end || item["current_period_end"] == *at;
      // A date inside a period prorates that period: not modelled here, so refused loudly rather than billed wrong.
      if (!at_period_end) throw invalidRequest(400, "", "fake_stripe models cancel_at only at an item's current_period_end", "cancel_at", true);
      sub["cancel_at"] = *at;
    }
  }
  if (p.has("metadata") && (behaviour != "pending_if_incomplete" || changes.empty())) sub["metadata"] = p.strings("metadata");
  if (auto pm = p.str("default_payment_method")) sub["default_payment_method"] = *pm;
  if (changes.empty()) {
    s.emit("customer.subscription.updated", sub, now);
    return {200, sub, {}};
  }
  auto plan = planChange(s, sub, changes, t, proration_behavior);
  bool invoice_now = proration_behavior == "always_invoice" || plan.interval_changed;
  if (behaviour == "pending_if_incomplete" && invoice_now) {
    // "Metered items: ... Stripe bills any outstanding usage on the pending update invoice. However, if the pending
    // update expires before payment, Stripe discards this usage, which prevents any subsequent invoices from billing
    // for them" (https://docs.stripe.com/billing/subscriptions/pending-updates). Every metered item's usage so far
    // (those replaced already have theirs), counted from `t` on afterwards, paid or discarded.
    for (const auto& item : sub["items"]["data"]) {
      if (!isMetered(item["price"])) continue;
      const std::string id = item["id"];
      if (std::find(plan.metered_restarted.begin(), plan.metered_restarted.end(), id) != plan.metered_restarted.end()) continue;
      auto used = usageOf(s, sub["customer"], item["price"], meteredStart(s, item), t, now);
      plan.proration_lines.push_back(line(s, sub, item, item["price"], percentOff(s, sub, lineAmount(s, item["price"], used)),
                                          used, meteredStart(s, item), t, true, "Usage until the change"));
      plan.metered_restarted.push_back(id);
    }
  }
  if (!invoice_now) {
    // create_prorations: the proration items wait for the next invoice.
    auto& pending = s.objects["pending_line"][sub["id"].get<std::string>()];
    if (!pending.contains("lines")) pending["lines"] = json::array();
    for (const auto& l : plan.proration_lines) pending["lines"].push_back(l);
    applyItems(s, sub, plan.items, plan.metered_restarted, t);
    s.emit("customer.subscription.updated", sub, now);
    return {200, sub, {}};
  }
  auto& invoice = storeInvoice(s, newInvoice(s, sub, "subscription_update", now, plan.proration_lines));
  finalize(s, invoice, now);
  auto paid = collect(s, invoice, sub, now);
  // A processing bank debit is not a failed payment: the change applies, the invoice is paid when it settles.
  if (paid != Paid::Yes && paid != Paid::Sent && paid != Paid::Processing) {
    if (behaviour == "error_if_incomplete") {
      // "returns an HTTP 402 status code if a subscription's invoice cannot be paid" and the update isn't applied.
      invoice["status"] = "void";
      fail(s, paid == Paid::NeedsAction ? "authentication_required" : "card_declined",
           paid == Paid::NeedsAction ? "The payment requires authentication." : "Your card was declined.", invoice);
    }
    if (behaviour == "pending_if_incomplete") {
      // The change waits for the payment, expiring at the period end, the trial end or after 23 hours, whichever
      // is first (https://docs.stripe.com/billing/subscriptions/pending-updates-reference).
      std::int64_t expires = std::min<std::int64_t>(minPeriodEnd(sub), now + kPendingUpdateSeconds);
      if (sub.value("trial_end", json()).is_number() && sub["status"] == "trialing") {
        expires = std::min<std::int64_t>(expires, sub["trial_end"].get<std::int64_t>());
      }
      // "a new update voids the invoice associated with the previous pending update" (same page).
      if (sub.value("pending_update", json()).is_object()) {
        if (auto* previous = s.find("invoice", sub.value("latest_invoice", ""))) {
          if ((*previous)["status"] == "open") {
            (*previous)["status"] = "void";
            (*previous)["status_transitions"]["voided_at"] = now;
            s.objects["pending_invoice"].erase((*previous)["id"].get<std::string>());
            s.emit("invoice.voided", *previous, now);
          }
        }
      }
      sub["pending_update"] = {{"expires_at", expires}, {"subscription_items", plan.items},
                               {"billing_cycle_anchor", nullptr}, {"trial_end", nullptr}, {"trial_from_plan", nullptr},
                               {"metadata", p.has("metadata") ? json(p.strings("metadata")) : json()}};
      sub["latest_invoice"] = invoice["id"];
      s.objects["pending_invoice"][invoice["id"].get<std::string>()] = {
          {"subscription", sub["id"]}, {"metered_restarted", plan.metered_restarted}, {"at", t},
          {"interval_changed", plan.interval_changed}};
      s.emit("customer.subscription.updated", sub, now);
      return {200, sub, {}};
    }
    sub["status"] = "past_due";  // allow_incomplete: applied, the invoice stays open
  }
  applyItems(s, sub, plan.items, plan.metered_restarted, t);
  if (plan.interval_changed) sub["billing_cycle_anchor"] = t;
  sub["latest_invoice"] = invoice["id"];
  s.emit("customer.subscription.updated", sub, now);
  return {200, sub, {}};
}

// POST /v1/invoices/{id}/pay (https://docs.stripe.com/api/invoices/pay): an open invoice paid now, off session, with
// `payment_method` (a test card) or the customer's default. A card that needs the customer's authentication can't
// pay it here: 402 invoice_payment_intent_requires_action (https://docs.stripe.com/error-codes); a decline is
// card_declined. Paid, a past_due subscription whose latest invoice it is becomes active again (payOpenInvoice).
Answer payInvoice(State& s, const std::string& invoice_id, const Params& p) {
  p.allow({"payment_method", "expand", "off_session"});
  auto* invoice = s.find("invoice", invoice_id);
  if (!invoice) throw invalidRequest(404, "resource_missing", "No such invoice: '" + invoice_id + "'", "id", true);
  if ((*invoice)["status"] != "open") {
    throw invalidRequest(400, "invoice_not_open", "Invoice is " + (*invoice)["status"].get<std::string>() + ", not open", "", true);
  }
  CardBehaviour card = CardBehaviour::Succeeds;
  if (auto pm = p.str("payment_method")) {
    auto known = s.payment_methods.find(*pm);
    auto test = testCard(*pm);
    if (known == s.payment_methods.end() && !test) throw invalidRequest(400, "resource_missing", "No such PaymentMethod: '" + *pm + "'", "payment_method", true);
    card = known != s.payment_methods.end() ? known->second : *test;
  } else if (auto c = s.customer_cards.find((*invoice)["customer"].get<std::string>()); c != s.customer_cards.end()) {
    card = c->second;
  }
  if (card == CardBehaviour::RequiresAction) {
    fail(s, "invoice_payment_intent_requires_action", "This payment requires additional user action before it can be completed successfully.", *invoice);
  }
  if (card == CardBehaviour::Declines) fail(s, "card_declined", "Your card was declined.", *invoice);
  payOpenInvoice(s, invoice_id);
  return {200, *invoice, {}};
}

// POST /v1/invoices/create_preview (https://docs.stripe.com/api/invoices/create_preview): what the update with the
// same parameters would invoice. With always_invoice, the proration invoice of now; otherwise (create_prorations,
// none) the next invoice: the renewal at the new prices plus the pending prorations.
Answer invoicePreview(State& s, const Params& p) {
  p.allow({"customer", "subscription", "subscription_details", "expand", "automatic_tax"});
  auto sub_id = p.required("subscription");
  auto& sub = s.get("subscription", sub_id, "subscription", "subscription");
  if (auto customer = p.str("customer"); customer && *customer != sub["customer"]) {
    throw invalidRequest(400, "", "The subscription does not belong to that customer", "customer", true);
  }
  auto details = p.object("subscription_details");
  details.allow({"items", "proration_date", "proration_behavior", "cancel_at_period_end", "trial_end"});
  auto proration_behavior = details.str("proration_behavior").value_or("create_prorations");
  const auto now = s.nowFor(sub["customer"]);
  std::int64_t t = details.integer("proration_date").value_or(now);
  auto plan = planChange(s, sub, itemChanges(s, sub, details.list("items")), t, proration_behavior);
  json lines = plan.proration_lines;
  std::string reason = "subscription_update";
  if (proration_behavior != "always_invoice" && !plan.interval_changed) {
    reason = "upcoming";
    for (const auto& l : pendingInvoiceItems(s, sub_id)) lines.push_back(l);
    for (const auto& l : renewalLines(s, sub, plan.items, sub["items"]["data"][0]["current_period_end"])) lines.push_back(l);
  }
  auto invoice = newInvoice(s, sub, reason, now, lines);
  invoice["id"] = nullptr;  // a preview has no id
  std::int64_t total = 0;
  for (const auto& l : lines) total += l["amount"].get<std::int64_t>();
  std::int64_t balance = s.get("customer", sub["customer"], "customer").value("balance", 0LL);
  invoice["subtotal"] = total;
  invoice["total"] = total;
  invoice["starting_balance"] = balance;
  invoice["amount_due"] = std::max<std::int64_t>(total + balance, 0);
  invoice["amount_remaining"] = invoice["amount_due"];
  return {200, invoice, {}};
}

}  // namespace billing::testing::fake

// Customers and their payment methods.
#include "tests/support/fake_stripe/state.h"

#include <algorithm>

namespace billing::testing::fake {

std::optional<CardBehaviour> testCard(const std::string& id) {
  if (id == "pm_card_visa" || id == "pm_card_mastercard") return CardBehaviour::Succeeds;
  if (id == "pm_card_chargeCustomerFail" || id == "pm_card_visa_chargeDeclined") return CardBehaviour::Declines;
  if (id == "pm_card_authenticationRequired" || id == "pm_card_threeDSecure2Required") return CardBehaviour::RequiresAction;
  return std::nullopt;
}

namespace {

// Attaches a PaymentMethod (a test one makes a new card); `as_default` also makes it the customer's default for
// invoices, which is what subscriptions charge.
std::string attachCard(State& s, const std::string& customer_id, const std::string& id, std::int64_t now,
                       const std::string& param, bool as_default) {
  auto behaviour = testCard(id);
  if (!behaviour) {
    auto& existing = s.get("payment_method", id, "PaymentMethod", param);
    if (existing.value("customer", json()).is_string() && existing["customer"] != customer_id) {
      throw invalidRequest(400, "", "The payment method is attached to another customer", param, true);
    }
    const bool newly = existing.value("customer", json()) != json(customer_id);
    existing["customer"] = customer_id;
    if (as_default) s.customer_cards[customer_id] = s.payment_methods.count(id) ? s.payment_methods[id] : CardBehaviour::Succeeds;
    if (newly) s.emit("payment_method.attached", existing, now);
    return id;
  }
  auto pm_id = s.newId("pm");
  json pm = {{"id", pm_id}, {"object", "payment_method"}, {"created", now}, {"customer", customer_id},
             {"livemode", false}, {"type", "card"}, {"metadata", json::object()},
             {"billing_details", {{"email", nullptr}, {"name", nullptr}}},
             {"card", {{"brand", "visa"}, {"exp_month", 12}, {"exp_year", 2034},
                       {"last4", *behaviour == CardBehaviour::Succeeds ? "4242" : *behaviour == CardBehaviour::Declines ? "0341" : "3184"}}}};
  s.objects["payment_method"][pm_id] = pm;
  s.payment_methods[pm_id] = *behaviour;
  if (as_default) s.customer_cards[customer_id] = *behaviour;
  s.emit("payment_method.attached", pm, now);
  return pm_id;
}

void applyFields(State& s, json& customer, const Params& p, std::int64_t now) {
  for (const char* field : {"email", "name", "description", "phone"}) {
    if (auto v = p.str(field)) customer[field] = v->empty() ? json() : json(*v);
  }
  if (p.has("metadata")) {
    const json metadata = p.strings("metadata");
  for (const auto& [k, v] : metadata.items()) {
      if (v.get<std::string>().empty()) customer["metadata"].erase(k);
      else customer["metadata"][k] = v;
    }
  }
  if (auto balance = p.integer("balance")) customer["balance"] = *balance;
  const std::string id = customer["id"];
  if (auto pm = p.str("payment_method")) attachCard(s, id, *pm, now, "payment_method", false);
  auto settings = p.object("invoice_settings");
  settings.allow({"default_payment_method"});
  if (auto pm = settings.str("default_payment_method")) {
    customer["invoice_settings"]["default_payment_method"] = attachCard(s, id, *pm, now, settings.path("default_payment_method"), true);
  }
}

}  // namespace

// POST /v1/payment_methods/{id}/attach (https://docs.stripe.com/api/payment_methods/attach): a test PaymentMethod id
// attaches a new card; it becomes the default only through invoice_settings[default_payment_method].
Answer paymentMethods(State& s, const std::vector<std::string>& parts, const Params& p) {
  if (parts.size() == 2) {
    // POST /v1/payment_methods (https://docs.stripe.com/api/payment_methods/create): a SEPA Direct Debit method
    // from an IBAN. Only Stripe's succeeding test IBANs are modelled (https://docs.stripe.com/testing#sepa-direct-debit:
    // "The PaymentIntent status transitions from processing to succeeded"); anything else is refused loudly.
    p.allow({"type", "sepa_debit", "billing_details", "expand"});
    if (p.required("type") != "sepa_debit") {
      throw invalidRequest(400, "", "the Stripe fake creates only sepa_debit payment methods (cards: use a test id)", "type", true);
    }
    auto debit = p.object("sepa_debit");
    debit.allow({"iban"});
    auto iban = debit.required("iban");
    iban.erase(std::remove(iban.begin(), iban.end(), ' '), iban.end());
    if (iban != "DE89370400440532013000" && iban != "AT611904300234573201") {
      throw invalidRequest(400, "", "the Stripe fake models only Stripe's succeeding test IBANs", debit.path("iban"), true);
    }
    auto pm_id = s.newId("pm");
    json pm = {{"id", pm_id}, {"object", "payment_method"}, {"created", s.now()}, {"customer", nullptr},
               {"livemode", false}, {"type", "sepa_debit"}, {"metadata", json::object()},
               {"billing_details", {{"email", nullptr}, {"name", nullptr}}},
               {"sepa_debit", {{"country", iban.substr(0, 2)}, {"last4", iban.substr(iban.size() - 4)}}}};
    s.objects["payment_method"][pm_id] = pm;
    s.payment_methods[pm_id] = CardBehaviour::DebitProcessing;
    return {200, pm, {}};
  }
  if (parts.size() != 4 || parts[3] != "attach") throw invalidRequest(404, "", "Unrecognized request URL");
  p.allow({"customer", "expand"});
  auto customer = p.required("customer");
  s.get("customer", customer, "customer", "customer");
  auto id = attachCard(s, customer, parts[2], s.nowFor(customer), "payment_method", false);
  return {200, s.objects["payment_method"][id], {}};
}

Answer customers(State& s, const std::string& method, const std::vector<std::string>& parts, const Params& p,
                 const std::multimap<std::string, std::string>&) {
  if (parts.size() == 2 && method == "POST") {
    p.allow({"email", "name", "description", "phone", "metadata", "test_clock", "payment_method", "invoice_settings",
             "balance", "expand"});
    std::int64_t created = s.now();
    json clock = nullptr;
    if (auto clock_id = p.str("test_clock")) {
      auto& c = s.get("test_helpers.test_clock", *clock_id, "test clock", "test_clock");
      clock = *clock_id;
      created = c["frozen_time"].get<std::int64_t>();
    }
    json customer = {{"id", s.newId("cus")}, {"object", "customer"}, {"created", created}, {"livemode", false},
                     {"balance", 0}, {"delinquent", false}, {"email", nullptr}, {"name", nullptr},
                     {"description", nullptr}, {"phone", nullptr}, {"currency", nullptr}, {"metadata", json::object()},
                     {"test_clock", clock}, {"invoice_settings", {{"default_payment_method", nullptr}}}};
    s.objects["customer"][customer["id"]] = customer;
    auto& stored = s.objects["customer"][customer["id"]];
    applyFields(s, stored, p, created);
    s.searchable_from[stored["id"]] = s.now() + s.search_delay_seconds;
    s.emit("customer.created", stored, created);
    return {200, stored, {}};
  }
  if (parts.size() != 3) throw invalidRequest(404, "", "Unrecognized request URL");
  auto& customer = s.get("customer", parts[2], "customer");
  const std::int64_t now = s.nowFor(parts[2]);
  if (method == "DELETE") {
    // https://docs.stripe.com/api/customers/delete: "Also immediately cancels any active subscriptions".
    for (auto& [id, sub] : s.objects["subscription"]) {
      if (sub.value("customer", "") == parts[2] && sub.value("status", "") != "canceled" &&
          sub.value("status", "") != "incomplete_expired") {
        cancelNow(s, sub, now);
      }
    }
    s.deleted["customer"].insert(parts[2]);
    s.emit("customer.deleted", customer, now);
    return {200, {{"id", parts[2]}, {"object", "customer"}, {"deleted", true}}, {}};
  }
  p.allow({"email", "name", "description", "phone", "metadata", "payment_method", "invoice_settings", "balance", "expand"});
  applyFields(s, customer, p, now);
  s.searchable_from[parts[2]] = s.now() + s.search_delay_seconds;
  s.emit("customer.updated", customer, now);
  return {200, customer, {}};
}

}  // namespace billing::testing::fake

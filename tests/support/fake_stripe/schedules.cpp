// Subscription schedules (https://docs.stripe.com/billing/subscriptions/subscription-schedules and
// https://docs.stripe.com/api/subscription_schedules): made from a subscription, phases replaced as a whole,
// advancing with the subscription's clock, released or ended.
#include <algorithm>

#include "tests/support/fake_stripe/state.h"

namespace billing::testing::fake {
namespace {

json phaseItemsOf(const json& sub) {
  json items = json::array();
  for (const auto& item : sub["items"]["data"]) {
    json i = {{"price", item["price"]["id"]}, {"metadata", item.value("metadata", json::object())},
              {"discounts", json::array()}, {"tax_rates", json::array()}};
    if (item.contains("quantity")) i["quantity"] = item["quantity"];
    items.push_back(i);
  }
  return items;
}

// A phase's settings default to what the subscription has; from_subscription copies every one of them into phase 0
// ("a subscription schedule will be created using the subscription's item(s)"; the phase object lists trial_end,
// discounts, default_payment_method, collection_method, metadata, ...: https://docs.stripe.com/api/subscription_schedules/object).
json phaseFromSubscription(State& s, const json& sub) {
  const auto& item = sub["items"]["data"][0];
  json discounts = json::array();
  auto coupons = s.objects["subscription_coupons"].find(sub["id"].get<std::string>());
  if (coupons != s.objects["subscription_coupons"].end()) {
    for (const auto& c : coupons->second["coupons"]) discounts.push_back({{"coupon", c["id"]}, {"discount", nullptr}, {"promotion_code", nullptr}});
  }
  return {{"start_date", item["current_period_start"]}, {"end_date", item["current_period_end"]},
          {"items", phaseItemsOf(sub)}, {"trial_end", sub.value("status", "") == "trialing" ? sub["trial_end"] : json()},
          {"discounts", discounts}, {"default_payment_method", sub.value("default_payment_method", json())},
          {"collection_method", sub.value("collection_method", json("charge_automatically"))},
          {"metadata", sub.value("metadata", json::object())}, {"proration_behavior", "create_prorations"},
          {"billing_cycle_anchor", nullptr}, {"currency", sub["currency"]}, {"description", nullptr},
          {"automatic_tax", {{"enabled", false}}}, {"default_tax_rates", json::array()},
          {"invoice_settings", nullptr}, {"add_invoice_items", json::array()}};
}

void setCurrentPhase(json& schedule, std::int64_t at) {
  schedule["current_phase"] = nullptr;
  for (const auto& phase : schedule["phases"]) {
    if (phase["start_date"].get<std::int64_t>() <= at && at < phase["end_date"].get<std::int64_t>()) {
      schedule["current_phase"] = {{"start_date", phase["start_date"]}, {"end_date", phase["end_date"]}};
    }
  }
}

// The subscription's items become a phase's items: an item whose price stays keeps its id, others are new.
void applyPhaseItems(State& s, json& sub, const json& phase, std::int64_t start, std::int64_t end) {
  json items = json::array();
  for (const auto& wanted : phase["items"]) {
    auto price_id = wanted["price"].get<std::string>();
    auto existing = std::find_if(sub["items"]["data"].begin(), sub["items"]["data"].end(),
                                 [&](const json& i) { return i["price"]["id"] == price_id; });
    json item = existing != sub["items"]["data"].end()
                    ? *existing
                    : json{{"id", s.newId("si")}, {"object", "subscription_item"}, {"created", start},
                           {"subscription", sub["id"]}, {"discounts", json::array()}, {"tax_rates", json::array()}};
    item["price"] = price(s, price_id, "phases");
    item["metadata"] = wanted.value("metadata", json::object());
    if (wanted.contains("quantity")) item["quantity"] = wanted["quantity"];
    item["current_period_start"] = start;
    item["current_period_end"] = end;
    items.push_back(item);
  }
  sub["items"]["data"] = items;
}

json parsePhase(State& s, const Params& p, std::int64_t start) {
  p.allow({"items", "start_date", "end_date", "duration", "iterations", "trial_end", "discounts",
           "default_payment_method", "collection_method", "metadata", "proration_behavior", "billing_cycle_anchor",
           "currency", "description", "automatic_tax", "default_tax_rates", "invoice_settings", "add_invoice_items"});
  json phase = {{"start_date", start}, {"trial_end", nullptr}, {"discounts", json::array()},
                {"default_payment_method", nullptr}, {"collection_method", nullptr}, {"metadata", json::object()},
                {"proration_behavior", p.str("proration_behavior").value_or("create_prorations")},
                {"billing_cycle_anchor", p.str("billing_cycle_anchor") ? json(*p.str("billing_cycle_anchor")) : json()},
                {"currency", nullptr}, {"description", nullptr}, {"automatic_tax", {{"enabled", false}}},
                {"default_tax_rates", json::array()}, {"invoice_settings", nullptr}, {"add_invoice_items", json::array()}};
  auto items = p.list("items");
  if (items.empty()) throw missingParameter(p.path("items"));
  phase["items"] = json::array();
  for (const auto& i : items) {
    i.allow({"price", "quantity", "metadata", "discounts", "tax_rates"});
    auto price_id = i.required("price");
    price(s, price_id, i.path("price"));
    json item = {{"price", price_id}, {"metadata", i.strings("metadata")}, {"discounts", json::array()}, {"tax_rates", json::array()}};
    if (auto q = i.integer("quantity")) item["quantity"] = *q;
    phase["items"].push_back(item);
  }
  if (auto t = p.integer("trial_end")) phase["trial_end"] = *t;
  for (const auto& d : p.list("discounts")) {
    d.allow({"coupon", "discount", "promotion_code"});
    auto coupon = d.required("coupon");
    s.get("coupon", coupon, "coupon", d.path("coupon"));
    phase["discounts"].push_back({{"coupon", coupon}, {"discount", nullptr}, {"promotion_code", nullptr}});
  }
  if (auto v = p.str("default_payment_method")) phase["default_payment_method"] = *v;
  if (auto v = p.str("collection_method")) phase["collection_method"] = *v;
  if (auto v = p.str("currency")) phase["currency"] = *v;
  if (p.has("metadata")) phase["metadata"] = p.strings("metadata");
  std::int64_t end = 0;
  if (auto e = p.integer("end_date")) {
    end = *e;
  } else if (p.has("duration")) {
    auto d = p.object("duration");
    d.allow({"interval", "interval_count"});
    end = addIntervals(start, d.required("interval"), d.integer("interval_count").value_or(1), 1);
  } else if (auto n = p.integer("iterations")) {
    const auto& r = price(s, phase["items"][0]["price"], "phases")["recurring"];
    end = addIntervals(start, r.value("interval", "month"), r.value("interval_count", 1LL), *n);
  } else {
    throw invalidRequest(400, "", "Each phase needs an end_date, a duration or iterations", p.path("end_date"), true);
  }
  if (end <= start) throw invalidRequest(400, "", "A phase must end after it starts", p.path("end_date"), true);
  phase["end_date"] = end;
  return phase;
}

}  // namespace

void advanceSchedulePhase(State& s, json& schedule, json& sub, std::int64_t at) {
  const json* next = nullptr;
  for (const auto& phase : schedule["phases"]) {
    if (phase["start_date"].get<std::int64_t>() == at) next = &phase;
  }
  if (!next) {
    // The last phase ended: "release will end the subscription schedule and keep the underlying subscription
    // running. cancel will end the subscription schedule and cancel the underlying subscription."
    schedule["current_phase"] = nullptr;
    if (schedule["end_behavior"] == "cancel") {
      schedule["status"] = "completed";
      schedule["completed_at"] = at;
      cancelNow(s, sub, at);
      return;
    }
    schedule["status"] = "released";
    schedule["released_at"] = at;
    schedule["released_subscription"] = sub["id"];
    schedule["subscription"] = nullptr;
    sub["schedule"] = nullptr;
    s.emit("subscription_schedule.released", schedule, at);
    return;
  }
  applyPhaseItems(s, sub, *next, at, (*next)["end_date"]);
  if ((*next)["trial_end"].is_number() && (*next)["trial_end"].get<std::int64_t>() > at) {
    sub["status"] = "trialing";
    sub["trial_end"] = (*next)["trial_end"];
  }
  setCurrentPhase(schedule, at);
  s.emit("subscription_schedule.updated", schedule, at);
}

Answer schedules(State& s, const std::string& method, const std::vector<std::string>& parts, const Params& p) {
  if (method != "POST") throw invalidRequest(404, "", "Unrecognized request URL");
  if (parts.size() == 2) {
    p.allow({"from_subscription", "customer", "phases", "end_behavior", "start_date", "metadata", "expand"});
    auto sub_id = p.str("from_subscription");
    if (!sub_id) {
      throw invalidRequest(400, "", "The fake makes schedules only from_subscription (a Dashboard-made schedule is put()).",
                           "from_subscription", true);
    }
    // "When using this parameter, other parameters (such as phase values) cannot be set."
    if (p.has("phases") || p.has("customer") || p.has("start_date") || p.has("end_behavior")) {
      throw invalidRequest(400, "", "You cannot set other parameters with from_subscription", "from_subscription", true);
    }
    auto& sub = s.get("subscription", *sub_id, "subscription", "from_subscription");
    if (sub["schedule"].is_string()) {
      throw invalidRequest(400, "", "You cannot migrate a subscription that is already attached to a schedule: `" +
                                        sub["schedule"].get<std::string>() + "`.", "from_subscription");
    }
    const auto now = s.nowFor(sub["customer"]);
    auto phase = phaseFromSubscription(s, sub);
    json schedule = {{"id", s.newId("sub_sched")}, {"object", "subscription_schedule"}, {"created", now},
                     {"livemode", false}, {"customer", sub["customer"]}, {"subscription", *sub_id},
                     {"status", "active"}, {"end_behavior", "release"}, {"phases", {phase}},
                     {"current_phase", {{"start_date", phase["start_date"]}, {"end_date", phase["end_date"]}}},
                     {"metadata", p.strings("metadata")}, {"canceled_at", nullptr}, {"completed_at", nullptr},
                     {"released_at", nullptr}, {"released_subscription", nullptr}, {"test_clock", sub.value("test_clock", json())},
                     {"default_settings", {{"collection_method", phase["collection_method"]},
                                           {"default_payment_method", phase["default_payment_method"]},
                                           {"billing_cycle_anchor", "automatic"}}}};
    s.objects["subscription_schedule"][schedule["id"]] = schedule;
    sub["schedule"] = schedule["id"];
    s.emit("subscription_schedule.created", schedule, now);
    s.emit("customer.subscription.updated", sub, now);
    return {200, schedule, {}};
  }
  auto& schedule = s.get("subscription_schedule", parts[2], "subscription schedule");
  const auto now = s.nowFor(schedule["customer"]);
  auto status = schedule["status"].get<std::string>();
  if (status != "active" && status != "not_started") {
    throw invalidRequest(400, "", "You cannot update a subscription schedule that is currently in the `" + status + "` status.");
  }
  json* sub = schedule["subscription"].is_string() ? s.find("subscription", schedule["subscription"]) : nullptr;
  if (parts.size() == 4 && parts[3] == "release") {
    p.allow({"preserve_cancel_date", "expand"});
    schedule["status"] = "released";
    schedule["released_at"] = now;
    schedule["released_subscription"] = schedule["subscription"];
    schedule["subscription"] = nullptr;
    schedule["current_phase"] = nullptr;
    if (sub) (*sub)["schedule"] = nullptr;
    s.emit("subscription_schedule.released", schedule, now);
    if (sub) s.emit("customer.subscription.updated", *sub, now);
    return {200, schedule, {}};
  }
  if (parts.size() == 4 && parts[3] == "cancel") {
    p.allow({"invoice_now", "prorate", "expand"});
    schedule["status"] = "canceled";
    schedule["canceled_at"] = now;
    if (sub) cancelNow(s, *sub, now);
    return {200, schedule, {}};
  }
  if (parts.size() != 3) throw invalidRequest(404, "", "Unrecognized request URL");
  p.allow({"phases", "end_behavior", "proration_behavior", "metadata", "default_settings", "expand"});
  if (auto e = p.str("end_behavior")) {
    if (*e != "release" && *e != "cancel") throw invalidRequest(400, "", "Invalid end_behavior", "end_behavior", true);
  }
  if (p.has("phases")) {
    auto given = p.list("phases");
    if (given.empty()) throw missingParameter("phases");
    const auto current = schedule["current_phase"];
    // Past phases may be omitted and stay as they were; the phases given replace the rest. The current phase's start
    // can't move (stricter reading: the first phase given must start exactly where the current phase started).
    json kept = json::array();
    for (const auto& phase : schedule["phases"]) {
      if (current.is_object() && phase["end_date"].get<std::int64_t>() <= current["start_date"].get<std::int64_t>()) kept.push_back(phase);
    }
    std::int64_t start = 0;
    json phases = kept;
    for (std::size_t i = 0; i < given.size(); ++i) {
      auto start_param = given[i].integer("start_date");
      if (i == 0) {
        if (!start_param) throw missingParameter(given[i].path("start_date"));
        if (current.is_object() && *start_param != current["start_date"].get<std::int64_t>()) {
          throw invalidRequest(400, "", "You cannot change the start date of the current phase.",
                               given[i].path("start_date"), true);
        }
        start = *start_param;
      } else if (start_param && *start_param != start) {
        throw invalidRequest(400, "", "Phases must be sequential: a phase starts where the previous one ends.",
                             given[i].path("start_date"), true);
      }
      auto phase = parsePhase(s, given[i], start);
      start = phase["end_date"];
      phases.push_back(phase);
    }
    schedule["phases"] = phases;
    setCurrentPhase(schedule, now);
    if (sub && schedule["current_phase"].is_object()) {
      // The current phase as given is what the subscription becomes now: its items (prorated per the request's
      // proration_behavior, default create_prorations), its trial (a phase without trial_end ends a running trial
      // now) and its discounts (a phase without them drops them).
      const json* phase = nullptr;
      for (const auto& ph : schedule["phases"]) {
        if (ph["start_date"] == schedule["current_phase"]["start_date"]) phase = &ph;
      }
      if (phaseItemsOf(*sub) != (*phase)["items"]) {
        auto behaviour = p.str("proration_behavior").value_or("create_prorations");
        if (behaviour != "none") {
          auto& pending = s.objects["pending_line"][(*sub)["id"].get<std::string>()];
          if (!pending.contains("lines")) pending["lines"] = json::array();
          pending["lines"].push_back({{"id", s.newId("il")}, {"object", "line_item"}, {"amount", 0},
                                      {"description", "Proration from a schedule's current phase (the fake doesn't price it)"},
                                      {"currency", (*sub)["currency"]}, {"period", {{"start", now}, {"end", (*phase)["end_date"]}}},
                                      {"quantity", 1}, {"subscription", (*sub)["id"]}});
        }
        auto start_of_period = (*sub)["items"]["data"][0]["current_period_start"].get<std::int64_t>();
        applyPhaseItems(s, *sub, *phase, start_of_period, (*sub)["items"]["data"][0]["current_period_end"]);
      }
      if ((*sub)["status"] == "trialing" && !(*phase)["trial_end"].is_number()) {
        (*sub)["status"] = "active";
        (*sub)["trial_end"] = now;
      }
      if ((*phase)["discounts"].empty()) s.objects["subscription_coupons"].erase((*sub)["id"].get<std::string>());
      s.emit("customer.subscription.updated", *sub, now);
    }
  }
  if (auto e = p.str("end_behavior")) schedule["end_behavior"] = *e;
  if (p.has("metadata")) schedule["metadata"] = p.strings("metadata");
  s.emit("subscription_schedule.updated", schedule, now);
  return {200, schedule, {}};
}

}  // namespace billing::testing::fake

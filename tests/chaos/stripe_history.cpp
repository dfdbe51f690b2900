#include "tests/chaos/stripe_history.h"

#include <algorithm>
#include <random>

#include "stripe/api_version.h"
#include "tests/support/fixtures.h"

namespace billing::chaos {
namespace {

using nlohmann::json;

json sampleObject(const std::string& event_file) {
  return json::parse(testing::readFile(testing::fixturesDir() / "stripe" / "events" / (event_file + ".json")))
      .at("data")
      .at("object");
}

struct Templates {
  json customer = sampleObject("customer.created");
  json payment_method = sampleObject("payment_method.attached");
  json subscription = sampleObject("customer.subscription.created");
  json invoice = sampleObject("invoice.created");
  json product = sampleObject("product.created");
  json price = sampleObject("price.created");
};

// One customer's life at Stripe, one change a step.
struct Actor {
  std::string id;
  json customer, payment_method, subscription, invoice;
  int stage = 0;
  int renewals_left = 0;
  int invoices = 0;
  int updates = 0;
  bool done = false;
};

class Generator {
 public:
  Generator(std::uint64_t seed, std::int64_t t0) : random_(seed), clock_(t0) {}

  History run(std::size_t events) {
    catalog();
    std::vector<Actor> active;
    int next_customer = 0;
    while (history_.changes.size() < events) {
      while (active.size() < 40) active.push_back(newActor(next_customer++));
      auto& actor = active[pick(active.size())];
      step(actor);
      if (actor.done) {
        actor = std::move(active.back());
        active.pop_back();
      }
      if (chance(2)) catalogUpdate();
      // Stripe's clock: often several changes within one second.
      if (!chance(35)) clock_ += 1 + static_cast<std::int64_t>(pick(2));
    }
    history_.ends_at = clock_ + 1;
    return std::move(history_);
  }

 private:
  bool chance(int percent) { return std::uniform_int_distribution<int>(0, 99)(random_) < percent; }
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_); }

  void emit(const std::string& type, const json& object, bool deletes = false) {
    history_.changes.push_back({"evt_chaos_" + std::to_string(history_.changes.size()), type, clock_,
                                object.at("id").get<std::string>(), object.dump(), deletes});
  }

  void catalog() {
    for (const std::string plan : {"starter", "pro"}) {
      json product = templates_.product;
      product["id"] = "prod_chaos_" + plan;
      product["name"] = plan;
      product["created"] = clock_;
      product["updated"] = clock_;
      products_.push_back(product);
      emit("product.created", product);
      json price = templates_.price;
      price["id"] = "price_chaos_" + plan;
      price["product"] = product["id"];
      price["unit_amount"] = plan == "pro" ? 2900 : 900;
      price["unit_amount_decimal"] = std::to_string(price["unit_amount"].get<int>());
      price["lookup_key"] = plan + "_monthly";
      price["created"] = clock_;
      prices_.push_back(price);
      emit("price.created", price);
    }
    json metered = templates_.price;
    metered["id"] = "price_chaos_requests";
    metered["product"] = products_[1]["id"];
    metered["unit_amount"] = 1;
    metered["unit_amount_decimal"] = "1";
    metered["lookup_key"] = "requests_monthly";
    metered["recurring"]["usage_type"] = "metered";
    metered["created"] = clock_;
    metered_ = metered;
    emit("price.created", metered);
  }

  void catalogUpdate() {
    auto& price = prices_[pick(prices_.size())];
    price["metadata"]["revision"] = std::to_string(++catalog_revision_);
    emit("price.updated", price);
  }

  Actor newActor(int n) {
    Actor a;
    a.id = "cus_chaos_" + std::to_string(n);
    a.renewals_left = static_cast<int>(pick(4));
    return a;
  }

  json item(const std::string& sub_id, const std::string& role, const json& price) {
    json item = templates_.subscription["items"]["data"][0];
    item["id"] = "si_" + sub_id.substr(4) + "_" + role;
    item["subscription"] = sub_id;
    item["price"] = price;
    item["plan"]["id"] = price["id"];
    item["plan"]["product"] = price["product"];
    item["plan"]["amount"] = price["unit_amount"];
    item["plan"]["usage_type"] = price["recurring"]["usage_type"];
    if (role == "metered") item.erase("quantity");
    item["created"] = clock_;
    item["current_period_start"] = clock_;
    item["current_period_end"] = clock_ + 30 * 86400;
    return item;
  }

  void setItems(json& sub, std::vector<json> items) {
    sub["items"] = {{"object", "list"}, {"data", items}, {"has_more", false},
                    {"total_count", items.size()}, {"url", "/v1/subscription_items?subscription=" + sub["id"].get<std::string>()}};
  }

  void newInvoice(Actor& a) {
    json inv = templates_.invoice;
    inv["id"] = "in_" + a.id.substr(4) + "_" + std::to_string(++a.invoices);
    inv["customer"] = a.id;
    inv["status"] = "draft";
    inv["attempt_count"] = 0;
    inv["created"] = clock_;
    inv["parent"]["subscription_details"]["subscription"] = a.subscription["id"];
    for (auto& line : inv["lines"]["data"]) line["invoice"] = inv["id"];
    inv["lines"]["has_more"] = false;
    a.invoice = inv;
    a.subscription["latest_invoice"] = inv["id"];
    emit("invoice.created", inv);
  }

  void step(Actor& a) {
    switch (a.stage) {
      case 0:
        a.customer = templates_.customer;
        a.customer["id"] = a.id;
        a.customer["email"] = a.id + "@example.com";
        a.customer["name"] = "Customer " + a.id;
        a.customer["created"] = clock_;
        emit("customer.created", a.customer);
        a.stage = 1;
        return;
      case 1:
        a.payment_method = templates_.payment_method;
        a.payment_method["id"] = "pm_" + a.id.substr(4);
        a.payment_method["customer"] = a.id;
        a.payment_method["created"] = clock_;
        emit("payment_method.attached", a.payment_method);
        a.stage = 2;
        return;
      case 2:
        a.customer["invoice_settings"]["default_payment_method"] = a.payment_method["id"];
        emit("customer.updated", a.customer);
        a.stage = 3;
        return;
      case 3: {
        json sub = templates_.subscription;
        std::string sub_id = "sub_" + a.id.substr(4);
        sub["id"] = sub_id;
        sub["customer"] = a.id;
        sub["created"] = clock_;
        sub["start_date"] = clock_;
        sub["billing_cycle_anchor"] = clock_;
        sub["default_payment_method"] = a.payment_method["id"];
        bool trial = chance(40);
        sub["status"] = trial ? "trialing" : "active";
        sub["trial_start"] = trial ? json(clock_) : json(nullptr);
        sub["trial_end"] = trial ? json(clock_ + 14 * 86400) : json(nullptr);
        std::vector<json> items = {item(sub_id, "plan", prices_[pick(prices_.size())])};
        if (chance(50)) items.push_back(item(sub_id, "metered", metered_));
        setItems(sub, items);
        a.subscription = sub;
        emit("customer.subscription.created", sub);
        a.stage = 4;
        return;
      }
      case 4:
        newInvoice(a);
        a.stage = 5;
        return;
      case 5:
        a.invoice["status"] = "open";
        a.invoice["number"] = "CHAOS-" + a.invoice["id"].get<std::string>().substr(3);
        emit("invoice.finalized", a.invoice);
        a.stage = 6;
        return;
      case 6:
        a.invoice["attempt_count"] = 1;
        if (chance(20)) {
          emit("invoice.payment_failed", a.invoice);
          a.subscription["status"] = "past_due";
          a.stage = 7;
        } else {
          a.invoice["status"] = "paid";
          emit("invoice.paid", a.invoice);
          a.stage = 8;
        }
        return;
      case 7:
        if (chance(50)) {
          a.invoice["status"] = "paid";
          a.invoice["attempt_count"] = 2;
          emit("invoice.paid", a.invoice);
          a.subscription["status"] = "active";
        } else {
          a.invoice["status"] = "void";
          emit("invoice.voided", a.invoice);
        }
        emit("customer.subscription.updated", a.subscription);
        a.stage = 8;
        return;
      case 8:
        if (chance(30)) {
          // A burst: several updates of the customer in one second (the clock doesn't move in between).
          int burst = 2 + static_cast<int>(pick(3));
          for (int i = 0; i < burst; ++i) {
            a.customer["name"] = "Customer " + a.id + " v" + std::to_string(++a.updates);
            emit("customer.updated", a.customer);
          }
          return;
        }
        if (a.renewals_left-- > 0) {
          // Renewal (sometimes with an upgrade): the items' period moves on, then the period's invoice.
          auto items = a.subscription["items"]["data"];
          for (auto& i : items) {
            i["current_period_start"] = i["current_period_end"];
            i["current_period_end"] = i["current_period_end"].get<std::int64_t>() + 30 * 86400;
          }
          if (chance(40)) items[0]["price"] = prices_[pick(prices_.size())];
          a.subscription["status"] = "active";
          setItems(a.subscription, items);
          emit("customer.subscription.updated", a.subscription);
          a.stage = 4;
          return;
        }
        a.stage = 9;
        return;
      default: {
        int ending = static_cast<int>(pick(100));
        if (ending < 60) {
          a.done = true;  // keeps its subscription
          return;
        }
        a.subscription["status"] = "canceled";
        a.subscription["canceled_at"] = clock_;
        a.subscription["ended_at"] = clock_;
        emit("customer.subscription.deleted", a.subscription);
        if (ending >= 85) {
          a.payment_method["customer"] = nullptr;
          emit("payment_method.detached", a.payment_method);
          emit("customer.deleted", a.customer, true);
        }
        a.done = true;
        return;
      }
    }
  }

  std::mt19937_64 random_;
  std::int64_t clock_;
  Templates templates_;
  History history_;
  std::vector<json> products_, prices_;
  json metered_;
  int catalog_revision_ = 0;
};

}  // namespace

History generateHistory(std::uint64_t seed, std::size_t events, std::int64_t t0) {
  return Generator(seed, t0).run(events);
}

std::vector<std::size_t> deliveryOrder(const History& history, std::uint64_t seed, std::size_t window,
                                       int duplicate_percent) {
  std::mt19937_64 random(seed ^ 0x5eed);
  std::uniform_real_distribution<double> jitter(0.0, static_cast<double>(window));
  std::uniform_int_distribution<int> percent(0, 99);
  std::vector<std::pair<double, std::size_t>> keyed;
  std::map<std::string, std::size_t> last_update;  // customer id -> its latest customer.updated so far
  std::vector<std::size_t> first_delivery(history.changes.size());  // change -> its first entry in keyed
  for (std::size_t i = 0; i < history.changes.size(); ++i) {
    const auto& c = history.changes[i];
    auto key = static_cast<double>(i) + jitter(random);
    if (c.type == "customer.deleted") {
      // Its last update is delivered only after the deletion (a delete followed by a late update).
      auto found = last_update.find(c.object_id);
      if (found != last_update.end()) keyed[first_delivery[found->second]].first = key + 1 + jitter(random);
    }
    if (c.type == "customer.updated") last_update[c.object_id] = i;
    first_delivery[i] = keyed.size();
    keyed.emplace_back(key, i);
    if (percent(random) < duplicate_percent) keyed.emplace_back(key + window * (2 + 40 * jitter(random) / window), i);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::size_t> order;
  order.reserve(keyed.size());
  for (const auto& [key, index] : keyed) order.push_back(index);
  return order;
}

std::string eventPayload(const Change& change) {
  // The envelope Stripe sends (as tests/support's makeEvent builds it), around the stored object's text.
  return "{\"id\":\"" + change.event_id + "\",\"object\":\"event\",\"api_version\":\"" + std::string(stripe::kApiVersion) +
         "\",\"created\":" + std::to_string(change.created) + ",\"data\":{\"object\":" + change.object +
         "},\"livemode\":false,\"pending_webhooks\":1,\"request\":{\"id\":null,\"idempotency_key\":null},\"type\":\"" +
         change.type + "\"}";
}

}  // namespace billing::chaos

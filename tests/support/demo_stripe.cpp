#include "tests/support/demo_stripe.h"

#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/fixtures.h"

namespace billing::testing {
namespace {

nlohmann::json sampleObject(const std::string& event) {
  return nlohmann::json::parse(readFile(fixturesDir() / "stripe/events" / (event + ".json")))["data"]["object"];
}

struct Plan {
  std::string key, name, description;
  std::int64_t monthly;  // minor units (USD cents); annual = 10 months
  std::vector<std::string> features;
  std::string feature_keys;
  int projects;
};

}  // namespace

void seedDemoAccount(FakeStripe& fake, std::int64_t now) {
  const std::int64_t created = now - 400 * 86400;
  const std::vector<Plan> plans = {
      {"starter", "Starter", "For side projects", 900, {"3 projects", "Email support"}, "projects,email_support", 3},
      {"pro", "Pro", "For growing teams", 2900, {"20 projects", "Priority support", "Usage analytics"},
       "projects,priority_support,analytics", 20},
      {"business", "Business", "For companies", 9900, {"Unlimited projects", "SSO", "Dedicated support"},
       "projects,priority_support,analytics,sso", 1000000},
  };
  std::map<std::string, nlohmann::json> monthly_price;
  int order = 1;
  for (const auto& p : plans) {
    auto product = sampleObject("product.created");
    product["id"] = "prod_demo_" + p.key;
    product["name"] = p.name;
    product["description"] = p.description;
    product["created"] = created;
    product["updated"] = created;
    product["default_price"] = "price_demo_" + p.key + "_monthly";
    product["marketing_features"] = nlohmann::json::array();
    for (const auto& f : p.features) product["marketing_features"].push_back({{"name", f}});
    product["metadata"] = {{"plan_key", p.key}, {"plan_order", std::to_string(order++)}, {"features", p.feature_keys},
                           {"limit_projects", std::to_string(p.projects)}};
    fake.put(product);
    for (const std::string interval : {"month", "year"}) {
      auto price = sampleObject("price.created");
      auto suffix = interval == "month" ? "monthly" : "annual";
      price["id"] = "price_demo_" + p.key + "_" + suffix;
      price["product"] = product["id"];
      price["created"] = created;
      price["currency"] = "usd";
      price["unit_amount"] = interval == "month" ? p.monthly : p.monthly * 10;
      price["unit_amount_decimal"] = std::to_string(price["unit_amount"].get<std::int64_t>());
      price["lookup_key"] = p.key + "_" + suffix;
      price["nickname"] = p.name + (interval == "month" ? " monthly" : " annual");
      price["recurring"] = {{"interval", interval}, {"interval_count", 1}, {"meter", nullptr},
                            {"trial_period_days", nullptr}, {"usage_type", "licensed"}};
      price["type"] = "recurring";
      price["active"] = true;
      fake.put(price);
      if (interval == "month") monthly_price[p.key] = price;
    }
  }

  // Usage billing: a meter summing `api_requests` (the demo's BILLING_USAGE_METERS), billed at 1 cent a request
  // through a metered price next to Ada's plan, so the usage run.sh reports lands on her next invoice.
  const nlohmann::json meter = {{"id", "mtr_demo_api_requests"}, {"object", "billing.meter"}, {"created", created},
                                {"updated", created}, {"livemode", false}, {"display_name", "API requests"},
                                {"event_name", "api_requests"}, {"status", "active"},
                                {"default_aggregation", {{"formula", "sum"}}},
                                {"customer_mapping", {{"event_payload_key", "stripe_customer_id"}, {"type", "by_id"}}},
                                {"value_settings", {{"event_payload_key", "value"}}}, {"event_time_window", nullptr}};
  fake.put(meter);
  auto usage_product = sampleObject("product.created");
  usage_product["id"] = "prod_demo_api_requests";
  usage_product["name"] = "API requests";
  usage_product["description"] = "Billed per request";
  usage_product["created"] = created;
  usage_product["updated"] = created;
  usage_product["default_price"] = "price_demo_api_requests";
  usage_product["marketing_features"] = nlohmann::json::array();
  usage_product["metadata"] = nlohmann::json::object();
  fake.put(usage_product);
  auto usage_price = sampleObject("price.created");
  usage_price["id"] = "price_demo_api_requests";
  usage_price["product"] = usage_product["id"];
  usage_price["created"] = created;
  usage_price["currency"] = "usd";
  usage_price["unit_amount"] = 1;
  usage_price["unit_amount_decimal"] = "1";
  usage_price["lookup_key"] = "api_requests_monthly";
  usage_price["nickname"] = "API requests";
  usage_price["recurring"] = {{"interval", "month"}, {"interval_count", 1}, {"meter", meter["id"]},
                              {"trial_period_days", nullptr}, {"usage_type", "metered"}};
  usage_price["type"] = "recurring";
  usage_price["active"] = true;
  fake.put(usage_price);

  auto customer_template = sampleObject("customer.created");
  auto subscription_template = sampleObject("customer.subscription.created");
  auto invoice_template = sampleObject("invoice.paid");
  const std::int64_t period_start = now - 10 * 86400, period_end = now + 20 * 86400;
  struct Customer {
    std::string id, name, plan, status;
    int paid_invoices;
    bool open_invoice;
  };
  const std::vector<Customer> customers = {{"cus_demo", "Ada Demo", "pro", "active", 12, false},
                                           {"cus_demo_declined", "Declined Demo", "starter", "active", 1, false},
                                           {"cus_demo_new", "New Demo", "starter", "active", 0, false},
                                           {"cus_demo_past_due", "Late Demo", "pro", "past_due", 2, true},
                                           {"cus_demo_3ds", "Secure Demo", "starter", "active", 1, false},
                                           {"cus_demo_none", "Prospect Demo", "", "", 0, false}};
  int invoice_number = 1;
  for (const auto& c : customers) {
    auto customer = customer_template;
    customer["id"] = c.id;
    customer["name"] = c.name;
    customer["email"] = c.id.substr(4) + "@example.com";
    customer["created"] = created;
    customer["delinquent"] = c.status == "past_due";
    customer["metadata"] = nlohmann::json::object();
    fake.put(customer);
    if (c.id == "cus_demo_declined") fake.declineCustomer(c.id);
    if (c.id == "cus_demo_3ds") fake.requireAuthentication(c.id);  // its bank asks for 3-D Secure
    if (c.plan.empty()) continue;  // no subscription yet: it starts one through Checkout

    auto sub = subscription_template;
    sub["id"] = "sub_" + c.id.substr(4);
    sub["customer"] = c.id;
    sub["created"] = created;
    sub["start_date"] = created;
    sub["billing_cycle_anchor"] = period_start;
    sub["status"] = c.status;
    sub["currency"] = "usd";
    sub["schedule"] = nullptr;
    sub["latest_invoice"] = nullptr;
    auto& item = sub["items"]["data"][0];
    item["id"] = "si_" + c.id.substr(4);
    item["subscription"] = sub["id"];
    item["created"] = created;
    item["price"] = monthly_price[c.plan];
    item["plan"]["id"] = monthly_price[c.plan]["id"];
    item["plan"]["amount"] = monthly_price[c.plan]["unit_amount"];
    item["plan"]["product"] = monthly_price[c.plan]["product"];
    item["quantity"] = 1;
    item["current_period_start"] = period_start;
    item["current_period_end"] = period_end;
    const std::string plan_item_id = item["id"];  // `item` is not used past here: the list may grow
    if (c.id == "cus_demo") {
      auto usage_item = item;
      usage_item["id"] = "si_demo_api_requests";
      usage_item["price"] = usage_price;
      usage_item["plan"]["id"] = usage_price["id"];
      usage_item["plan"]["amount"] = 1;
      usage_item["plan"]["product"] = usage_price["product"];
      usage_item["plan"]["usage_type"] = "metered";
      usage_item.erase("quantity");
      sub["items"]["data"].push_back(usage_item);
    }
    sub["items"]["url"] = "/v1/subscription_items?subscription=" + sub["id"].get<std::string>();
    fake.put(sub);

    auto amount = monthly_price[c.plan]["unit_amount"].get<std::int64_t>();
    for (int k = c.paid_invoices + (c.open_invoice ? 1 : 0); k >= 1; --k) {
      bool open = c.open_invoice && k == 1;
      auto invoice = invoice_template;
      auto id = "in_demo_" + std::to_string(invoice_number);
      std::int64_t start = period_start - static_cast<std::int64_t>(k - 1) * 30 * 86400;
      invoice["id"] = id;
      invoice["number"] = "DEMO-" + std::to_string(1000 + invoice_number++);
      invoice["customer"] = c.id;
      invoice["customer_email"] = customer["email"];
      invoice["customer_name"] = c.name;
      invoice["created"] = start;
      invoice["effective_at"] = start;
      invoice["period_start"] = start;
      invoice["period_end"] = start;
      invoice["status"] = open ? "open" : "paid";
      invoice["currency"] = "usd";
      invoice["subtotal"] = amount;
      invoice["subtotal_excluding_tax"] = amount;
      invoice["total"] = amount;
      invoice["total_excluding_tax"] = amount;
      invoice["amount_due"] = amount;
      invoice["amount_paid"] = open ? 0 : amount;
      invoice["amount_remaining"] = open ? amount : 0;
      invoice["billing_reason"] = "subscription_cycle";
      invoice["hosted_invoice_url"] = "https://invoice.stripe.com/i/acct_demo/test_" + id;
      invoice["invoice_pdf"] = "https://pay.stripe.com/invoice/acct_demo/test_" + id + "/pdf";
      invoice["parent"] = {{"type", "subscription_details"},
                           {"quote_details", nullptr},
                           {"subscription_details", {{"metadata", nlohmann::json::object()}, {"subscription", sub["id"]}}}};
      invoice["status_transitions"] = {{"finalized_at", start}, {"marked_uncollectible_at", nullptr},
                                       {"paid_at", open ? nlohmann::json() : nlohmann::json(start + 60)},
                                       {"voided_at", nullptr}};
      auto& lines = invoice["lines"];
      if (lines["data"].size() > 1) lines["data"] = nlohmann::json::array({lines["data"][0]});
      auto& line = lines["data"][0];
      line["id"] = "il_demo_" + std::to_string(invoice_number);
      line["invoice"] = id;
      line["amount"] = amount;
      line["currency"] = "usd";
      line["description"] = "1 × " + monthly_price[c.plan]["nickname"].get<std::string>();
      line["period"] = {{"start", start}, {"end", start + 30 * 86400}};
      line["subtotal"] = amount;
      line["subscription"] = sub["id"];
      line["parent"]["subscription_item_details"]["subscription"] = sub["id"];
      line["parent"]["subscription_item_details"]["subscription_item"] = plan_item_id;
      line["pricing"]["price_details"] = {{"price", monthly_price[c.plan]["id"]}, {"product", monthly_price[c.plan]["product"]}};
      line["pricing"]["unit_amount_decimal"] = std::to_string(amount);
      lines["has_more"] = false;
      lines["total_count"] = 1;
      lines["url"] = "/v1/invoices/" + id + "/lines";
      fake.put(invoice);
      if (k == 1) {
        auto stored = fake.object("subscription", sub["id"]);
        stored["latest_invoice"] = id;
        fake.put(stored);
      }
    }
  }
}

}  // namespace billing::testing

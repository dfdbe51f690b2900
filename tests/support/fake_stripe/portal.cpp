// Customer Portal configurations and sessions (https://docs.stripe.com/api/customer_portal).
#include <functional>

#include "tests/support/fake_stripe/state.h"

namespace billing::testing::fake {
namespace {

// The account's default configuration is the Dashboard's; "If not specified, the session uses the default
// configuration" (https://docs.stripe.com/api/customer_portal/sessions/create). The fake makes one on first use.
const json& defaultConfiguration(State& s) {
  for (const auto& [id, c] : s.objects["billing_portal.configuration"]) {
    if (c.value("is_default", false)) return c;
  }
  json c = {{"id", s.newId("bpc")}, {"object", "billing_portal.configuration"}, {"created", s.now()},
            {"updated", s.now()}, {"livemode", false}, {"active", true}, {"is_default", true},
            {"application", nullptr}, {"metadata", json::object()},
            {"features", {{"invoice_history", {{"enabled", true}}}, {"payment_method_update", {{"enabled", true}}},
                          {"subscription_cancel", {{"enabled", true}, {"mode", "at_period_end"}}},
                          {"subscription_update", {{"enabled", false}}}}}};
  auto id = c["id"].get<std::string>();
  s.objects["billing_portal.configuration"][id] = c;
  return s.objects["billing_portal.configuration"][id];
}

// Flows must be allowed by the session's configuration (stricter reading of
// https://docs.stripe.com/customer-management/portal-deep-links: a flow needs its feature enabled).
void checkFlow(State& s, const std::string& customer, const json& configuration, const Params& flow) {
  auto type = flow.required("type");
  static const std::map<std::string, std::string> feature = {{"subscription_cancel", "subscription_cancel"},
                                                             {"subscription_update", "subscription_update"},
                                                             {"subscription_update_confirm", "subscription_update"},
                                                             {"payment_method_update", "payment_method_update"}};
  auto f = feature.find(type);
  if (f == feature.end()) throw invalidRequest(400, "", "Invalid flow_data[type]: " + type, flow.path("type"), true);
  const auto features = configuration.value("features", json::object());
  if (!features.contains(f->second) || !features[f->second].value("enabled", false)) {
    throw invalidRequest(400, "", "The " + type + " flow needs " + f->second + " enabled in the portal configuration",
                         flow.path("type"));
  }
  if (type == "payment_method_update") return;
  auto details = flow.object(type);
  auto& sub = s.get("subscription", details.required("subscription"), "subscription", details.path("subscription"));
  if (sub.value("customer", "") != customer) {
    throw invalidRequest(400, "", "The subscription does not belong to the session's customer", details.path("subscription"), true);
  }
  if (type != "subscription_update_confirm") return;
  // "Currently, only up to one may be specified and subscriptions with multiple items are not updatable"
  // (https://docs.stripe.com/api/customer_portal/sessions/create#create_portal_session-flow_data-subscription_update_confirm-items).
  auto items = details.list("items");
  if (items.size() != 1) throw invalidRequest(400, "", "Exactly one item is required", details.path("items"), true);
  if (sub["items"]["data"].size() != 1) {
    throw invalidRequest(400, "", "Subscriptions with multiple items are not updatable in the portal", details.path("items"), true);
  }
  items[0].allow({"id", "price", "quantity"});
  if (items[0].required("id") != sub["items"]["data"][0]["id"]) {
    throw invalidRequest(400, "resource_missing", "No such subscription item", items[0].path("id"), true);
  }
  // The price "must also be included in the configuration's features.subscription_update.products".
  if (auto price = items[0].str("price")) {
    bool listed = false;
    for (const auto& product : features["subscription_update"].value("products", json::array())) {
      for (const auto& p : product.value("prices", json::array())) listed = listed || p == *price;
    }
    if (!listed) {
      throw invalidRequest(400, "", "The price " + *price + " is not in the configuration's subscription_update products",
                           items[0].path("price"), true);
    }
  }
}

}  // namespace

Answer portal(State& s, const std::vector<std::string>& parts, const Params& p) {
  const auto now = s.now();
  if (parts.size() >= 3 && parts[2] == "configurations") {
    auto& configurations = s.objects["billing_portal.configuration"];
    json configuration;
    if (parts.size() == 3) {
      // An API-created configuration is not the default (stricter reading: there is no is_default parameter).
      configuration = {{"id", s.newId("bpc")}, {"object", "billing_portal.configuration"}, {"created", now},
                       {"livemode", false}, {"active", true}, {"is_default", false}, {"application", nullptr},
                       {"metadata", json::object()}};
    } else {
      configuration = s.get("billing_portal.configuration", parts[3], "configuration", "configuration");
    }
    p.allow({"business_profile", "features", "default_return_url", "login_page", "metadata", "active", "name"});
    for (const auto& [k, v] : p.raw().items()) configuration[k] = v;
    // Form values are strings; what the portal reads as booleans is stored as such.
    std::function<void(json&)> booleans = [&](json& node) {
      for (auto& [k, v] : node.items()) {
        if (v.is_string() && (v == "true" || v == "false")) v = v == "true";
        else if (v.is_object() || v.is_array()) booleans(v);
      }
    };
    booleans(configuration);
    configuration["updated"] = now;
    configurations[configuration["id"].get<std::string>()] = configuration;
    return {200, configuration, {}};
  }
  if (parts.size() == 3 && parts[2] == "sessions") {
    p.allow({"customer", "return_url", "configuration", "flow_data", "locale", "on_behalf_of"});
    auto customer = p.required("customer");
    s.get("customer", customer, "customer", "customer");
    const json configuration = p.str("configuration")
                                   ? s.get("billing_portal.configuration", *p.str("configuration"), "configuration", "configuration")
                                   : defaultConfiguration(s);
    if (!configuration.value("active", true)) throw invalidRequest(400, "", "The configuration is not active", "configuration");
    if (p.has("flow_data")) checkFlow(s, customer, configuration, p.object("flow_data"));
    auto id = s.newId("bps");
    json session = {{"id", id}, {"object", "billing_portal.session"}, {"created", now}, {"livemode", false},
                    {"customer", customer}, {"return_url", p.str("return_url") ? json(*p.str("return_url")) : json()},
                    {"configuration", configuration["id"]}, {"flow", p.has("flow_data") ? p.raw()["flow_data"] : json()},
                    {"url", "https://billing.stripe.com/p/session/test_" + id}};
    s.objects["billing_portal.session"][id] = session;
    return {200, session, {}};
  }
  throw invalidRequest(404, "", "Unrecognized request URL");
}

}  // namespace billing::testing::fake

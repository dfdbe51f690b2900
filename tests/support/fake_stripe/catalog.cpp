// Products, prices and coupons: what plans and discounts are made of.
#include "tests/support/fake_stripe/state.h"

namespace billing::testing::fake {
namespace {

void setMetadata(json& object, const Params& p) {
  const json metadata = p.strings("metadata");
  for (const auto& [k, v] : metadata.items()) {
    if (v.get<std::string>().empty()) object["metadata"].erase(k);
    else object["metadata"][k] = v;
  }
}

Answer product(State& s, const std::vector<std::string>& parts, const Params& p) {
  const auto now = s.now();
  if (parts.size() == 2) {
    p.allow({"name", "description", "metadata", "active", "marketing_features", "id", "unit_label"});
    json features = json::array();
    for (const auto& f : p.list("marketing_features")) {
      f.allow({"name"});
      features.push_back({{"name", f.required("name")}});
    }
    json product = {{"id", p.str("id").value_or(s.newId("prod"))}, {"object", "product"}, {"created", now},
                    {"updated", now}, {"livemode", false}, {"active", p.boolean("active").value_or(true)},
                    {"name", p.required("name")}, {"description", p.str("description") ? json(*p.str("description")) : json()},
                    {"default_price", nullptr}, {"unit_label", nullptr}, {"marketing_features", features},
                    {"metadata", json::object()}};
    setMetadata(product, p);
    s.objects["product"][product["id"]] = product;
    s.emit("product.created", product, now);
    return {200, product, {}};
  }
  auto& product = s.get("product", parts[2], "product");
  p.allow({"name", "description", "metadata", "active"});
  if (auto v = p.str("name")) product["name"] = *v;
  if (auto v = p.str("description")) product["description"] = *v;
  if (auto v = p.boolean("active")) product["active"] = *v;
  setMetadata(product, p);
  product["updated"] = now;
  s.emit("product.updated", product, now);
  return {200, product, {}};
}

// https://docs.stripe.com/api/prices/create: recurring[interval] day|week|month|year, recurring[usage_type]
// licensed|metered; a metered price is on a billing meter (recurring[meter]).
Answer priceCreate(State& s, const std::vector<std::string>& parts, const Params& p) {
  const auto now = s.now();
  if (parts.size() == 3) {
    auto& price = s.get("price", parts[2], "price");
    p.allow({"active", "metadata", "nickname", "lookup_key"});
    if (auto v = p.boolean("active")) price["active"] = *v;
    if (auto v = p.str("nickname")) price["nickname"] = *v;
    if (auto v = p.str("lookup_key")) price["lookup_key"] = *v;
    setMetadata(price, p);
    s.emit("price.updated", price, now);
    return {200, price, {}};
  }
  p.allow({"product", "currency", "unit_amount", "recurring", "lookup_key", "nickname", "metadata", "active"});
  auto product_id = p.required("product");
  s.get("product", product_id, "product", "product");
  auto currency = p.required("currency");
  auto amount = p.integer("unit_amount");
  if (!amount) throw missingParameter("unit_amount");
  if (*amount < 0) throw invalidRequest(400, "parameter_invalid_integer", "unit_amount must be >= 0", "unit_amount", true);
  json recurring = nullptr;
  if (p.has("recurring")) {
    auto r = p.object("recurring");
    r.allow({"interval", "interval_count", "usage_type", "meter"});
    auto interval = r.required("interval");
    if (interval != "day" && interval != "week" && interval != "month" && interval != "year") {
      throw invalidRequest(400, "invalid_value", "Invalid recurring[interval]", r.path("interval"), true);
    }
    auto usage = r.str("usage_type").value_or("licensed");
    json meter = nullptr;
    if (auto m = r.str("meter")) {
      s.get("billing.meter", *m, "billing meter", r.path("meter"));
      meter = *m;
    }
    if (usage == "metered" && meter.is_null()) throw missingParameter(r.path("meter"));
    recurring = {{"interval", interval}, {"interval_count", r.integer("interval_count").value_or(1)},
                 {"usage_type", usage}, {"meter", meter}, {"trial_period_days", nullptr}};
  }
  json price = {{"id", s.newId("price")}, {"object", "price"}, {"created", now}, {"livemode", false},
                {"active", p.boolean("active").value_or(true)}, {"product", product_id}, {"currency", currency},
                {"unit_amount", *amount}, {"unit_amount_decimal", std::to_string(*amount)},
                {"billing_scheme", "per_unit"}, {"type", recurring.is_null() ? "one_time" : "recurring"},
                {"recurring", recurring}, {"lookup_key", p.str("lookup_key") ? json(*p.str("lookup_key")) : json()},
                {"nickname", p.str("nickname") ? json(*p.str("nickname")) : json()}, {"metadata", json::object()},
                {"tax_behavior", "unspecified"}};
  setMetadata(price, p);
  s.objects["price"][price["id"]] = price;
  s.emit("price.created", price, now);
  return {200, price, {}};
}

// https://docs.stripe.com/api/coupons/create: percent_off or amount_off (+currency); duration once|repeating|forever.
Answer coupon(State& s, const std::vector<std::string>& parts, const Params& p) {
  if (parts.size() != 2) throw invalidRequest(404, "", "Unrecognized request URL");
  p.allow({"percent_off", "amount_off", "currency", "duration", "duration_in_months", "name", "id", "metadata"});
  auto percent = p.str("percent_off");
  auto amount = p.integer("amount_off");
  if (!percent == !amount) throw invalidRequest(400, "", "Exactly one of percent_off or amount_off is required", "percent_off", true);
  if (amount && !p.str("currency")) throw missingParameter("currency");
  json coupon = {{"id", p.str("id").value_or(s.newId("coupon"))}, {"object", "coupon"}, {"created", s.now()},
                 {"livemode", false}, {"valid", true}, {"duration", p.str("duration").value_or("once")},
                 {"duration_in_months", p.integer("duration_in_months") ? json(*p.integer("duration_in_months")) : json()},
                 {"percent_off", percent ? json(std::stod(*percent)) : json()},
                 {"amount_off", amount ? json(*amount) : json()}, {"currency", p.str("currency") ? json(*p.str("currency")) : json()},
                 {"name", p.str("name") ? json(*p.str("name")) : json()}, {"metadata", json::object()}};
  s.objects["coupon"][coupon["id"]] = coupon;
  return {200, coupon, {}};
}

}  // namespace

Answer catalog(State& s, const std::string& method, const std::vector<std::string>& parts, const Params& p) {
  if (method != "POST") throw invalidRequest(404, "", "Unrecognized request URL");
  if (parts[1] == "products") return product(s, parts, p);
  if (parts[1] == "prices") return priceCreate(s, parts, p);
  return coupon(s, parts, p);
}

}  // namespace billing::testing::fake

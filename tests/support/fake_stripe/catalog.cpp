// Products, prices and coupons: what plans and discounts are made of.
#include "tests/support/fake_stripe/state.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace billing::testing::fake {
namespace {

void setMetadata(json& object, const Params& p) {
  const json metadata = p.strings("metadata");
  for (const auto& [k, v] : metadata.items()) {
    if (v.get<std::string>().empty()) object["metadata"].erase(k);
    else object["metadata"][k] = v;
  }
}

// A decimal amount parameter: at most 12 decimal places of the minor unit
// (https://docs.stripe.com/billing/subscriptions/decimal-amounts), rendered back as given.
std::string decimalParam(const Params& p, const std::string& key) {
  auto v = p.str(key).value_or("");
  const auto dot = v.find('.');
  const bool ok = !v.empty() && v.find_first_not_of("0123456789.") == std::string::npos && v.find('.', dot + 1) == std::string::npos &&
                  (dot == std::string::npos || (v.size() - dot - 1 >= 1 && v.size() - dot - 1 <= 12));
  if (!ok) throw invalidRequest(400, "parameter_invalid_decimal", "Invalid decimal: " + v, p.path(key), true);
  return v;
}

// "In API responses, the integer unit_amount field is not populated if the object is created with a decimal value"
// unless it is whole (same page).
json wholeOrNull(const json& decimal) {
  const std::string v = decimal;
  const auto dot = v.find('.');
  if (dot != std::string::npos && v.find_first_not_of('0', dot + 1) != std::string::npos) return nullptr;
  return std::stoll(v.substr(0, dot));
}

// tiers[N][up_to] (an integer, or "inf" on the last), and per tier at most one of each amount and its decimal twin
// (https://docs.stripe.com/api/prices/create#create_price-tiers). Rendered as Stripe renders tiers: every amount
// field present, up_to null on the last.
json tierList(const Params& p) {
  auto list = p.list("tiers");
  if (list.empty()) throw missingParameter("tiers");
  json tiers = json::array();
  std::int64_t previous = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& t = list[i];
    t.allow({"up_to", "unit_amount", "unit_amount_decimal", "flat_amount", "flat_amount_decimal"});
    json tier = {{"up_to", nullptr}};
    const auto up_to = t.required("up_to");
    const bool last = i + 1 == list.size();
    if (up_to == "inf") {
      if (!last) throw invalidRequest(400, "", "Only the last tier may have up_to=inf", t.path("up_to"), true);
    } else {
      if (last) throw invalidRequest(400, "", "The last tier must have up_to=inf", t.path("up_to"), true);
      auto bound = t.integer("up_to");
      if (*bound <= previous) throw invalidRequest(400, "", "Tiers must be in ascending up_to order", t.path("up_to"), true);
      previous = *bound;
      tier["up_to"] = *bound;
    }
    for (const std::string field : {"unit_amount", "flat_amount"}) {
      if (t.has(field) && t.has(field + "_decimal")) {
        throw invalidRequest(400, "", "You may only specify one of " + field + " and " + field + "_decimal", t.path(field), true);
      }
      tier[field] = nullptr;
      tier[field + "_decimal"] = nullptr;
      if (auto whole = t.integer(field)) {
        tier[field] = *whole;
        tier[field + "_decimal"] = std::to_string(*whole);
      } else if (t.has(field + "_decimal")) {
        tier[field + "_decimal"] = decimalParam(t, field + "_decimal");
        tier[field] = wholeOrNull(tier[field + "_decimal"]);
      }
    }
    tiers.push_back(tier);
  }
  return tiers;
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
  p.allow({"product", "currency", "unit_amount", "unit_amount_decimal", "billing_scheme", "tiers", "tiers_mode",
           "transform_quantity", "recurring", "lookup_key", "nickname", "metadata", "active"});
  auto product_id = p.required("product");
  s.get("product", product_id, "product", "product");
  auto currency = p.required("currency");
  const auto scheme = p.str("billing_scheme").value_or("per_unit");
  if (scheme != "per_unit" && scheme != "tiered") throw invalidRequest(400, "invalid_value", "Invalid billing_scheme", "billing_scheme", true);
  // per_unit: exactly one of unit_amount and unit_amount_decimal; tiered: tiers and tiers_mode, no unit amount and
  // no transform_quantity ("Cannot be combined with tiers", the spec's transform_quantity).
  json unit_amount = nullptr, unit_decimal = nullptr, tiers = nullptr, tiers_mode = nullptr, transform = nullptr;
  if (scheme == "per_unit") {
    if (p.has("tiers") || p.has("tiers_mode")) throw invalidRequest(400, "", "tiers require billing_scheme=tiered", "tiers", true);
    if (p.has("unit_amount") == p.has("unit_amount_decimal")) {
      if (!p.has("unit_amount")) throw missingParameter("unit_amount");
      throw invalidRequest(400, "", "You may only specify one of these parameters: unit_amount, unit_amount_decimal.", "unit_amount", true);
    }
    if (auto amount = p.integer("unit_amount")) {
      if (*amount < 0) throw invalidRequest(400, "parameter_invalid_integer", "unit_amount must be >= 0", "unit_amount", true);
      unit_amount = *amount;
      unit_decimal = std::to_string(*amount);
    } else {
      unit_decimal = decimalParam(p, "unit_amount_decimal");
      unit_amount = wholeOrNull(unit_decimal);
    }
    if (p.has("transform_quantity")) {
      auto t = p.object("transform_quantity");
      t.allow({"divide_by", "round"});
      auto divide_by = t.integer("divide_by");
      auto round = t.required("round");
      if (!divide_by || *divide_by < 1) throw invalidRequest(400, "parameter_invalid_integer", "divide_by must be >= 1", t.path("divide_by"), true);
      if (round != "up" && round != "down") throw invalidRequest(400, "invalid_value", "Invalid round", t.path("round"), true);
      transform = {{"divide_by", *divide_by}, {"round", round}};
    }
  } else {
    if (p.has("unit_amount") || p.has("unit_amount_decimal") || p.has("transform_quantity")) {
      throw invalidRequest(400, "", "A tiered price takes its amounts from tiers", "unit_amount", true);
    }
    tiers_mode = p.required("tiers_mode");
    if (tiers_mode != "graduated" && tiers_mode != "volume") throw invalidRequest(400, "invalid_value", "Invalid tiers_mode", "tiers_mode", true);
    tiers = tierList(p);
  }
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
                {"unit_amount", unit_amount}, {"unit_amount_decimal", unit_decimal}, {"tiers_mode", tiers_mode},
                {"transform_quantity", transform}, {"custom_unit_amount", nullptr},
                {"billing_scheme", scheme}, {"type", recurring.is_null() ? "one_time" : "recurring"},
                {"recurring", recurring}, {"lookup_key", p.str("lookup_key") ? json(*p.str("lookup_key")) : json()},
                {"nickname", p.str("nickname") ? json(*p.str("nickname")) : json()}, {"metadata", json::object()},
                {"tax_behavior", "unspecified"}};
  setMetadata(price, p);
  s.objects["price"][price["id"]] = price;
  // Tiers are includable: not in the price (nor in the prices embedded in items, lines and events) unless asked for
  // with expand[]=tiers (the spec's x-expandableFields of price). Kept aside, served by GET with that expand.
  if (!tiers.is_null()) s.objects["price_tiers"][price["id"]] = {{"tiers", tiers}};
  s.emit("price.created", price, now);
  return {200, price, {}};
}

}  // namespace

std::int64_t lineAmount(State& s, const json& price, std::int64_t quantity) {
  // Stripe's rules, written out plainly here (the service has its own implementation; the fake must not share it).
  auto decimal = [](const json& holder, const std::string& field) -> long double {
    if (holder.contains(field + "_decimal") && holder[field + "_decimal"].is_string()) return std::stold(holder[field + "_decimal"].get<std::string>());
    return holder.contains(field) && holder[field].is_number() ? static_cast<long double>(holder[field].get<std::int64_t>()) : 0.0L;
  };
  long double total = 0;
  if (price.value("billing_scheme", "per_unit") == "tiered") {
    // https://docs.stripe.com/subscriptions/pricing-models/tiered-pricing: volume prices every unit at the tier the
    // quantity reaches; graduated prices the units in each tier. Each tier reached adds its flat amount.
    const auto& tiers = s.objects["price_tiers"][price.value("id", "")]["tiers"];
    std::int64_t lower = 0;
    for (std::size_t i = 0; i < tiers.size(); ++i) {
      const auto& tier = tiers[i];
      const std::int64_t upper = tier["up_to"].is_null() ? INT64_MAX : tier["up_to"].get<std::int64_t>();
      if (price["tiers_mode"] == "volume") {
        if (quantity <= upper) {
          total = decimal(tier, "unit_amount") * static_cast<long double>(quantity) + decimal(tier, "flat_amount");
          break;
        }
      } else {
        const std::int64_t in_tier = std::max<std::int64_t>(0, std::min(quantity, upper) - lower);
        if (i == 0 || in_tier > 0) total += decimal(tier, "unit_amount") * static_cast<long double>(in_tier) + decimal(tier, "flat_amount");
        if (quantity <= upper) break;
      }
      lower = upper;
    }
  } else {
    std::int64_t units = quantity;
    // https://docs.stripe.com/billing/subscriptions/usage-based/transform-quantities: divided, then rounded.
    if (price.contains("transform_quantity") && price["transform_quantity"].is_object()) {
      const auto by = price["transform_quantity"]["divide_by"].get<std::int64_t>();
      units = price["transform_quantity"]["round"] == "up" ? (quantity + by - 1) / by : quantity / by;
    }
    total = decimal(price, "unit_amount") * static_cast<long double>(units);
  }
  // "Rounding occurs on the line item level ... 1.5, which is then rounded up to 2 cents"
  // (https://docs.stripe.com/billing/subscriptions/decimal-amounts).
  return static_cast<std::int64_t>(std::floor(total + 0.5L));
}

namespace {

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

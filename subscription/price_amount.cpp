#include "subscription/price_amount.h"

#include <limits>
#include <vector>

namespace billing::subscription {
namespace {

using json = nlohmann::json;
__extension__ typedef unsigned __int128 Exact;  // minor units scaled by 10^12: Stripe's 12 decimal places, exactly

constexpr std::uint64_t kScale = 1'000'000'000'000ULL;
constexpr Exact kMax = ~Exact(0);

struct Failure {
  Unpriceable reason;
  std::string detail;
};

// "105.5", "0.05", "5.0", "1000": at most 12 decimal places (the decimal fields' documented format). Stripe never
// renders a sign, an exponent or spaces there; such a value is refused rather than guessed at.
Exact parseDecimal(const std::string& text, const char* field) {
  const auto dot = text.find('.');
  const std::string whole = text.substr(0, dot), fraction = dot == std::string::npos ? "" : text.substr(dot + 1);
  auto digits = [](const std::string& s) { return s.find_first_not_of("0123456789") == std::string::npos; };
  if ((whole.empty() && fraction.empty()) || !digits(whole) || !digits(fraction) || fraction.size() > 12 ||
      whole.size() > 20 || (dot != std::string::npos && fraction.empty())) {
    throw Failure{Unpriceable::Malformed, std::string(field) + " is not a decimal with at most 12 places: '" + text + "'"};
  }
  Exact value = 0;
  for (char c : whole) value = value * 10 + static_cast<unsigned>(c - '0');
  value *= kScale;
  Exact unit = kScale / 10;
  for (char c : fraction) {
    value += static_cast<unsigned>(c - '0') * unit;
    unit /= 10;
  }
  return value;
}

// An amount from its integer field or its _decimal twin (Stripe sets the decimal one always, the integer one only
// when whole); neither set: `absent` (a tier may leave one out), or a refusal.
Exact amountOf(const json& holder, const std::string& field, bool required) {
  const auto decimal = holder.find(field + "_decimal");
  if (decimal != holder.end() && decimal->is_string()) return parseDecimal(decimal->get<std::string>(), (field + "_decimal").c_str());
  const auto whole = holder.find(field);
  if (whole != holder.end() && whole->is_number_integer()) {
    const auto v = whole->get<std::int64_t>();
    if (v < 0) throw Failure{Unpriceable::Malformed, field + " is negative"};
    return Exact(static_cast<std::uint64_t>(v)) * kScale;
  }
  if (required) throw Failure{Unpriceable::Malformed, "the price has neither " + field + " nor " + field + "_decimal"};
  return 0;
}

Exact times(Exact a, std::uint64_t b) {
  if (b != 0 && a > kMax / b) throw Failure{Unpriceable::TooLarge, "the amount exceeds what can be billed"};
  return a * b;
}

Exact plus(Exact a, Exact b) {
  if (a > kMax - b) throw Failure{Unpriceable::TooLarge, "the amount exceeds what can be billed"};
  return a + b;
}

// Stripe's tiers: ascending up_to, the last one null ("inf" when created). A tier list any other way is refused,
// whole, before any tier is priced: a volume price must not be billed from a list that is wrong further down.
std::vector<std::uint64_t> upperBounds(const json& tiers) {
  if (!tiers.is_array() || tiers.empty()) throw Failure{Unpriceable::TiersMissing, "the tiered price's tiers are not known"};
  std::vector<std::uint64_t> uppers;
  for (std::size_t i = 0; i < tiers.size(); ++i) {
    const auto& tier = tiers[i];
    if (!tier.is_object()) throw Failure{Unpriceable::Malformed, "a tier is not an object"};
    const auto up_to = tier.find("up_to");
    const bool last = up_to == tier.end() || up_to->is_null() || (up_to->is_string() && *up_to == "inf");
    if (last != (i + 1 == tiers.size())) throw Failure{Unpriceable::Malformed, "only the last tier may be unbounded"};
    std::uint64_t upper = std::numeric_limits<std::uint64_t>::max();
    if (!last) {
      if (!up_to->is_number_integer() || up_to->get<std::int64_t>() < 0) throw Failure{Unpriceable::Malformed, "a tier's up_to is not a count"};
      upper = static_cast<std::uint64_t>(up_to->get<std::int64_t>());
      if (i > 0 && upper <= uppers.back()) throw Failure{Unpriceable::Malformed, "tier up_to values must ascend"};
    }
    uppers.push_back(upper);
  }
  return uppers;
}

Exact tiered(const json& tiers, const std::string& mode, std::uint64_t quantity) {
  const auto uppers = upperBounds(tiers);
  Exact total = 0;
  std::uint64_t lower = 0;
  for (std::size_t i = 0; i < tiers.size(); ++i) {
    const auto& tier = tiers[i];
    const std::uint64_t upper = uppers[i];
    const Exact unit = amountOf(tier, "unit_amount", false), flat = amountOf(tier, "flat_amount", false);
    if (mode == "volume") {
      if (quantity <= upper) return plus(times(unit, quantity), flat);
    } else {
      const std::uint64_t in_tier = quantity > lower ? std::min(quantity, upper) - lower : 0;
      if (i == 0 || in_tier > 0) total = plus(total, plus(times(unit, in_tier), flat));
      if (quantity <= upper) return total;
    }
    lower = upper;
  }
  return total;
}

std::int64_t roundHalfUp(Exact scaled) {
  const Exact whole = (scaled + kScale / 2) / kScale;
  if (whole > static_cast<Exact>(std::numeric_limits<std::int64_t>::max())) {
    throw Failure{Unpriceable::TooLarge, "the amount exceeds what can be billed"};
  }
  return static_cast<std::int64_t>(whole);
}

}  // namespace

const char* unpriceableCode(Unpriceable reason) {
  switch (reason) {
    case Unpriceable::CustomAmount: return "custom_amount";
    case Unpriceable::CurrencyNotOffered: return "currency_not_offered";
    case Unpriceable::TiersMissing: return "tiers_missing";
    case Unpriceable::Malformed: return "malformed_price";
    case Unpriceable::TooLarge: return "amount_too_large";
  }
  return "malformed_price";
}

PriceAmount priceAmount(const json& price, std::int64_t quantity, const std::string& currency) {
  try {
    if (!price.is_object()) throw Failure{Unpriceable::Malformed, "not a price object"};
    if (quantity < 0) throw Failure{Unpriceable::Malformed, "a negative quantity"};
    // The amounts in the wanted currency: the price's own, or its currency option (which carries its own unit
    // amount, tiers and custom amount; the scheme, tiers mode and transformation stay the price's).
    const json* amounts = &price;
    const std::string own = price.value("currency", "");
    if (!currency.empty() && currency != own) {
      const auto options = price.find("currency_options");
      if (options == price.end() || !options->is_object() || !options->contains(currency)) {
        throw Failure{Unpriceable::CurrencyNotOffered, "the price isn't offered in " + currency};
      }
      amounts = &(*options)[currency];
    }
    if (amounts->contains("custom_unit_amount") && !(*amounts)["custom_unit_amount"].is_null()) {
      throw Failure{Unpriceable::CustomAmount, "the customer names this price's amount"};
    }
    auto units = static_cast<std::uint64_t>(quantity);
    if (price.value("billing_scheme", "per_unit") == "tiered") {
      if (price.contains("transform_quantity") && !price["transform_quantity"].is_null()) {
        throw Failure{Unpriceable::Malformed, "transform_quantity can't be combined with tiers"};
      }
      const std::string mode = price.value("tiers_mode", json()).is_string() ? price["tiers_mode"].get<std::string>() : "";
      if (mode != "volume" && mode != "graduated") throw Failure{Unpriceable::Malformed, "tiers_mode is neither volume nor graduated"};
      const auto tiers = amounts->find("tiers");
      return {roundHalfUp(tiered(tiers == amounts->end() ? json() : *tiers, mode, units)), {}, {}};
    }
    if (const auto t = price.find("transform_quantity"); t != price.end() && !t->is_null()) {
      const auto divide_by = t->value("divide_by", std::int64_t{0});
      const auto round = t->value("round", std::string());
      if (divide_by <= 0 || (round != "up" && round != "down")) {
        throw Failure{Unpriceable::Malformed, "transform_quantity needs divide_by > 0 and round up or down"};
      }
      const auto d = static_cast<std::uint64_t>(divide_by);
      units = units / d + (round == "up" && units % d != 0 ? 1 : 0);
    }
    return {roundHalfUp(times(amountOf(*amounts, "unit_amount", true), units)), {}, {}};
  } catch (const Failure& failure) {
    return {std::nullopt, failure.reason, failure.detail};
  } catch (const json::exception& e) {
    return {std::nullopt, Unpriceable::Malformed, e.what()};
  }
}

}  // namespace billing::subscription

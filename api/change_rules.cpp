#include "api/change_rules.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace billing::api {
namespace {

// A period's amount per year in minor units (exact for month and year intervals), to compare plans across intervals.
// In 128 bits: a large amount times 365 periods must not wrap.
__extension__ typedef __int128 Wide;
Wide perYear(const PriceRow& p, std::int64_t period_amount) {
  std::int64_t periods_per_year = p.interval == "year" ? 1 : p.interval == "month" ? 12 : p.interval == "week" ? 52 : 365;
  return Wide(period_amount) * periods_per_year / std::max<std::int64_t>(1, p.interval_count);
}

// Length of one billing period in days (approximate, only to order intervals).
std::int64_t periodDays(const PriceRow& p) {
  std::int64_t days = p.interval == "day" ? 1 : p.interval == "week" ? 7 : p.interval == "month" ? 30 : 365;
  return days * std::max<std::int64_t>(1, p.interval_count);
}

}  // namespace

bool appliesNow(const PriceRow& from, std::int64_t from_amount, const PriceRow& to, std::int64_t to_amount) {
  if (periodDays(to) != periodDays(from)) return periodDays(to) > periodDays(from);
  return perYear(to, to_amount) > perYear(from, from_amount);
}

std::optional<std::string> changedFact(const nlohmann::json& pinned, const nlohmann::json& now) {
  static const std::vector<std::pair<const char*, const char*>> facts = {
      {"period_start", "billing period"}, {"period_end", "billing period"}, {"trial_end", "trial"},
      {"cancel_at_period_end", "cancellation"}, {"cancel_at", "cancellation"}, {"discounts", "discounts"},
      {"latest_invoice", "latest invoice"}, {"status", "status"}, {"pending_update", "pending payment"},
      {"customer_balance", "customer's account balance"}, {"customer_discount", "customer's discount"},
      {"tax_location", "customer's tax location"}, {"tax_settings", "tax settings"}};
  for (const auto& [key, name] : facts) {
    if (pinned.value(key, nlohmann::json()) != now.value(key, nlohmann::json())) return std::string(name);
  }
  return std::nullopt;
}

}  // namespace billing::api

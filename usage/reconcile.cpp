#include "usage/reconcile.h"

#include <stdexcept>

namespace billing::usage {

std::vector<UsageDrift> reconcileUsage(pg::Connection& db, stripe::StripeClient& stripe, std::int64_t start, std::int64_t end) {
  start = start / 60 * 60;  // "start_time and end_time must be aligned with minute boundaries"
  end = end / 60 * 60;
  std::vector<UsageDrift> out;
  if (end <= start) return out;
  auto rows = db.query(
      "SELECT a.customer_id, a.meter, coalesce(um.meter_id, ''), sum(a.quantity)::bigint\n"
      "FROM usage_aggregates a LEFT JOIN usage_meters um ON um.event_name = a.meter\n"
      "WHERE a.status = 'reported' AND a.window_start >= to_timestamp($1::bigint) AND a.window_start < to_timestamp($2::bigint)\n"
      "  AND NOT EXISTS (SELECT 1 FROM meter_errors me WHERE me.identifier = a.identifier)\n"
      "GROUP BY 1, 2, 3 ORDER BY 1, 2",
      {std::to_string(start), std::to_string(end)});
  for (const auto& r : rows) {
    UsageDrift d{*r.at(0), *r.at(1), *r.at(2), start, end, std::stoll(*r.at(3)), 0};
    if (d.meter_id.empty()) {
      throw std::runtime_error("no Stripe meter id known for '" + d.meter + "' (the API records them at start)");
    }
    // One summary over the whole range (no value_grouping_window); every page, in case Stripe splits it.
    std::string starting_after;
    for (int page = 0; page < 100; ++page) {
      stripe::FormParams query = {{"customer", d.customer_id}, {"start_time", std::to_string(start)},
                                  {"end_time", std::to_string(end)}, {"limit", "100"}};
      if (!starting_after.empty()) query.push_back({"starting_after", starting_after});
      auto summaries = stripe.get("/v1/billing/meters/" + d.meter_id + "/event_summaries", query);
      for (const auto& s : summaries.value("data", nlohmann::json::array())) {
        auto value = s.value("aggregated_value", nlohmann::json());
        d.stripe += value.is_number() ? static_cast<std::int64_t>(value.get<double>()) : 0;
        starting_after = s.value("id", "");
      }
      if (!summaries.value("has_more", false) || starting_after.empty()) break;
    }
    out.push_back(d);
  }
  return out;
}

}  // namespace billing::usage

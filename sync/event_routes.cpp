#include "sync/event_routes.h"

#include <algorithm>
#include <map>

namespace billing::sync {
namespace {

using Routes = std::map<std::string, EventRoute, std::less<>>;

const Routes& routes() {
  static const Routes table = [] {
    Routes r;
    auto add = [&r](ObjectKind kind, std::string_view prefix, std::initializer_list<std::string_view> upserts,
                    std::initializer_list<std::string_view> deletes) {
      for (auto suffix : upserts) r.emplace(std::string(prefix) + "." + std::string(suffix), EventRoute{kind, EventAction::Upsert});
      for (auto suffix : deletes) r.emplace(std::string(prefix) + "." + std::string(suffix), EventRoute{kind, EventAction::Delete});
    };
    add(ObjectKind::Customer, "customer", {"created", "updated"}, {"deleted"});
    add(ObjectKind::Product, "product", {"created", "updated"}, {"deleted"});
    add(ObjectKind::Price, "price", {"created", "updated"}, {"deleted"});
    // A deleted subscription is a canceled one: Stripe still returns it, so it stays a row with status canceled.
    add(ObjectKind::Subscription, "customer.subscription",
        {"created", "updated", "deleted", "paused", "resumed", "trial_will_end", "pending_update_applied",
         "pending_update_expired"},
        {});
    add(ObjectKind::SubscriptionSchedule, "subscription_schedule",
        {"created", "updated", "released", "canceled", "completed", "aborted", "expiring"}, {});
    add(ObjectKind::Invoice, "invoice",
        {"created", "updated", "finalized", "finalization_failed", "paid", "payment_succeeded", "payment_failed",
         "payment_action_required", "marked_uncollectible", "voided", "sent", "overdue", "will_be_due"},
        {"deleted"});
    add(ObjectKind::PaymentMethod, "payment_method", {"attached", "detached", "updated", "automatically_updated"}, {});
    return r;
  }();
  return table;
}

}  // namespace

std::optional<EventRoute> routeFor(std::string_view event_type) {
  auto it = routes().find(event_type);
  if (it == routes().end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> handledEventTypes() {
  std::vector<std::string> types;
  for (const auto& [type, route] : routes()) types.push_back(type);
  return types;  // std::map keeps them sorted
}

}  // namespace billing::sync

#include "sync/object_kind.h"

namespace billing::sync {

const std::vector<KindInfo>& allKinds() {
  // Backfill walks them in this order: parents before the objects that point at them.
  static const std::vector<KindInfo> kinds = {
      {ObjectKind::Product, "products", "product", "products", "/v1/products", "", true},
      {ObjectKind::Price, "prices", "price", "prices", "/v1/prices", "", true},
      {ObjectKind::Customer, "customers", "customer", "customers", "/v1/customers", "", true},
      {ObjectKind::PaymentMethod, "payment_methods", "payment_method", "payment_methods", "/v1/payment_methods", "",
       false},
      {ObjectKind::Subscription, "subscriptions", "subscription", "subscriptions", "/v1/subscriptions", "status=all",
       false},
      {ObjectKind::SubscriptionSchedule, "subscription_schedules", "subscription_schedule", "subscription_schedules",
       "/v1/subscription_schedules", "", false},
      {ObjectKind::Invoice, "invoices", "invoice", "invoices", "/v1/invoices", "", true},
  };
  return kinds;
}

const KindInfo& info(ObjectKind kind) {
  for (const auto& k : allKinds()) {
    if (k.kind == kind) return k;
  }
  return allKinds().front();  // unreachable: every enumerator is listed
}

std::optional<ObjectKind> kindForObjectType(std::string_view object_type) {
  for (const auto& k : allKinds()) {
    if (k.object_type == object_type) return k.kind;
  }
  return std::nullopt;
}

std::optional<ObjectKind> kindForName(std::string_view name) {
  for (const auto& k : allKinds()) {
    if (k.name == name) return k.kind;
  }
  return std::nullopt;
}

}  // namespace billing::sync

#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace billing::sync {

/// The Stripe objects kept in PostgreSQL. Subscription items and invoice lines are children: they are written
/// from their parent's snapshot, never on their own.
enum class ObjectKind { Customer, Product, Price, Subscription, SubscriptionSchedule, Invoice, PaymentMethod };

/// Where one kind lives in Stripe's API and in our schema.
struct KindInfo {
  ObjectKind kind;
  std::string_view name;         // plural, as used on the command line and in sync_state: "customers"
  std::string_view object_type;  // Stripe's `object` value: "customer"
  std::string_view table;        // our table
  std::string_view api_path;     // list endpoint; one object is api_path + "/" + id
  std::string_view list_query;   // extra list parameters so nothing is filtered out (e.g. status=all)
  bool deletable;                // Stripe deletes these (then GET answers deleted:true or 404)
};

const std::vector<KindInfo>& allKinds();
const KindInfo& info(ObjectKind kind);
std::optional<ObjectKind> kindForObjectType(std::string_view object_type);
std::optional<ObjectKind> kindForName(std::string_view name);

}  // namespace billing::sync

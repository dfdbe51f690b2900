#include "sync/object_fetcher.h"

#include <algorithm>
#include <ctime>
#include <stdexcept>

namespace billing::sync {

std::int64_t earliestRead(const stripe::StripeClient::Response& response) {
  // Our clock when the request left, less a second for the skew between our clock and Stripe's.
  return response.sent_at > 0 ? std::min(response.sent_at - 1, response.server_time) : response.server_time;
}

void completeEmbeddedList(stripe::StripeClient& stripe, ObjectKind kind, nlohmann::json& object) {
  const char* member = kind == ObjectKind::Subscription ? "items" : kind == ObjectKind::Invoice ? "lines" : nullptr;
  if (!member || !object.contains(member) || !object[member].is_object()) return;
  auto& list = object[member];
  if (!list.value("has_more", false) || !list.contains("data") || !list["data"].is_array()) return;
  const std::string id = object.value("id", "");
  std::string path = kind == ObjectKind::Subscription ? "/v1/subscription_items" : "/v1/invoices/" + id + "/lines";
  nlohmann::json all = nlohmann::json::array();
  std::string starting_after;
  for (;;) {
    stripe::FormParams query = {{"limit", "100"}};
    if (kind == ObjectKind::Subscription) query.emplace_back("subscription", id);
    if (!starting_after.empty()) query.emplace_back("starting_after", starting_after);
    auto page = stripe.get(path, query);
    for (auto& item : page.at("data")) {
      starting_after = item.value("id", "");
      all.push_back(std::move(item));
    }
    if (!page.value("has_more", false) || starting_after.empty()) break;
  }
  list["data"] = std::move(all);
  list["has_more"] = false;
}

Snapshot snapshotOf(ObjectKind kind, const stripe::StripeClient::Response& response) {
  Snapshot s;
  s.kind = kind;
  s.id = response.body.at("id").get<std::string>();
  s.version = response.server_time;
  s.read_from = earliestRead(response);
  s.deleted = response.body.value("deleted", false);
  s.raw_json = response.body.dump();
  return s;
}

void writeAnswers(pg::Connection& db,
                  const std::vector<std::pair<ObjectKind, const stripe::StripeClient::Response*>>& answers) {
  std::vector<Snapshot> fresh;
  std::vector<RefetchRequest> replayed;
  for (const auto& [kind, response] : answers) {
    if (response->replayed) {
      replayed.push_back({kind, response->body.at("id").get<std::string>(), "idempotent_replay", response->server_time});
    } else {
      fresh.push_back(snapshotOf(kind, *response));
    }
  }
  pg::inTransaction(db, [&] {
    SnapshotWriter writer(db);
    if (!fresh.empty()) writer.write(fresh);
    if (!replayed.empty()) writer.queueRefetch(replayed);
    return 0;
  });
}

Snapshot fetchSnapshot(stripe::StripeClient& stripe, ObjectKind kind, const std::string& id) {
  const auto& k = info(kind);
  Snapshot s;
  s.kind = kind;
  s.id = id;
  try {
    auto response = stripe.fetch(std::string(k.api_path) + "/" + id);
    auto& body = response.body;
    if (body.value("id", "") != id || body.value("object", "") != k.object_type) {
      throw stripe::StripeError(200, "api_error", "unexpected_object",
                                "Stripe answered GET " + std::string(k.api_path) + "/" + id + " with another object");
    }
    s.version = response.server_time;
    s.read_from = earliestRead(response);
    s.deleted = body.value("deleted", false);
    if (!s.deleted) completeEmbeddedList(stripe, kind, body);
    s.raw_json = body.dump();
  } catch (const stripe::StripeError& e) {
    if (e.status() != 404 || e.code() != "resource_missing" || !k.deletable) throw;
    nlohmann::json stub = {{"id", id}, {"object", k.object_type}, {"deleted", true}};
    s.version = static_cast<std::int64_t>(std::time(nullptr));
    s.deleted = true;
    s.raw_json = stub.dump();
  }
  return s;
}

}  // namespace billing::sync

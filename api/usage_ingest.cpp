#include "api/usage_ingest.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "api/accounts.h"
#include "api/api_error.h"
#include "common/digest.h"
#include "common/metrics.h"
#include "common/utc_time.h"
#include "usage/usage_batch.h"
#include "usage/usage_ledger.h"
#include "usage/usage_reads.h"

namespace billing::api {
namespace {

struct Item {
  usage::UsageEvent event;
  std::string status = "accepted";  // accepted | duplicate | rejected
  std::string code, message;
  std::string not_billed;  // accepted, but no invoice will carry it: no_billable_subscription | meter_not_on_plan
};

void reject(Item& item, const std::string& code, const std::string& message) {
  item.status = "rejected";
  item.code = code;
  item.message = message;
}

bool validIdentifier(const std::string& id) {
  if (id.empty() || id.size() > 100) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == ':' || c == '.';
  });
}

}  // namespace

nlohmann::json UsageIngest::accept(const nlohmann::json& body, const std::string& idempotency_key, std::int64_t now) {
  nlohmann::json list;
  if (body.contains("events")) {
    if (!body["events"].is_array()) throw badRequest("parameter_invalid", "events must be an array");
    list = body["events"];
  } else if (body.is_object() && !body.empty()) {
    list = nlohmann::json::array({body});
  }
  // No body, {} or {"events": []}: nothing to accept is a request error, not a 200 with one rejected item.
  if (list.empty()) {
    throw badRequest("parameter_missing", "no usage events in the request: send one event or {\"events\": [...]}");
  }
  if (list.size() > config_.usage_max_events) {
    throw badRequest("too_many_events", "at most " + std::to_string(config_.usage_max_events) + " events per request");
  }

  std::vector<Item> items(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto& item = items[i];
    const auto& e = list[i];
    if (!e.is_object()) {
      reject(item, "parameter_invalid", "each usage event must be an object");
      continue;
    }
    // Identifier first, so even a rejected item is answered under it.
    if (e.contains("identifier") && !e["identifier"].is_null()) {
      if (!e["identifier"].is_string() || !validIdentifier(e["identifier"].get<std::string>())) {
        reject(item, "parameter_invalid", "identifier must be 1 to 100 characters of letters, digits, '_', '-', ':', '.'");
        continue;
      }
      item.event.identifier = e["identifier"].get<std::string>();
    } else if (!idempotency_key.empty()) {
      item.event.identifier = "idk_" + common::sha256Hex(idempotency_key + "\n" + std::to_string(i)).substr(0, 40);
    } else {
      reject(item, "identifier_required",
             "give each event an identifier, or the request an Idempotency-Key, so a retry can't count it twice");
      continue;
    }
    auto account = e.value("account_id", nlohmann::json()).is_string() ? e["account_id"].get<std::string>() : "";
    if (account.empty() || !Accounts::validId(account)) {
      reject(item, account.empty() ? "parameter_missing" : "invalid_account_id", "account_id must be a valid account id");
      continue;
    }
    auto meter = e.value("event_name", nlohmann::json()).is_string() ? e["event_name"].get<std::string>() : "";
    if (meter.empty()) {
      reject(item, "parameter_missing", "event_name (the meter's event name) is required");
      continue;
    }
    if (std::find(config_.usage_meters.begin(), config_.usage_meters.end(), meter) == config_.usage_meters.end()) {
      reject(item, "unknown_meter", "no meter with event_name '" + meter + "'");
      continue;
    }
    if (!e.contains("value") || !e["value"].is_number_integer() || e["value"].get<std::int64_t>() < 0 ||
        e["value"].get<std::int64_t>() > 1'000'000'000'000LL) {
      reject(item, "parameter_invalid", "value must be a whole number from 0 to 10^12");
      continue;
    }
    std::int64_t timestamp = now;
    if (e.contains("timestamp") && !e["timestamp"].is_null()) {
      if (e["timestamp"].is_number_integer()) {
        timestamp = e["timestamp"].get<std::int64_t>();
      } else if (auto parsed = e["timestamp"].is_string() ? common::parseIso8601Utc(e["timestamp"].get<std::string>())
                                                          : std::nullopt) {
        timestamp = *parsed;
      } else {
        reject(item, "parameter_invalid", "timestamp must be unix seconds or an ISO-8601 UTC time");
        continue;
      }
    }
    if (timestamp < now - config_.usage_max_age_seconds) {
      reject(item, "timestamp_too_old", "timestamp is older than Stripe accepts (35 days, less an hour to report it)");
      continue;
    }
    if (timestamp > now + config_.usage_max_future_seconds) {
      reject(item, "timestamp_in_future", "timestamp is more than 5 minutes ahead");
      continue;
    }
    item.event.account_id = account;
    item.event.meter = meter;
    item.event.value = e["value"].get<std::int64_t>();
    item.event.timestamp = timestamp;
  }

  // Accounts to Stripe customers, one query for the whole request.
  std::set<std::string> accounts;
  for (const auto& item : items) {
    if (item.status == "accepted") accounts.insert(item.event.account_id);
  }
  std::map<std::string, std::string> customers;
  if (!accounts.empty()) {
    nlohmann::json list_of_accounts(std::vector<std::string>(accounts.begin(), accounts.end()));
    for (const auto& row : db_.query("SELECT account_id, customer_id FROM accounts WHERE account_id IN "
                                     "(SELECT jsonb_array_elements_text($1::jsonb))",
                                     {list_of_accounts.dump()})) {
      customers[*row[0]] = *row[1];
    }
  }
  for (auto& item : items) {
    if (item.status != "accepted") continue;
    auto found = customers.find(item.event.account_id);
    if (found == customers.end()) {
      reject(item, "account_not_found", "no such account: " + item.event.account_id + " (create it with POST /v1/accounts)");
      continue;
    }
    item.event.customer_id = found->second;
  }

  // Usage of a closed billing period: Stripe would bill it nowhere (its invoice is final), so it is refused here,
  // said clearly, rather than accepted and lost.
  std::set<std::string> billed_customers;
  for (const auto& item : items) {
    if (item.status == "accepted") billed_customers.insert(item.event.customer_id);
  }
  const auto periods = usage::billingPeriods(db_, {billed_customers.begin(), billed_customers.end()});
  for (auto& item : items) {
    if (item.status != "accepted") continue;
    auto period = periods.find(item.event.customer_id);
    if (period == periods.end()) continue;
    const auto& p = period->second;
    // The period boundary this event's window is cut at (the latest at or before it), carried in the message so
    // re-recording after a restore cuts where the first recording did, whatever the subscription became since.
    for (auto boundary : {p.previous_start, p.start, p.end}) {
      if (boundary > 0 && boundary <= item.event.timestamp) item.event.period_cut = std::max(item.event.period_cut, boundary);
    }
    if (item.event.timestamp >= p.start) continue;
    bool closed = now >= p.start + config_.usage_period_close_seconds || p.previous_invoice_final ||
                  (p.previous_start > 0 && item.event.timestamp < p.previous_start);
    if (closed) {
      reject(item, "period_closed",
             "the billing period this usage belongs to has ended and its invoice is final (period from " +
                 common::formatIso8601Utc(p.start) + " on is open): Stripe would not bill it");
    }
  }

  // Usage no invoice will carry: the customer has no billable subscription, or its subscription has no metered item
  // on this meter (e.g. an annual plan whose catalog has only a monthly usage price). Accepted and recorded (it
  // reaches Stripe's meter, and the caller loses nothing), but answered as not billed, and shown so on the page.
  const auto billed = usage::billedMeters(db_, {billed_customers.begin(), billed_customers.end()});
  for (auto& item : items) {
    if (item.status != "accepted") continue;
    if (!periods.count(item.event.customer_id)) {
      item.not_billed = "no_billable_subscription";
    } else if (auto meters = billed.find(item.event.customer_id); meters == billed.end() || !meters->second.count(item.event.meter)) {
      item.not_billed = "meter_not_on_plan";
    }
  }

  // Duplicates (per account): twice in this request, or recorded before.
  std::vector<std::pair<std::string, std::string>> candidates;
  for (const auto& item : items) {
    if (item.status == "accepted") candidates.push_back({item.event.account_id, item.event.identifier});
  }
  auto known = usage::UsageLedger(db_).knownIdentifiers(candidates);
  std::vector<usage::UsageEvent> accepted;
  for (auto& item : items) {
    if (item.status != "accepted") continue;
    if (!known.insert({item.event.account_id, item.event.identifier}).second) {
      item.status = "duplicate";
      continue;
    }
    accepted.push_back(item.event);
  }
  if (!accepted.empty()) {
    // One message per account, keyed by it: every event of an account goes through one partition, in order, so
    // a resubmitted copy always lands behind the first and re-recording the topic keeps the same one. Stamped
    // just before producing: the reporter's arrival margin then only has to cover Kafka's delivery.
    std::map<std::string, std::vector<usage::UsageEvent>> by_account;
    for (auto& e : accepted) by_account[e.account_id].push_back(std::move(e));
    const auto received_at = static_cast<std::int64_t>(std::time(nullptr));
    std::vector<std::string> payloads;
    payloads.reserve(by_account.size());  // never reallocated: the messages below view its strings
    std::vector<kafka::DurableProducer::Message> messages;
    for (const auto& [account, events] : by_account) {
      payloads.push_back(usage::encodeUsageBatch(events, received_at));
      messages.push_back({account, payloads.back()});
    }
    auto delivery = producer_.produceAll(config_.usage_topic, messages, {{"content-type", "usage-batch-v1"}});
    if (delivery.status != kafka::DeliveryStatus::Delivered) {
      throw ApiError(503, "api_error", "kafka_unavailable",
                     "usage could not be stored durably; retry the same request (what was stored is never counted "
                     "twice)");
    }
  }

  nlohmann::json results = nlohmann::json::array();
  std::size_t counts[3] = {0, 0, 0};
  std::size_t not_billed = 0;
  static auto& accepted_total = metrics::defaultRegistry().counter(
      "billing_usage_ingested_total", "Usage events answered by POST /v1/usage, by status", {{"status", "accepted"}});
  static auto& duplicate_total = metrics::defaultRegistry().counter(
      "billing_usage_ingested_total", "Usage events answered by POST /v1/usage, by status", {{"status", "duplicate"}});
  static auto& rejected_total = metrics::defaultRegistry().counter(
      "billing_usage_ingested_total", "Usage events answered by POST /v1/usage, by status", {{"status", "rejected"}});
  for (const auto& item : items) {
    nlohmann::json r = {{"identifier", item.event.identifier.empty() ? nlohmann::json() : nlohmann::json(item.event.identifier)},
                        {"status", item.status}};
    if (item.status == "rejected") {
      r["error"] = {{"type", "invalid_request_error"}, {"code", item.code}, {"message", item.message}};
      ++counts[2];
    } else {
      ++counts[item.status == "accepted" ? 0 : 1];
    }
    if (!item.not_billed.empty() && item.status != "rejected") {
      ++not_billed;
      r["not_billed"] = {{"code", item.not_billed},
                         {"message", item.not_billed == "no_billable_subscription"
                                         ? "the account has no billable subscription: no invoice will bill this usage"
                                         : "the account's subscription has no price on meter '" + item.event.meter +
                                               "': no invoice will bill this usage"}};
    }
    results.push_back(r);
  }
  // Operators watch this: usage a product sends that no invoice bills is usually a catalog gap (a plan without the
  // meter's price), money not collected.
  static auto& not_billed_total = metrics::defaultRegistry().counter(
      "billing_usage_not_billed_total", "Usage events accepted that no invoice will bill (no subscription, or no price on the meter)");
  not_billed_total.inc(not_billed);
  accepted_total.inc(counts[0]);
  duplicate_total.inc(counts[1]);
  rejected_total.inc(counts[2]);
  return {{"accepted", counts[0]}, {"duplicates", counts[1]}, {"rejected", counts[2]}, {"not_billed", not_billed},
          {"results", results}};
}

nlohmann::json usageForAccount(pg::Connection& db, const ApiConfig& config, const std::string& customer_id) {
  return usage::accountUsage(db, config.usage_meters, customer_id);
}

}  // namespace billing::api

#pragma once
// The Stripe fake's shared state and the helpers every resource file uses. Each behaviour the fake models cites the
// Stripe doc page or spec field it follows; where the docs are unclear, the fake takes the stricter reading and
// says so. tests/contract/ holds one test per behaviour, runnable against Stripe test mode too.
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/local_http_server.h"

namespace billing::testing::fake {

using json = nlohmann::json;

struct Answer {
  int status = 200;
  json body;
  std::map<std::string, std::string> headers;
};

/// A refusal thrown by a handler. `validation`: refused before the endpoint began executing (parameter checks), so
/// the idempotency layer saves nothing and the same key may be used again
/// (https://docs.stripe.com/api/idempotent_requests: "If incoming parameters fail validation ... we don't save the
/// idempotent result").
struct Refusal {
  Answer answer;
  bool validation = false;
};

Refusal invalidRequest(int status, const std::string& code, const std::string& message, const std::string& param = "",
                       bool validation = false);
/// 400 parameter_unknown "Received unknown parameter: x" (https://docs.stripe.com/error-codes#parameter-unknown).
Refusal unknownParameter(const std::string& param);
/// 400 parameter_missing.
Refusal missingParameter(const std::string& param);
/// 404 resource_missing "No such <what>: '<id>'".
Refusal noSuch(const std::string& what, const std::string& id, const std::string& param = "id");

/// Form parameters (bracket notation decoded into nested JSON, every leaf a string) with Stripe's validation:
/// `allow` refuses any key not listed; the typed getters refuse values of the wrong type
/// (parameter_invalid_integer, parameter_invalid_boolean). Paths are Stripe's: items[0][price].
class Params {
 public:
  explicit Params(json root, std::string prefix = "") : root_(std::move(root)), prefix_(std::move(prefix)) {}
  static Params fromForm(const std::string& body);

  /// Refuses keys not in `allowed`.
  void allow(std::initializer_list<const char*> allowed) const;
  bool has(const std::string& key) const { return root_.is_object() && root_.contains(key); }
  std::string path(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "[" + key + "]"; }

  std::optional<std::string> str(const std::string& key) const;
  std::string required(const std::string& key) const;
  std::optional<std::int64_t> integer(const std::string& key) const;
  std::optional<bool> boolean(const std::string& key) const;
  /// A nested hash (metadata, recurring, subscription_details ...), empty if absent.
  Params object(const std::string& key) const;
  /// An array of hashes (items[0][...], phases[0][...]).
  std::vector<Params> list(const std::string& key) const;
  /// A hash of strings as JSON (metadata); "" values unset keys on update, as Stripe does.
  json strings(const std::string& key) const;
  const json& raw() const { return root_; }

 private:
  json root_;
  std::string prefix_;
};

/// A fake PaymentMethod's behaviour, from Stripe's test payment methods (https://docs.stripe.com/testing):
/// pm_card_visa succeeds; pm_card_chargeCustomerFail attaches but every charge is declined (card 4000 0000 0000 0341);
/// pm_card_authenticationRequired needs 3-D Secure on every payment (card 4000 0027 6000 3184).
// DebitProcessing: a bank debit (SEPA Direct Debit): its payments are "processing" for some business days, then
// succeed (https://docs.stripe.com/payments/sepa-debit, https://docs.stripe.com/testing#sepa-direct-debit).
enum class CardBehaviour { Succeeds, Declines, RequiresAction, DebitProcessing };

struct MeterEvent {
  std::string identifier, event_name, customer;
  std::int64_t value = 0, timestamp = 0;
  std::string via;            // v1 | v2
  std::int64_t received_at = 0;  // on the customer's clock (its test clock, if any)
};

struct State {
  std::mutex mutex;
  std::int64_t wall_clock = 0;      // 0: the real clock
  std::int64_t latency_seconds = 1;  // between reading the object and stamping Date
  std::string hosted_base;  // where the hosted-page stand-ins are served (empty: Stripe's own URLs)
  std::int64_t search_delay_seconds = 60;
  std::map<std::string, std::map<std::string, json>> objects;  // object type -> id -> object
  std::map<std::string, std::set<std::string>> deleted;
  std::vector<json> events;
  int fail_count = 0;
  int fail_status = 500;
  std::string fail_request;  // "" fails any request; else the method and path prefix that fails
  int lose_count = 0;  // answers lost after execution (loseAnswers)
  std::vector<RecordedRequest> requests;
  struct Saved {
    std::string endpoint, body;
    Answer answer;
  };
  std::map<std::string, Saved> idempotent;  // Idempotency-Key -> first executed answer
  int next_id = 1;
  // Part of every id this account makes, so that no two runs of the demo ever make the same id, even when the saved
  // state is lost while the database is kept (Stripe never reuses an id; the sync's dedupe by event id rests on it).
  std::string id_tag;
  std::optional<std::size_t> delivered_events;  // events delivered to the webhook endpoint (EventDelivery)
  std::string state_file;                       // where the account is saved after every change ("": not saved)
  std::map<std::string, CardBehaviour> customer_cards;    // customer -> behaviour of its default payment method
  std::map<std::string, CardBehaviour> payment_methods;   // pm id -> behaviour
  std::map<std::string, std::int64_t> searchable_from;    // customer -> wall time from which Search finds it
  std::map<std::string, std::int64_t> stream_tokens;      // v2 meter event session token -> expiry
  std::set<std::string> meter_identifiers;
  std::vector<MeterEvent> meter_events;
  std::int64_t meter_duplicates = 0;
  std::map<std::string, json> v2_events;
  // Side tables live in `objects` under names no Stripe object has: subscription_coupons, payment_intent_status,
  // pending_line (create_prorations items waiting for the next invoice), draft_meta (when a draft finalizes),
  // pending_invoice; they never leave the fake.

  /// The wall clock (Date, created of objects not on a test clock).
  std::int64_t now() const;
  /// The clock a customer's objects live on: its test clock's frozen time, else the wall clock.
  std::int64_t nowFor(const std::string& customer_id);
  std::string newId(const std::string& prefix) { return prefix + "_fake" + id_tag + std::to_string(next_id++); }
  json* find(const std::string& type, const std::string& id);
  json& get(const std::string& type, const std::string& id, const std::string& what, const std::string& param = "id");
  bool isDeleted(const std::string& type, const std::string& id) const;
  /// Records a snapshot event (served by GET /v1/events) as Stripe sends them on every change.
  void emit(const std::string& type, const json& object, std::int64_t created);
  /// Saves the account to `state_file`, if set (persistence.cpp); a failed save is reported, not thrown.
  void persist();
};

// The account on disk (persistence.cpp).
json snapshot(const State& s);
/// Replaces the account with a snapshot; throws std::runtime_error naming what is wrong with it.
void restore(State& s, const json& snapshot);
/// The parsed file, nullopt if there is none; throws std::runtime_error if it can't be read or parsed.
std::optional<json> readStateFile(const std::string& path);

// Calendar arithmetic (calendar.cpp).
/// `anchor` + n billing intervals, in calendar months/years from the anchor, clamped to the month's last day
/// (https://docs.stripe.com/billing/subscriptions/billing-cycle: an anchor on the 31st bills on Feb 28, then Mar 31).
std::int64_t addIntervals(std::int64_t anchor, const std::string& interval, std::int64_t count, std::int64_t n);
/// The billing period containing `t` for a cycle anchored at `anchor`: [start, end).
std::pair<std::int64_t, std::int64_t> periodAround(std::int64_t anchor, const std::string& interval, std::int64_t count,
                                                   std::int64_t t);

// Resource handlers (one file each). Each gets the decoded path segments after /v1 and answers or throws Refusal.
Answer customers(State& s, const std::string& method, const std::vector<std::string>& parts, const Params& p,
                 const std::multimap<std::string, std::string>& query);
Answer paymentMethods(State& s, const std::vector<std::string>& parts, const Params& p);
Answer catalog(State& s, const std::string& method, const std::vector<std::string>& parts, const Params& p);
Answer subscriptions(State& s, const std::string& method, const std::vector<std::string>& parts, const Params& p);
Answer invoicePreview(State& s, const Params& p);
Answer payInvoice(State& s, const std::string& invoice_id, const Params& p);
/// Stripe's test PaymentMethods (https://docs.stripe.com/testing#cards): passing one of these ids attaches a new
/// card PaymentMethod with that behaviour.
std::optional<CardBehaviour> testCard(const std::string& id);
Answer schedules(State& s, const std::string& method, const std::vector<std::string>& parts, const Params& p);
Answer testClocks(State& s, const std::string& method, const std::vector<std::string>& parts, const Params& p);
Answer meters(State& s, const std::string& method, const std::vector<std::string>& parts, const Params& p,
              const std::multimap<std::string, std::string>& query);
Answer checkout(State& s, const std::vector<std::string>& parts, const Params& p);
Answer portal(State& s, const std::vector<std::string>& parts, const Params& p);
Answer meterEventStream(State& s, const RecordedRequest& request);
Answer meterEventSession(State& s);

// Shared by subscriptions, schedules and clocks (subscriptions.cpp).
/// Moves a subscription on to `until` on its clock: trial ends, renewals with their invoices (licensed items in
/// advance, metered usage in arrears), schedule phase transitions, cancellation at period end.
void advanceSubscription(State& s, json& subscription, std::int64_t until);
/// Finalizes and collects the drafts whose finalization grace has passed by `until`.
void advanceInvoices(State& s, const std::string& customer_id, std::int64_t until);
/// Cancels a subscription now (DELETE, customer deletion, schedule end_behavior=cancel).
void cancelNow(State& s, json& subscription, std::int64_t now);
/// The customer completes the payment of an open invoice on Stripe's hosted page (3-D Secure done, or a working
/// card): paid, and a pending update waiting for it applied. False when the invoice isn't open (voided on expiry).
bool payOpenInvoice(State& s, const std::string& invoice_id);
/// What the customer does on Checkout's hosted page: pays, and the session's subscription is made (checkout.cpp).
json completeCheckoutSession(State& s, const std::string& session_id);
/// The stand-ins for Stripe's hosted pages under /_hosted/ (hosted_pages.cpp), or nullopt for any other path.
std::optional<ScriptedResponse> hostedPage(State& s, const RecordedRequest& request);
/// Moves a schedule to its next phase at `at` (subscription_schedules.cpp): the subscription takes the phase's
/// items; after the last phase, end_behavior release or cancel.
void advanceSchedulePhase(State& s, json& schedule, json& subscription, std::int64_t at);
/// A price as it appears inside a subscription item.
json& price(State& s, const std::string& id, const std::string& param);
/// What `quantity` units of `price` cost on one invoice line, in minor units: per unit (unit_amount or its decimal,
/// after transform_quantity) or by its tiers (volume or graduated, flat amounts), rounded half up (catalog.cpp).
std::int64_t lineAmount(State& s, const json& price, std::int64_t quantity);

}  // namespace billing::testing::fake

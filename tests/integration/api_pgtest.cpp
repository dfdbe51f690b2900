// `billing api` in-process against a real PostgreSQL 15 holding the synced sample events, with the stateful Stripe
// fake: authentication and account isolation for every endpoint, reads, accounts, and a bad-input table.
#include <catch2/catch.hpp>

#include <ctime>
#include <nlohmann/json.hpp>

#include "api/api_server.h"
#include "api/authenticator.h"
#include "api/portal_configuration.h"
#include "tests/support/fake_stripe.h"
#include "tests/support/fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/stripe_mock.h"
#include "sync/object_fetcher.h"
#include "sync/refetcher.h"
#include "tests/support/sync_database.h"

#include <functional>
#include <set>
#include <thread>

#include "common/utc_time.h"

using namespace billing;
using testing::scalar;

namespace {

const std::string kKey = "bk_test_key_0123456789abcdef";
const std::string kOldKey = "bk_rotating_out_0123456789ab";
const std::string kSecret = "token-secret-0123456789abcdef-0123456789";
const std::string kOskar = "acct_oskar";   // cus_wiBCVtOp32cN8d: Pro monthly, three paid invoices
const std::string kOther = "acct_other";   // cus_spONFA2nyJ9m7J

struct Api {
  testing::FakeStripe fake;
  std::string url = testing::freshSyncDatabase();
  api::ApiConfig config;
  std::unique_ptr<stripe::StripeClient> stripe;
  std::unique_ptr<api::ApiServer> server;
  std::size_t fake_events_applied = 0;  // syncFromFake's place in the fake's events

  Api() {
    pg::Connection db(url);
    std::vector<std::string> payloads;
    for (const auto& f : testing::sampleEvents()) {
      if (nlohmann::json::parse(f.body).value("object", "") == "event") payloads.push_back(f.body);
    }
    std::sort(payloads.begin(), payloads.end(), [](const std::string& a, const std::string& b) {
      return nlohmann::json::parse(a)["created"] < nlohmann::json::parse(b)["created"];
    });
    // The samples carry Pro's monthly price only inside subscription items: add it and the Pro product to the
    // catalog, as their own events would.
    auto subscription = nlohmann::json::parse(payloads.front());
    for (const auto& p : payloads) {
      auto e = nlohmann::json::parse(p);
      if (e["type"] == "customer.subscription.updated" && e["data"]["object"]["id"] == "sub_1wUn1obRqfAWGcrTHprb3vKb") {
        subscription = e;
      }
    }
    auto pro_price = subscription["data"]["object"]["items"]["data"][0]["price"];
    auto starter = nlohmann::json::parse(testing::readFile(testing::fixturesDir() / "stripe/events/product.updated.json"));
    auto pro = starter["data"]["object"];
    pro["id"] = pro_price["product"];
    pro["name"] = "Pro";
    pro["default_price"] = pro_price["id"];
    pro["metadata"] = {{"plan_key", "pro"}};
    payloads.push_back(testing::makeEvent("product.created", 1780272100, pro));
    payloads.push_back(testing::makeEvent("price.created", 1780272136, pro_price));
    testing::applyPayloads(db, payloads);
    db.exec("INSERT INTO accounts (account_id, customer_id) VALUES ('acct_oskar', 'cus_wiBCVtOp32cN8d'), "
            "('acct_other', 'cus_spONFA2nyJ9m7J')");
    config.host = "127.0.0.1";
    config.port = 0;
    config.threads = 8;
    config.api_keys = {kKey, kOldKey};
    config.token_secret = kSecret;
    config.database_url = url;
    config.database_connections = 4;
    config.allowed_origins = {"https://app.example.com", "http://localhost:3000"};
    config.stripe.api_key = "sk_test_fake";
    config.stripe.base_url = fake.baseUrl();
    config.stripe.retry.max_retries = 0;
    stripe = std::make_unique<stripe::StripeClient>(config.stripe);
    server = std::make_unique<api::ApiServer>(config, *stripe);
    server->start();
  }

  testing::HttpReply call(const std::string& method, const std::string& path, const std::string& credential,
                          const std::string& body = "") {
    testing::HttpClient client(server->port());
    std::map<std::string, std::string> headers;
    if (!credential.empty()) headers["Authorization"] = "Bearer " + credential;
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return client.request(method, path, body, headers);
  }

  std::string tokenFor(const std::string& account) {
    auto reply = call("POST", "/v1/tokens", kKey, nlohmann::json{{"account_id", account}}.dump());
    REQUIRE(reply.status == 200);
    return nlohmann::json::parse(reply.body)["token"];
  }
};

nlohmann::json json(const testing::HttpReply& reply) { return nlohmann::json::parse(reply.body); }

// What the workers do with the fake's events since the last call: applied in order, then the refetches they queued
// (made due at once: the test doesn't wait out their delay).
void syncFromFake(Api& api) {
  pg::Connection db(api.url);
  auto events = api.fake.events();
  std::vector<std::string> payloads;
  for (std::size_t i = api.fake_events_applied; i < events.size(); ++i) payloads.push_back(events[i].dump());
  api.fake_events_applied = events.size();
  if (!payloads.empty()) testing::applyPayloads(db, payloads);
  db.exec("UPDATE refetch_queue SET not_before = now()");
  sync::Refetcher(db, *api.stripe).runDue(1000);
}

// The subscription read once `done` holds: the read cache drops an account's entry when PostgreSQL's change
// notification arrives, a few milliseconds after the worker's write. At most 5 s, then whatever it says.
nlohmann::json readOnce(Api& api, const std::string& account, const std::function<bool(const nlohmann::json&)>& done) {
  nlohmann::json sub;
  for (int i = 0; i < 100; ++i) {
    auto reply = api.call("GET", "/v1/accounts/" + account + "/subscription", kKey);
    sub = nlohmann::json::parse(reply.body)["subscription"];
    if (done(sub)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return sub;
}

int postsTo(Api& api, const std::string& uri) {
  int n = 0;
  for (const auto& r : api.fake.requests()) n += r.method == "POST" && r.uri == uri;
  return n;
}

void checkError(const testing::HttpReply& reply, int status, const std::string& code) {
  INFO(reply.body);
  CHECK(reply.status == status);
  auto body = nlohmann::json::parse(reply.body, nullptr, false);
  REQUIRE(body.is_object());
  CHECK(body["error"]["code"] == code);
  CHECK(body["error"]["type"].is_string());
  CHECK(body["error"]["message"].is_string());
  CHECK(body["error"]["request_id"] == reply.headers.at("Request-Id"));
}

// A preview's parts are Stripe's invoice of now, part by part: they add up to its subtotal, and what is due is the
// total with the customer's balance applied.
void checkPartsAddUp(const nlohmann::json& p) {
  INFO(p.dump());
  auto n = [&](const char* key) { return p.at(key).get<long long>(); };
  CHECK(n("proration_charge") - n("proration_credit") + n("new_period_charge") + n("usage_charge") + n("other_charges") ==
        n("subtotal"));
  CHECK(n("subtotal") - n("discount") <= n("total"));
  CHECK(n("total") + n("balance_applied") == n("amount_due_now"));
  CHECK(p.at("next_invoice_total") == p.at("next_invoice").at("total"));
}

}  // namespace

TEST_CASE("a token or request for one account can never read or change another", "[integration][postgres][api]") {
  Api api;
  auto oskar = api.tokenFor(kOskar);
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  api::Authenticator same_secret({}, kSecret), other_secret({}, "another-secret-0123456789abcdef-012345");
  const std::vector<std::pair<std::string, std::string>> forged = {
      {"no credential", ""},
      {"unknown key", "bk_not_a_key_0123456789abcdef"},
      {"garbage", "not.a.token"},
      {"expired token", same_secret.mintAccountToken(kOskar, now - 1000, 60)},
      {"token signed with another secret", other_secret.mintAccountToken(kOskar, now, 600)},
      {"a preview token as an account token", same_secret.mintToken("preview", {{"sub", kOskar}}, now, 600)},
      {"token with its payload edited", [&] {
         auto t = same_secret.mintAccountToken(kOskar, now, 600);
         auto other = same_secret.mintAccountToken(kOther, now, 600);
         // header.payload.signature: other account's payload with our signature
         return t.substr(0, t.find('.')) + other.substr(other.find('.'), other.rfind('.') - other.find('.')) + t.substr(t.rfind('.'));
       }()},
  };
  for (const auto* what : {"plans", "subscription", "entitlements", "invoices", "usage"}) {
    INFO(what);
    CHECK(api.call("GET", std::string("/v1/accounts/acct_oskar/") + what, oskar).status == 200);
    CHECK(api.call("GET", std::string("/v1/accounts/acct_oskar/") + what, kKey).status == 200);
    CHECK(api.call("GET", std::string("/v1/accounts/acct_oskar/") + what, kOldKey).status == 200);  // rotation
    checkError(api.call("GET", std::string("/v1/accounts/acct_other/") + what, oskar), 403, "account_forbidden");
    for (const auto& [name, credential] : forged) {
      INFO(name);
      checkError(api.call("GET", std::string("/v1/accounts/acct_oskar/") + what, credential), 401, "unauthenticated");
    }
  }
  // Account tokens can't mint tokens or map accounts (backend-only endpoints).
  checkError(api.call("POST", "/v1/tokens", oskar, R"({"account_id":"acct_other"})"), 403, "backend_only");
  checkError(api.call("POST", "/v1/accounts", oskar, R"({"account_id":"acct_x"})"), 403, "backend_only");
  checkError(api.call("POST", "/v1/usage", oskar, R"({"account_id":"acct_other","event_name":"api_requests","value":1})"),
             403, "backend_only");
  for (const auto& [name, credential] : forged) {
    INFO(name);
    checkError(api.call("POST", "/v1/tokens", credential, R"({"account_id":"acct_other"})"), 401, "unauthenticated");
  }
}

TEST_CASE("reads come from the synced state", "[integration][postgres][api]") {
  Api api;
  auto sub = json(api.call("GET", "/v1/accounts/acct_oskar/subscription", kKey))["subscription"];
  CHECK(sub["id"] == "sub_1wUn1obRqfAWGcrTHprb3vKb");
  CHECK(sub["status"] == "active");
  CHECK(sub["past_due"] == false);
  CHECK(sub["cancel_at_period_end"] == false);
  REQUIRE(sub["items"].size() == 1);
  CHECK(sub["items"][0]["price_id"] == "price_1wTq6ibRqfAWGcrTGiWUa6mg");
  CHECK(sub["items"][0]["product_name"] == "Pro");
  CHECK(sub["items"][0]["unit_amount"] == 2900);
  CHECK(sub["items"][0]["interval"] == "month");
  CHECK(sub["items"][0]["current_period_end"].get<std::string>().back() == 'Z');
  CHECK(sub["scheduled_change"].is_null());

  auto plans = json(api.call("GET", "/v1/accounts/acct_oskar/plans", kKey))["plans"];
  REQUIRE(plans.size() >= 2);
  int current = 0;
  for (const auto& p : plans) {
    if (p["current"] == true) {
      ++current;
      CHECK(p["product_id"] == "prod_JUkYgYXxzlJdfr");
    }
    CHECK(p["prices"].size() >= 1);
  }
  CHECK(current == 1);
  CHECK(plans[0]["name"] == "Starter");  // cheapest monthly first

  // Entitlements follow product metadata (features, limit_<name>) of the plan.
  pg::Connection db(api.url);
  db.exec("UPDATE products SET raw = jsonb_set(raw, '{metadata}', raw -> 'metadata' || "
          "'{\"features\": \"api, sso\", \"limit_seats\": \"10\", \"limit_bad\": \"ten\"}') WHERE id = 'prod_JUkYgYXxzlJdfr'");
  auto e = json(api.call("GET", "/v1/accounts/acct_oskar/entitlements", kKey));
  CHECK(e["active"] == true);
  CHECK(e["features"] == nlohmann::json::array({"api", "sso"}));
  CHECK(e["limits"] == nlohmann::json{{"seats", 10}});
  auto other = json(api.call("GET", "/v1/accounts/acct_other/entitlements", kKey));
  CHECK(other["active"] == false);  // that subscription was canceled after failed payments
  CHECK(other["features"].empty());

  auto page1 = json(api.call("GET", "/v1/accounts/acct_oskar/invoices?limit=2", kKey));
  REQUIRE(page1["data"].size() == 2);
  CHECK(page1["has_more"] == true);
  CHECK(page1["data"][0]["created"] >= page1["data"][1]["created"]);
  CHECK(page1["data"][0]["hosted_invoice_url"].get<std::string>().rfind("https://invoice.stripe.com/", 0) == 0);
  auto last = page1["data"][1]["id"].get<std::string>();
  auto page2 = json(api.call("GET", "/v1/accounts/acct_oskar/invoices?limit=2&starting_after=" + last, kKey));
  CHECK(page2["data"].size() == 1);
  CHECK(page2["has_more"] == false);
  CHECK(page2["data"][0]["total"] == 900);
  CHECK(page2["data"][0]["currency"] == "usd");
}

TEST_CASE("accounts are created once, adopted, found again, and never shared", "[integration][postgres][api]") {
  Api api;
  auto first = api.call("POST", "/v1/accounts", kKey, R"({"account_id":"acct_new","email":"new@example.com"})");
  REQUIRE(first.status == 200);
  auto customer = json(first)["customer_id"].get<std::string>();
  CHECK(json(first)["created"] == true);
  pg::Connection db(api.url);
  CHECK(scalar(db, "SELECT email || ' ' || (metadata ->> 'account_id') FROM customers WHERE id = $1", {customer}) ==
        "new@example.com acct_new");  // synced at once, no webhook needed
  auto again = api.call("POST", "/v1/accounts", kKey, R"({"account_id":"acct_new"})");
  CHECK(json(again)["customer_id"] == customer);
  CHECK(json(again)["created"] == false);
  CHECK(api.fake.count("/v1/customers") == 2);  // one search, one create: the second call never reached Stripe
  auto posts = 0;
  for (const auto& r : api.fake.requests()) {
    if (r.method == "POST") {
      ++posts;
      CHECK(r.headers.at("Idempotency-Key") == "account:acct_new:create-customer");
    }
  }
  CHECK(posts == 1);

  // A customer made for the account earlier (mapping lost) is found by metadata, not created twice.
  api.fake.put({{"id", "cus_earlier"}, {"object", "customer"}, {"created", 1780000000}, {"livemode", false},
                {"metadata", {{"account_id", "acct_found"}}}});
  auto found = api.call("POST", "/v1/accounts", kKey, R"({"account_id":"acct_found"})");
  CHECK(json(found)["customer_id"] == "cus_earlier");

  // Adopt an existing customer; one already billing another account can't be adopted.
  api.fake.put({{"id", "cus_adopt"}, {"object", "customer"}, {"created", 1780000000}, {"livemode", false},
                {"metadata", nlohmann::json::object()}});
  CHECK(json(api.call("POST", "/v1/accounts", kKey, R"({"account_id":"acct_adopt","customer_id":"cus_adopt"})"))["customer_id"] ==
        "cus_adopt");
  checkError(api.call("POST", "/v1/accounts", kKey, R"({"account_id":"acct_thief","customer_id":"cus_adopt"})"), 409,
             "customer_taken");
  checkError(api.call("POST", "/v1/accounts", kKey, R"({"account_id":"acct_adopt","customer_id":"cus_other"})"), 409,
             "account_exists");
  checkError(api.call("POST", "/v1/accounts", kKey, R"({"account_id":"acct_ghost","customer_id":"cus_nope"})"), 404,
             "resource_missing");
  CHECK(scalar(db, "SELECT count(*) FROM accounts WHERE account_id IN ('acct_thief', 'acct_ghost')") == "0");
}

TEST_CASE("bad input gets a clear error for every endpoint", "[integration][postgres][api]") {
  Api api;
  struct Case {
    std::string name, method, path, body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"unknown path", "GET", "/v1/nothing", "", 404, "not_found"},
      {"wrong method", "GET", "/v1/accounts", "", 405, "method_not_allowed"},
      {"wrong method on a read", "POST", "/v1/accounts/acct_oskar/plans", "{}", 405, "method_not_allowed"},
      {"not JSON", "POST", "/v1/accounts", "{nope", 400, "invalid_json"},
      {"JSON but not an object", "POST", "/v1/tokens", "[1]", 400, "invalid_json"},
      {"missing account_id", "POST", "/v1/accounts", "{}", 400, "parameter_missing"},
      {"account_id not a string", "POST", "/v1/accounts", R"({"account_id":42})", 400, "parameter_invalid"},
      {"account_id with spaces", "POST", "/v1/accounts", R"({"account_id":"a b"})", 400, "invalid_account_id"},
      {"customer_id not a customer", "POST", "/v1/accounts", R"({"account_id":"a","customer_id":"sub_1"})", 400, "parameter_invalid"},
      // Before: null was taken as left out, though openapi.yaml declares a string.
      {"customer_id null", "POST", "/v1/accounts", R"({"account_id":"a","customer_id":null})", 400, "parameter_invalid"},
      {"email null", "POST", "/v1/accounts", R"({"account_id":"a","email":null})", 400, "parameter_invalid"},
      {"unknown field on a change", "POST", "/v1/accounts/acct_oskar/subscription/change", R"({"preview_token":"x","extra":1})", 400, "parameter_unknown"},
      {"token without account", "POST", "/v1/tokens", "{}", 400, "parameter_missing"},
      {"token ttl too short", "POST", "/v1/tokens", R"({"account_id":"a","ttl_seconds":5})", 400, "parameter_invalid"},
      {"token ttl too long", "POST", "/v1/tokens", R"({"account_id":"a","ttl_seconds":999999})", 400, "parameter_invalid"},
      {"token ttl not a number", "POST", "/v1/tokens", R"({"account_id":"a","ttl_seconds":"60"})", 400, "parameter_invalid"},
      {"unknown account", "GET", "/v1/accounts/acct_nobody/subscription", "", 404, "account_not_found"},
      {"limit zero", "GET", "/v1/accounts/acct_oskar/invoices?limit=0", "", 400, "parameter_invalid"},
      {"limit not a number", "GET", "/v1/accounts/acct_oskar/invoices?limit=ten", "", 400, "parameter_invalid"},
      {"limit too large", "GET", "/v1/accounts/acct_oskar/invoices?limit=101", "", 400, "parameter_invalid"},
      {"starting_after of another account", "GET",
       "/v1/accounts/acct_oskar/invoices?starting_after=in_1wzw3XbRqfAWGcrTltM4u27o", "", 400, "parameter_invalid"},
      {"oversize body", "POST", "/v1/accounts", "{\"account_id\":\"" + std::string(70000, 'a') + "\"}", 413, "body_too_large"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    checkError(api.call(c.method, c.path, kKey, c.body), c.status, c.code);
  }
  auto doc = api.call("GET", "/openapi.yaml", "");
  CHECK(doc.status == 200);
  for (const auto* path : {"/v1/accounts:", "/v1/tokens:", "/v1/accounts/{account_id}/plans:",
                           "/v1/accounts/{account_id}/subscription:", "/v1/accounts/{account_id}/entitlements:",
                           "/v1/accounts/{account_id}/invoices:", "/v1/accounts/{account_id}/subscription/preview:",
                           "/v1/accounts/{account_id}/subscription/change:", "/v1/accounts/{account_id}/subscription/cancel:",
                           "/v1/accounts/{account_id}/subscription/resume:",
                           "/v1/accounts/{account_id}/subscription/cancel_scheduled_change:",
                           "/v1/accounts/{account_id}/portal_session:", "/v1/accounts/{account_id}/checkout_session:", "/v1/usage:",
                           "/v1/accounts/{account_id}/usage:"}) {
    INFO(path);
    CHECK(doc.body.find(std::string("  ") + path) != std::string::npos);  // every route is documented
  }
  CHECK(api.call("GET", "/healthz", "").status == 200);
}

namespace {

const std::string kProYearly = "price_1wTq6rbRqfAWGcrTURTk7iaw";
const std::string kStarterMonthly = "price_1wTq5BbRqfAWGcrTcsKnO8rM";
const std::string kSubscription = "sub_1wUn1obRqfAWGcrTHprb3vKb";

// Moves Oskar's subscription into a current period around now (the samples are from June), in our tables and in the
// fake, and gives the fake the catalog.
void currentPeriod(Api& api) {
  pg::Connection db(api.url);
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto sub = nlohmann::json::parse(scalar(db, "SELECT raw::text FROM subscriptions WHERE id = $1", {kSubscription}));
  sub["items"]["data"][0]["current_period_start"] = now - 10 * 86400;
  sub["items"]["data"][0]["current_period_end"] = now + 20 * 86400;
  testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", now - 60, sub)});
  api.fake.put(sub);
  for (const char* table : {"prices", "products", "customers"}) {
    for (const auto& row : db.query(std::string("SELECT raw::text FROM ") + table)) api.fake.put(nlohmann::json::parse(*row[0]));
  }
}

}  // namespace

TEST_CASE("preview then upgrade charges exactly the preview, and a retry changes nothing", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  auto token = api.tokenFor(kOskar);  // the browser drives it
  auto preview = api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", token,
                          nlohmann::json{{"price_id", kProYearly}}.dump());
  REQUIRE(preview.status == 200);
  auto p = json(preview);
  CHECK(p["kind"] == "upgrade");
  CHECK(p["proration_credit"].get<long long>() > 0);
  // Monthly to annual: a new year starts now, billed in full (not a proration), less the unused month.
  CHECK(p["proration_charge"] == 0);
  CHECK(p["new_period_charge"] == p["to"]["amount"]);
  CHECK(p["amount_due_now"] == p["new_period_charge"].get<long long>() - p["proration_credit"].get<long long>());
  checkPartsAddUp(p);
  CHECK(p["currency"] == "usd");

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the clock moves; the proration date doesn't
  auto change = api.call("POST", "/v1/accounts/acct_oskar/subscription/change", token,
                         nlohmann::json{{"preview_token", p["preview_token"]}}.dump());
  REQUIRE(change.status == 200);
  auto sub = json(change)["subscription"];
  CHECK(sub["items"][0]["price_id"] == kProYearly);  // synced at once: the next read shows it
  auto stripe_sub = api.fake.object("subscription", kSubscription);
  auto invoice = api.fake.object("invoice", stripe_sub["latest_invoice"]);
  CHECK(invoice["amount_due"] == p["amount_due_now"]);  // charged exactly the preview
  CHECK(json(api.call("GET", "/v1/accounts/acct_oskar/subscription", kKey))["subscription"]["items"][0]["price_id"] == kProYearly);

  // The same request again (its answer lost): success, no second charge.
  auto again = api.call("POST", "/v1/accounts/acct_oskar/subscription/change", token,
                        nlohmann::json{{"preview_token", p["preview_token"]}}.dump());
  CHECK(again.status == 200);
  int updates = 0;
  for (const auto& r : api.fake.requests()) {
    if (r.method == "POST" && r.uri == "/v1/subscriptions/" + kSubscription) {
      ++updates;
      CHECK(r.body.find("payment_behavior=pending_if_incomplete") != std::string::npos);
      CHECK(r.body.find("proration_date=" + std::to_string(
                            common::parseIso8601Utc(p["proration_date"].get<std::string>()).value())) != std::string::npos);
    }
  }
  CHECK(updates == 1);
}

TEST_CASE("a declined upgrade is not applied: it waits for its payment, with the invoice to pay", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  api.fake.declineCustomer("cus_wiBCVtOp32cN8d");
  auto p = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                         nlohmann::json{{"price_id", kProYearly}}.dump()));
  auto change = api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                         nlohmann::json{{"preview_token", p["preview_token"]}}.dump());
  REQUIRE(change.status == 200);
  auto answer = json(change);
  CHECK(answer["outcome"] == "payment_required");
  CHECK(answer["payment"]["hosted_invoice_url"].get<std::string>().rfind("https://invoice.stripe.com/", 0) == 0);
  CHECK(answer["payment"]["client_secret"].is_string());
  CHECK(answer["payment"]["amount_due"] == p["amount_due_now"]);
  CHECK(answer["payment"]["expires_at"].is_string());
  // Not applied, here or at Stripe; the read shows what waits.
  pg::Connection db(api.url);
  CHECK(scalar(db, "SELECT price_id FROM subscription_items WHERE subscription_id = $1", {kSubscription}) ==
        "price_1wTq6ibRqfAWGcrTGiWUa6mg");
  CHECK(api.fake.object("subscription", kSubscription)["items"]["data"][0]["price"]["id"] == "price_1wTq6ibRqfAWGcrTGiWUa6mg");
  auto pending = answer["subscription"]["pending_change"];
  CHECK(pending["price_id"] == kProYearly);
  CHECK(pending["invoice_id"] == answer["payment"]["invoice_id"]);
  // Confirming again answers the same, without a second update; another change waits for this one.
  auto again = api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                        nlohmann::json{{"preview_token", p["preview_token"]}}.dump());
  REQUIRE(again.status == 200);
  CHECK(json(again)["payment"]["invoice_id"] == answer["payment"]["invoice_id"]);
  CHECK(postsTo(api, "/v1/subscriptions/" + kSubscription) == 1);
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                      nlohmann::json{{"price_id", kProYearly}, {"quantity", 2}}.dump()),
             409, "payment_pending");
}

TEST_CASE("cancel at period end and undo, downgrades and bad changes are refused clearly", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  auto cancel = api.call("POST", "/v1/accounts/acct_oskar/subscription/cancel", kKey, "{}");
  REQUIRE(cancel.status == 200);
  CHECK(json(cancel)["subscription"]["cancel_at_period_end"] == true);
  CHECK(json(cancel)["subscription"]["cancel_at"].is_string());
  auto resume = api.call("POST", "/v1/accounts/acct_oskar/subscription/resume", kKey, "{}");
  CHECK(json(resume)["subscription"]["cancel_at_period_end"] == false);

  auto down = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                            nlohmann::json{{"price_id", kStarterMonthly}}.dump()));
  CHECK(down["kind"] == "downgrade");
  CHECK(down["amount_due_now"] == 0);
  CHECK(down["effective_at"] == down["period_end"]);

  auto oskar = api.tokenFor(kOskar);
  auto up = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                          nlohmann::json{{"price_id", kProYearly}}.dump()));
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  api::Authenticator signer({}, kSecret);
  auto expired = signer.mintToken("preview", {{"sub", kOskar}}, now - 3600, 60);
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                      nlohmann::json{{"preview_token", expired}}.dump()), 400, "preview_invalid");
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                      nlohmann::json{{"preview_token", oskar}}.dump()), 400, "preview_invalid");  // an account token
  checkError(api.call("POST", "/v1/accounts/acct_other/subscription/change", kKey,
                      nlohmann::json{{"preview_token", up["preview_token"]}}.dump()), 403, "account_forbidden");
  checkError(api.call("POST", "/v1/accounts/acct_other/subscription/preview", oskar,
                      nlohmann::json{{"price_id", kProYearly}}.dump()), 403, "account_forbidden");
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey, R"({"price_id":"price_nope"})"), 400,
             "price_not_found");
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                      nlohmann::json{{"price_id", kProYearly}, {"quantity", 0}}.dump()), 400, "parameter_invalid");
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                      nlohmann::json{{"price_id", "price_1wTq6ibRqfAWGcrTGiWUa6mg"}}.dump()), 400, "no_change");
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey, "{}"), 400, "parameter_missing");
  checkError(api.call("GET", "/v1/accounts/acct_oskar/subscription/preview", kKey), 405, "method_not_allowed");
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/cancel_scheduled_change", kKey, "{}"), 409,
             "no_scheduled_change");
}

TEST_CASE("a downgrade is scheduled for the period end, visible, and can be cancelled", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  auto down = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                            nlohmann::json{{"price_id", kStarterMonthly}}.dump()));
  REQUIRE(down["kind"] == "downgrade");
  auto change = api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                         nlohmann::json{{"preview_token", down["preview_token"]}}.dump());
  REQUIRE(change.status == 200);
  auto sub = json(change)["subscription"];
  CHECK(sub["items"][0]["price_id"] == "price_1wTq6ibRqfAWGcrTGiWUa6mg");  // still Pro until the period ends
  REQUIRE(sub["scheduled_change"].is_object());
  CHECK(sub["scheduled_change"]["price_id"] == kStarterMonthly);
  CHECK(sub["scheduled_change"]["product_name"] == "Starter");
  CHECK(sub["scheduled_change"]["effective_at"] == down["period_end"]);
  // No charge for a downgrade: the only Stripe writes were the schedule's (and the preview of the next invoice).
  for (const auto& r : api.fake.requests()) {
    if (r.method == "POST" && r.uri != "/v1/invoices/create_preview") CHECK(r.uri.rfind("/v1/subscription_schedules", 0) == 0);
  }
  checkPartsAddUp(down);
  CHECK(down["next_invoice_total"] == down["to"]["amount"]);  // the renewal at Starter's price
  auto undo = api.call("POST", "/v1/accounts/acct_oskar/subscription/cancel_scheduled_change", kKey, "{}");
  REQUIRE(undo.status == 200);
  CHECK(json(undo)["subscription"]["scheduled_change"].is_null());
  CHECK(json(api.call("GET", "/v1/accounts/acct_oskar/subscription", kKey))["subscription"]["scheduled_change"].is_null());
}

TEST_CASE("seat changes and interval switches: more now, fewer and shorter at the period end", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  const std::string pro_monthly = "price_1wTq6ibRqfAWGcrTGiWUa6mg";
  auto preview = [&](const std::string& price, std::int64_t quantity) {
    auto reply = api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                          nlohmann::json{{"price_id", price}, {"quantity", quantity}}.dump());
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    return json(reply);
  };
  auto change = [&](const nlohmann::json& p) {
    return api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                    nlohmann::json{{"preview_token", p["preview_token"]}}.dump());
  };
  auto charged = [&] {
    return api.fake.object("invoice", api.fake.object("subscription", kSubscription)["latest_invoice"])["amount_due"];
  };

  // More seats on the same price: now, prorated, charged exactly the preview.
  auto more = preview(pro_monthly, 3);
  CHECK(more["kind"] == "upgrade");
  CHECK(more["next_invoice_total"] == 3 * more["to"]["unit_amount"].get<long long>());
  CHECK(more["amount_due_now"].get<long long>() > 0);
  CHECK(more["new_period_charge"] == 0);  // same interval: the rest of the period, prorated
  checkPartsAddUp(more);
  auto applied = change(more);
  REQUIRE(applied.status == 200);
  CHECK(json(applied)["subscription"]["items"][0]["quantity"] == 3);
  CHECK(charged() == more["amount_due_now"]);

  // Fewer seats: at the period end, nothing charged now, visible as the scheduled change.
  auto fewer = preview(pro_monthly, 2);
  CHECK(fewer["kind"] == "downgrade");
  CHECK(fewer["amount_due_now"] == 0);
  auto scheduled = change(fewer);
  REQUIRE(scheduled.status == 200);
  auto sub = json(scheduled)["subscription"];
  CHECK(sub["items"][0]["quantity"] == 3);
  CHECK(sub["scheduled_change"]["quantity"] == 2);
  CHECK(sub["scheduled_change"]["price_id"] == pro_monthly);
  CHECK(sub["scheduled_change"]["effective_at"] == fewer["period_end"]);

  // An upgrade while a change is scheduled is refused until the scheduled one is dropped.
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                      nlohmann::json{{"price_id", kProYearly}, {"quantity", 3}}.dump()), 409, "scheduled_change_pending");
  REQUIRE(api.call("POST", "/v1/accounts/acct_oskar/subscription/cancel_scheduled_change", kKey, "{}").status == 200);

  // Monthly to annual: now; the new year is charged in full less the unused month, and starts now.
  auto annual = preview(kProYearly, 3);
  CHECK(annual["kind"] == "upgrade");
  CHECK(annual["new_period_charge"] == 3 * annual["to"]["unit_amount"].get<long long>());
  CHECK(annual["proration_charge"] == 0);
  checkPartsAddUp(annual);
  REQUIRE(change(annual).status == 200);
  CHECK(charged() == annual["amount_due_now"]);
  sub = json(api.call("GET", "/v1/accounts/acct_oskar/subscription", kKey))["subscription"];
  CHECK(sub["items"][0]["price_id"] == kProYearly);
  CHECK(sub["items"][0]["interval"] == "year");
  CHECK(sub["items"][0]["current_period_start"] == annual["proration_date"]);

  // Annual back to monthly, even at a higher price per year: at the end of the year already paid for.
  auto monthly = preview(pro_monthly, 3);
  CHECK(monthly["kind"] == "downgrade");
  CHECK(monthly["amount_due_now"] == 0);
  CHECK(monthly["effective_at"] == sub["items"][0]["current_period_end"]);
  REQUIRE(change(monthly).status == 200);
  sub = json(api.call("GET", "/v1/accounts/acct_oskar/subscription", kKey))["subscription"];
  CHECK(sub["items"][0]["price_id"] == kProYearly);
  CHECK(sub["scheduled_change"]["price_id"] == pro_monthly);
  CHECK(sub["scheduled_change"]["interval"] == "month");
  CHECK(sub["scheduled_change"]["effective_at"] == sub["items"][0]["current_period_end"]);
}

// Every request the API sent to the fake in its flows (account creation and search, preview, upgrade, cancel, undo,
// downgrade schedule and its release)
// is sent again, byte for byte, to Stripe's stripe-mock, which validates it against Stripe's OpenAPI spec.
TEST_CASE("every request the API sends to the Stripe fake is valid for stripe-mock", "[integration][postgres][api][stripe-mock]") {
  Api api;
  currentPeriod(api);
  REQUIRE(api.call("POST", "/v1/accounts", kKey, R"({"account_id":"acct_conf","email":"c@example.com","name":"C"})").status == 200);
  REQUIRE(api.call("POST", "/v1/accounts/acct_conf/checkout_session", kKey,
                   R"({"price_id":")" + kStarterMonthly + R"(","success_url":"https://app.example.com/a","cancel_url":"https://app.example.com/b","trial_days":7,"allow_promotion_codes":true})").status == 200);
  api.fake.put({{"id", "cus_adopted"}, {"object", "customer"}, {"created", 1780000000}, {"livemode", false}});
  REQUIRE(api.call("POST", "/v1/accounts", kKey, R"({"account_id":"acct_adopted","customer_id":"cus_adopted"})").status == 200);
  auto p = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                         nlohmann::json{{"price_id", kProYearly}, {"quantity", 2}}.dump()));
  REQUIRE(api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                   nlohmann::json{{"preview_token", p["preview_token"]}}.dump()).status == 200);
  REQUIRE(api.call("POST", "/v1/accounts/acct_oskar/subscription/cancel", kKey, "{}").status == 200);
  REQUIRE(api.call("POST", "/v1/accounts/acct_oskar/subscription/resume", kKey, "{}").status == 200);
  auto down = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                            nlohmann::json{{"price_id", kStarterMonthly}}.dump()));
  REQUIRE(api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                   nlohmann::json{{"preview_token", down["preview_token"]}}.dump()).status == 200);
  REQUIRE(api.call("POST", "/v1/accounts/acct_oskar/subscription/cancel_scheduled_change", kKey, "{}").status == 200);
  // Sessions use the configuration `billing configure-portal` manages (Stripe's default, the Dashboard's, need not
  // allow plan switching: the fake's doesn't).
  api::configurePortal(*api.stripe, nlohmann::json::parse(testing::readFile(std::string(BILLING_SOURCE_DIR) + "/api/portal.example.json")));
  for (const auto* flow : {"null", "\"payment_method_update\"", "\"subscription_cancel\"", "\"subscription_update\""}) {
    REQUIRE(api.call("POST", "/v1/accounts/acct_oskar/portal_session", kKey,
                     std::string(R"({"return_url":"https://app.example.com/billing","flow":)") + flow + "}").status == 200);
  }
  REQUIRE(api.call("POST", "/v1/accounts/acct_oskar/portal_session", kKey,
                   R"({"return_url":"https://app.example.com/billing","flow":"subscription_update_confirm","price_id":")" +
                       kStarterMonthly + R"(","quantity":3})").status == 200);

  testing::StripeMock mock;
  auto requests = api.fake.requests();
  CHECK(requests.size() >= 7);
  for (const auto& r : requests) {
    INFO(r.method << " " << r.uri << " " << r.body);
    auto [status, answer] = mock.replay(r);
    INFO(answer);
    CHECK(status / 100 == 2);
    if (r.method == "POST") CHECK(r.headers.count("Idempotency-Key") == 1);
  }
}

TEST_CASE("cached reads follow what the workers write, within moments", "[integration][postgres][api]") {
  Api api;
  auto read = [&] { return json(api.call("GET", "/v1/accounts/acct_oskar/subscription", kKey))["subscription"]; };
  CHECK(read()["cancel_at_period_end"] == false);
  CHECK(read()["cancel_at_period_end"] == false);  // a hit now
  // The worker applies an event (another connection, as another process would).
  pg::Connection worker(api.url);
  auto sub = nlohmann::json::parse(scalar(worker, "SELECT raw::text FROM subscriptions WHERE id = $1", {kSubscription}));
  sub["cancel_at_period_end"] = true;
  testing::applyPayloads(worker, {testing::makeEvent("customer.subscription.updated", 1790000000, sub)});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (read()["cancel_at_period_end"] != true && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(read()["cancel_at_period_end"] == true);
  auto metrics = api.call("GET", "/metrics", "").body;
  CHECK(metrics.find("billing_api_cache_lookups_total{result=\"hit\"}") != std::string::npos);
}

TEST_CASE("Customer Portal sessions return only to allowed origins", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  auto token = api.tokenFor(kOskar);
  auto ok = api.call("POST", "/v1/accounts/acct_oskar/portal_session", token,
                     R"({"return_url":"https://app.example.com/settings/billing?tab=plan"})");
  REQUIRE(ok.status == 200);
  CHECK(json(ok)["url"].get<std::string>().rfind("https://billing.stripe.com/", 0) == 0);
  CHECK(api.fake.requests().back().body.find("customer=cus_wiBCVtOp32cN8d") != std::string::npos);
  CHECK(api.call("POST", "/v1/accounts/acct_oskar/portal_session", token,
                 R"({"return_url":"http://localhost:3000/billing"})").status == 200);

  auto cancel = api.call("POST", "/v1/accounts/acct_oskar/portal_session", token,
                         R"({"return_url":"https://app.example.com/","flow":"subscription_cancel"})");
  REQUIRE(cancel.status == 200);
  CHECK(api.fake.requests().back().body.find("flow_data%5Bsubscription_cancel%5D%5Bsubscription%5D=" + kSubscription) !=
        std::string::npos);

  for (const auto* url : {"https://evil.example.com/billing", "https://app.example.com.evil.com/", "http://app.example.com/",
                          "https://app.example.com:8443/", "javascript:alert(1)", "/relative", "https://user@app.example.com/"}) {
    INFO(url);
    checkError(api.call("POST", "/v1/accounts/acct_oskar/portal_session", token,
                        nlohmann::json{{"return_url", url}}.dump()), 400, "return_url_not_allowed");
  }
  checkError(api.call("POST", "/v1/accounts/acct_oskar/portal_session", token, "{}"), 400, "parameter_missing");
  checkError(api.call("POST", "/v1/accounts/acct_oskar/portal_session", token,
                      R"({"return_url":"https://app.example.com/","flow":"delete_everything"})"), 400, "parameter_invalid");
  checkError(api.call("POST", "/v1/accounts/acct_oskar/portal_session", token,
                      R"({"return_url":"https://app.example.com/","flow":"subscription_update_confirm"})"), 400, "parameter_missing");
  checkError(api.call("POST", "/v1/accounts/acct_other/portal_session", token,
                      R"({"return_url":"https://app.example.com/"})"), 403, "account_forbidden");
  checkError(api.call("POST", "/v1/accounts/acct_other/portal_session", kKey,
                      R"({"return_url":"https://app.example.com/","flow":"subscription_cancel"})"), 404, "no_subscription");
}

TEST_CASE("configure-portal creates the configuration once and then updates it", "[integration][api][stripe-mock]") {
  testing::FakeStripe fake;
  stripe::StripeClientConfig c;
  c.api_key = "sk_test_fake";
  c.base_url = fake.baseUrl();
  c.retry.max_retries = 0;
  stripe::StripeClient client(c);
  auto document = nlohmann::json::parse(testing::readFile(std::string(BILLING_SOURCE_DIR) + "/api/portal.example.json"));
  fake.put({{"id", "bpc_someone_elses"}, {"object", "billing_portal.configuration"}, {"created", 1}, {"metadata", nlohmann::json::object()}});

  auto first = api::configurePortal(client, document);
  CHECK(first.action == "created");
  document["business_profile"]["headline"] = "Changed headline";
  auto second = api::configurePortal(client, document);
  CHECK(second.action == "updated");
  CHECK(second.id == first.id);
  auto stored = fake.object("billing_portal.configuration", first.id);
  CHECK(stored["business_profile"]["headline"] == "Changed headline");
  CHECK(stored["metadata"]["managed_by"] == "stripe-billing");
  CHECK(stored["features"]["subscription_cancel"]["mode"] == "at_period_end");
  CHECK(fake.object("billing_portal.configuration", "bpc_someone_elses")["metadata"].empty());  // not ours: untouched

  CHECK_THROWS_AS(api::configurePortal(client, nlohmann::json::array()), std::invalid_argument);
  CHECK_THROWS_AS(api::configurePortal(client, {{"features", nlohmann::json::object()}, {"colour", "red"}}), std::invalid_argument);
  CHECK_THROWS_AS(api::configurePortal(client, {{"business_profile", nlohmann::json::object()}}), std::invalid_argument);

  // The same requests are valid for Stripe's spec.
  testing::StripeMock mock;
  for (const auto& r : fake.requests()) {
    INFO(r.method << " " << r.uri << " " << r.body);
    auto [status, answer] = mock.replay(r, r.uri == "/v1/billing_portal/configurations/" + first.id
                                                ? "/v1/billing_portal/configurations/bpc_123" : r.uri);
    INFO(answer);
    CHECK(status / 100 == 2);
  }
}

namespace {

// Gives Oskar's subscription a metered item next to the plan item (a usage product, not a plan), in Stripe and here.
std::string addMeteredItem(Api& api) {
  pg::Connection db(api.url);
  auto price = nlohmann::json::parse(scalar(db, "SELECT raw::text FROM prices WHERE id = $1", {kStarterMonthly}));
  price["id"] = "price_api_calls";
  price["product"] = "prod_api_calls";
  price["unit_amount"] = 2;
  price["recurring"]["usage_type"] = "metered";
  price["recurring"]["meter"] = "mtr_api_calls";
  auto product = nlohmann::json::parse(scalar(db, "SELECT raw::text FROM products LIMIT 1"));
  product["id"] = "prod_api_calls";
  product["name"] = "API calls";
  product["metadata"] = {{"meter_event_name", "api_calls"}};
  auto sub = nlohmann::json::parse(scalar(db, "SELECT raw::text FROM subscriptions WHERE id = $1", {kSubscription}));
  auto item = sub["items"]["data"][0];
  item["id"] = "si_api_calls";
  item["price"] = price;
  item.erase("quantity");
  sub["items"]["data"].push_back(item);
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  testing::applyPayloads(db, {testing::makeEvent("product.created", now - 50, product),
                              testing::makeEvent("price.created", now - 50, price),
                              testing::makeEvent("customer.subscription.updated", now - 50, sub)});
  api.fake.put(product);
  api.fake.put(price);
  api.fake.put(sub);
  return "si_api_calls";
}

std::vector<std::string> pricesOf(const nlohmann::json& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i["price"].is_object() ? i["price"]["id"].get<std::string>() : i["price"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("a plan change of a plan + metered subscription moves the plan item and keeps the metered one", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  auto metered = addMeteredItem(api);
  auto read = json(api.call("GET", "/v1/accounts/acct_oskar/subscription", kKey))["subscription"];
  REQUIRE(read["items"].size() == 2);
  CHECK(read["items"][0]["role"] == "plan");
  CHECK(read["items"][1]["role"] == "metered");
  // Upgrade: only the plan item is sent; Stripe keeps the metered item, so usage stays billed.
  auto up = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                          nlohmann::json{{"price_id", kProYearly}}.dump()));
  REQUIRE(api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                   nlohmann::json{{"preview_token", up["preview_token"]}}.dump()).status == 200);
  auto at_stripe = api.fake.object("subscription", kSubscription)["items"]["data"];
  CHECK(pricesOf(at_stripe) == std::vector<std::string>{kProYearly, "price_api_calls"});
  CHECK(at_stripe[1]["id"] == metered);
  // Downgrade: both phases carry the metered item.
  auto down = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                            nlohmann::json{{"price_id", kStarterMonthly}}.dump()));
  REQUIRE(down["kind"] == "downgrade");
  auto change = api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                         nlohmann::json{{"preview_token", down["preview_token"]}}.dump());
  REQUIRE(change.status == 200);
  auto schedule = api.fake.object("subscription_schedule", api.fake.object("subscription", kSubscription)["schedule"]);
  REQUIRE(schedule["phases"].size() == 2);
  CHECK(pricesOf(schedule["phases"][0]["items"]) == std::vector<std::string>{kProYearly, "price_api_calls"});
  CHECK(pricesOf(schedule["phases"][1]["items"]) == std::vector<std::string>{kStarterMonthly, "price_api_calls"});
  CHECK(json(change)["subscription"]["scheduled_change"]["price_id"] == kStarterMonthly);
  CHECK(pricesOf(api.fake.object("subscription", kSubscription)["items"]["data"]) ==
        std::vector<std::string>{kProYearly, "price_api_calls"});  // nothing changed now
}

TEST_CASE("a downgrade during a trial keeps the trial, the discount and the payment settings", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  // A trialing subscription with a 50% coupon, made at the fake as Stripe makes it.
  stripe::StripeClient stripe(api.config.stripe);
  auto coupon = stripe.post("/v1/coupons", {{"percent_off", 50}, {"duration", "forever"}}, "t:coupon");
  auto created = stripe.postWithTime("/v1/subscriptions",
                                     {{"customer", "cus_wiBCVtOp32cN8d"},
                                      {"items", {{{"price", kProYearly}}}},
                                      {"trial_period_days", 14},
                                      {"default_payment_method", "pm_trial"},
                                      {"discounts", {{{"coupon", coupon["id"]}}}}},
                                     "t:subscription");
  pg::Connection db(api.url);
  db.exec("DELETE FROM subscriptions");
  sync::writeAnswers(db, {{sync::ObjectKind::Subscription, &created}});
  const std::string id = created.body["id"];
  auto down = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                            nlohmann::json{{"price_id", kStarterMonthly}}.dump()));
  REQUIRE(down["kind"] == "downgrade");
  REQUIRE(api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                   nlohmann::json{{"preview_token", down["preview_token"]}}.dump()).status == 200);
  auto at_stripe = api.fake.object("subscription", id);
  CHECK(at_stripe["status"] == "trialing");
  CHECK(at_stripe["trial_end"] == created.body["trial_end"]);
  auto schedule = api.fake.object("subscription_schedule", at_stripe["schedule"]);
  const auto& current = schedule["phases"][0];
  CHECK(current["trial_end"] == created.body["trial_end"]);
  CHECK(current["discounts"][0]["coupon"] == coupon["id"]);
  CHECK(current["default_payment_method"] == "pm_trial");
  CHECK(schedule["phases"][1]["discounts"][0]["coupon"] == coupon["id"]);
  CHECK(schedule["phases"][1]["trial_end"].is_null());
  // Nothing was charged or prorated by the downgrade.
  CHECK(api.fake.object("invoice", at_stripe["latest_invoice"])["amount_due"] == 0);
}

TEST_CASE("a schedule made in the Dashboard is left alone, with a clear refusal", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  pg::Connection db(api.url);
  auto sub = nlohmann::json::parse(scalar(db, "SELECT raw::text FROM subscriptions WHERE id = $1", {kSubscription}));
  const auto& item = sub["items"]["data"][0];
  nlohmann::json contract = {{"id", "sub_sched_contract"}, {"object", "subscription_schedule"}, {"created", 1780000000},
                             {"livemode", false}, {"customer", sub["customer"]}, {"subscription", kSubscription},
                             {"status", "active"}, {"end_behavior", "cancel"}, {"metadata", {{"contract", "2027"}}},
                             {"current_phase", {{"start_date", item["current_period_start"]}, {"end_date", item["current_period_end"]}}},
                             {"phases", {{{"start_date", item["current_period_start"]}, {"end_date", item["current_period_end"]},
                                          {"items", {{{"price", item["price"]["id"]}, {"quantity", 1}}}}}}}};
  sub["schedule"] = "sub_sched_contract";
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  testing::applyPayloads(db, {testing::makeEvent("subscription_schedule.created", now - 40, contract),
                              testing::makeEvent("customer.subscription.updated", now - 40, sub)});
  api.fake.put(contract);
  api.fake.put(sub);
  auto down = api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                       nlohmann::json{{"price_id", kStarterMonthly}}.dump());
  checkError(down, 409, "schedule_not_ours");
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/cancel_scheduled_change", kKey, "{}"), 409, "schedule_not_ours");
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/cancel", kKey, "{}"), 409, "schedule_not_ours");
  CHECK(api.fake.object("subscription_schedule", "sub_sched_contract")["status"] == "active");
  CHECK(api.fake.object("subscription_schedule", "sub_sched_contract")["end_behavior"] == "cancel");
  for (const auto& r : api.fake.requests()) CHECK(r.method != "POST");  // nothing written at Stripe
}

TEST_CASE("once a downgrade has taken effect, upgrade and cancel work at once", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  pg::Connection db(api.url);
  auto sub = nlohmann::json::parse(scalar(db, "SELECT raw::text FROM subscriptions WHERE id = $1", {kSubscription}));
  const auto& item = sub["items"]["data"][0];
  std::int64_t start = item["current_period_start"], end = item["current_period_end"];
  // Our schedule, its last phase running: nothing is left to come.
  nlohmann::json ours = {{"id", "sub_sched_ours"}, {"object", "subscription_schedule"}, {"created", start - 86400 * 30},
                         {"livemode", false}, {"customer", sub["customer"]}, {"subscription", kSubscription},
                         {"status", "active"}, {"end_behavior", "release"}, {"metadata", {{"managed_by", "stripe-billing"}}},
                         {"current_phase", {{"start_date", start}, {"end_date", end}}},
                         {"phases", {{{"start_date", start - 86400 * 30}, {"end_date", start}, {"items", {{{"price", kProYearly}, {"quantity", 1}}}}},
                                     {{"start_date", start}, {"end_date", end}, {"items", {{{"price", item["price"]["id"]}, {"quantity", 1}}}}}}}};
  sub["schedule"] = "sub_sched_ours";
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  testing::applyPayloads(db, {testing::makeEvent("subscription_schedule.updated", now - 40, ours),
                              testing::makeEvent("customer.subscription.updated", now - 40, sub)});
  api.fake.put(ours);
  api.fake.put(sub);
  CHECK(json(api.call("GET", "/v1/accounts/acct_oskar/subscription", kKey))["subscription"]["scheduled_change"].is_null());
  auto up = api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey, nlohmann::json{{"price_id", kProYearly}}.dump());
  REQUIRE(up.status == 200);
  auto change = api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                         nlohmann::json{{"preview_token", json(up)["preview_token"]}}.dump());
  REQUIRE(change.status == 200);
  CHECK(api.fake.object("subscription_schedule", "sub_sched_ours")["status"] == "released");
  CHECK(api.fake.object("subscription", kSubscription)["items"]["data"][0]["price"]["id"] == kProYearly);
  REQUIRE(api.call("POST", "/v1/accounts/acct_oskar/subscription/cancel", kKey, "{}").status == 200);
  CHECK(api.fake.object("subscription", kSubscription)["cancel_at_period_end"] == true);
}

TEST_CASE("a renewal between preview and confirm is refused as stale, not charged differently", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  auto up = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey, nlohmann::json{{"price_id", kProYearly}}.dump()));
  REQUIRE(up["kind"] == "upgrade");
  // The subscription renews meanwhile: a new period and a new invoice, in Stripe and here.
  pg::Connection db(api.url);
  auto sub = nlohmann::json::parse(scalar(db, "SELECT raw::text FROM subscriptions WHERE id = $1", {kSubscription}));
  auto& item = sub["items"]["data"][0];
  item["current_period_start"] = item["current_period_end"];
  item["current_period_end"] = item["current_period_end"].get<std::int64_t>() + 30 * 86400;
  sub["latest_invoice"] = "in_renewal";
  auto renewed = testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", static_cast<std::int64_t>(std::time(nullptr)) - 5, sub)});
  REQUIRE(renewed[0] == sync::EventOutcome::Applied);
  INFO(scalar(db, "SELECT current_period_start::text FROM subscription_items WHERE subscription_id = $1", {kSubscription}));
  api.fake.put(sub);
  auto change = api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                         nlohmann::json{{"preview_token", up["preview_token"]}}.dump());
  checkError(change, 409, "preview_stale");
  CHECK(json(change)["error"]["message"].get<std::string>().find("billing period") != std::string::npos);
  for (const auto& r : api.fake.requests()) CHECK(r.uri.rfind("/v1/subscriptions/", 0) != 0);  // never sent
}

TEST_CASE("a preview shows the customer's credit balance applied, and a balance change since makes it stale", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  pg::Connection db(api.url);
  auto balanceIs = [&](std::int64_t balance, std::int64_t at, bool in_stripe) {
    auto customer = nlohmann::json::parse(scalar(db, "SELECT raw::text FROM customers WHERE id = $1", {"cus_wiBCVtOp32cN8d"}));
    customer["balance"] = balance;  // negative: credit (https://docs.stripe.com/billing/customer/balance)
    REQUIRE(testing::applyPayloads(db, {testing::makeEvent("customer.updated", at, customer)})[0] == sync::EventOutcome::Applied);
    if (in_stripe) api.fake.put(customer);
  };
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  balanceIs(-500, now - 30, true);
  auto up = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey,
                          nlohmann::json{{"price_id", kProYearly}}.dump()));
  REQUIRE(up["kind"] == "upgrade");
  checkPartsAddUp(up);
  // Before: amount_due_now had the credit applied, while the lines shown didn't say so.
  CHECK(up["balance_applied"] == -500);
  CHECK(up["amount_due_now"] == up["total"].get<long long>() - 500);
  // The credit is used elsewhere meanwhile: the change would charge more than shown.
  balanceIs(0, now - 5, false);
  auto change = api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                         nlohmann::json{{"preview_token", up["preview_token"]}}.dump());
  checkError(change, 409, "preview_stale");
  CHECK(json(change)["error"]["message"].get<std::string>().find("account balance") != std::string::npos);
  for (const auto& r : api.fake.requests()) CHECK(r.uri.rfind("/v1/subscriptions/", 0) != 0);  // never sent
}

TEST_CASE("two confirmations of one preview at once charge once", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  api.fake.setLatency(0);
  auto up = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey, nlohmann::json{{"price_id", kProYearly}}.dump()));
  std::vector<int> statuses(4);
  std::vector<std::string> codes(4);
  std::vector<std::thread> confirmations;
  for (int i = 0; i < 4; ++i) {
    confirmations.emplace_back([&, i] {
      auto reply = api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                            nlohmann::json{{"preview_token", up["preview_token"]}}.dump());
      statuses[i] = reply.status;
      auto body = nlohmann::json::parse(reply.body, nullptr, false);
      if (reply.status != 200) codes[i] = body["error"].value("code", "");
    });
  }
  for (auto& t : confirmations) t.join();
  int updates = 0;
  for (const auto& r : api.fake.requests()) {
    if (r.method == "POST" && r.uri == "/v1/subscriptions/" + kSubscription) ++updates;
  }
  CHECK(updates == 1);
  for (int i = 0; i < 4; ++i) {
    INFO("confirmation " << i << ": " << statuses[i] << " " << codes[i]);
    CHECK((statuses[i] == 200 || (statuses[i] == 409 && codes[i] == "change_in_progress")));
  }
  CHECK(api.fake.object("subscription", kSubscription)["items"]["data"][0]["price"]["id"] == kProYearly);
}

TEST_CASE("a card fixed after a decline succeeds on the next attempt, charged as previewed", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  api.fake.declineCustomer("cus_wiBCVtOp32cN8d");
  auto up = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey, nlohmann::json{{"price_id", kProYearly}}.dump()));
  auto first = json(api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                             nlohmann::json{{"preview_token", up["preview_token"]}}.dump()));
  REQUIRE(first["outcome"] == "payment_required");
  // The customer fixes the card and pays the invoice on Stripe's page: the change applies, charged as previewed.
  api.fake.approveCustomer("cus_wiBCVtOp32cN8d");
  const std::string invoice = first["payment"]["invoice_id"];
  REQUIRE(api.fake.completePayment(invoice));
  CHECK(api.fake.object("subscription", kSubscription)["items"]["data"][0]["price"]["id"] == kProYearly);
  CHECK(api.fake.object("invoice", invoice)["amount_paid"] == up["amount_due_now"]);
  syncFromFake(api);
  auto read = readOnce(api, "acct_oskar", [](const nlohmann::json& sub) { return sub["pending_change"].is_null(); });
  CHECK(read["items"][0]["price_id"] == kProYearly);
  CHECK(read["pending_change"].is_null());
  // The answer to the same confirmation is now the success.
  auto after = api.call("POST", "/v1/accounts/acct_oskar/subscription/change", kKey,
                        nlohmann::json{{"preview_token", up["preview_token"]}}.dump());
  CHECK(after.status == 200);
  CHECK(postsTo(api, "/v1/subscriptions/" + kSubscription) == 1);
}

TEST_CASE("a new account subscribes through Checkout and sees its plan, with the usage price next to it", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  addMeteredItem(api);
  REQUIRE(api.call("POST", "/v1/accounts", kKey, R"({"account_id":"acct_new","email":"n@example.com"})").status == 200);
  pg::Connection db(api.url);
  auto customer = scalar(db, "SELECT customer_id FROM accounts WHERE account_id = 'acct_new'");
  const std::string ok = R"({"price_id":")" + kStarterMonthly +
                         R"(","success_url":"https://app.example.com/billing?done=1","cancel_url":"https://app.example.com/billing","trial_days":14})";
  // Bad input first: every field checked, nothing sent to Stripe.
  auto before = api.fake.count("/v1/checkout/sessions");
  checkError(api.call("POST", "/v1/accounts/acct_new/checkout_session", kKey, R"({"success_url":"https://app.example.com/a","cancel_url":"https://app.example.com/b"})"), 400, "parameter_missing");
  checkError(api.call("POST", "/v1/accounts/acct_new/checkout_session", kKey,
                      R"({"price_id":")" + kStarterMonthly + R"(","success_url":"https://evil.example/x","cancel_url":"https://app.example.com/b"})"),
             400, "return_url_not_allowed");
  checkError(api.call("POST", "/v1/accounts/acct_new/checkout_session", kKey,
                      R"({"price_id":"price_nope","success_url":"https://app.example.com/a","cancel_url":"https://app.example.com/b"})"),
             400, "price_not_available");
  checkError(api.call("POST", "/v1/accounts/acct_new/checkout_session", kKey,
                      R"({"price_id":")" + kStarterMonthly + R"(","success_url":"https://app.example.com/a","cancel_url":"https://app.example.com/b","trial_days":0})"),
             400, "parameter_invalid");
  checkError(api.call("POST", "/v1/accounts/acct_new/checkout_session", kKey,
                      R"({"price_id":")" + kStarterMonthly + R"(","success_url":"https://app.example.com/a","cancel_url":"https://app.example.com/b","colour":1})"),
             400, "parameter_unknown");
  CHECK(api.fake.count("/v1/checkout/sessions") == before);
  // An account that already subscribes changes its plan instead.
  checkError(api.call("POST", "/v1/accounts/acct_oskar/checkout_session", kKey, ok), 409, "subscription_exists");

  auto session = api.call("POST", "/v1/accounts/acct_new/checkout_session", api.tokenFor("acct_new"), ok);
  REQUIRE(session.status == 200);
  CHECK(json(session)["url"].get<std::string>().rfind("https://checkout.stripe.com/", 0) == 0);
  auto request = api.fake.requests().back();
  CHECK(request.body.find("mode=subscription") != std::string::npos);
  CHECK(request.body.find("line_items%5B1%5D%5Bprice%5D=price_api_calls") != std::string::npos);  // usage billed too
  CHECK(request.body.find("subscription_data%5Btrial_period_days%5D=14") != std::string::npos);
  // The customer pays at Stripe; the subscription arrives like any other, through its event.
  auto created = api.fake.completeCheckout(json(session)["id"]);
  for (const auto& e : api.fake.events()) {
    if (e["type"] == "customer.subscription.created" && e["data"]["object"]["id"] == created["id"]) {
      testing::applyPayloads(db, {e.dump()});
    }
  }
  auto sub = json(api.call("GET", "/v1/accounts/acct_new/subscription", kKey))["subscription"];
  REQUIRE(sub.is_object());
  CHECK(sub["status"] == "trialing");
  CHECK(sub["items"][0]["role"] == "plan");
  CHECK(sub["items"][0]["price_id"] == kStarterMonthly);
  CHECK(sub["items"][1]["role"] == "metered");
}

namespace {

// A catalog of two plans (Starter 10.00 and Pro 30.00 a month), each with its own metered price on one meter
// (0.02 and 0.01 a call), and acct_clock subscribed to Starter (and its metered price, if asked) on a test clock
// started at `start`: made at the fake through Stripe's API and synced from the fake's events, as the workers would.
struct ClockWorld {
  std::string clock, customer, subscription, starter, starter_calls, pro, pro_calls;
  std::int64_t start = 0, period_end = 0;
};

ClockWorld clockWorld(Api& api, std::int64_t start, bool metered, std::int64_t seats = 1,
                      const nlohmann::json& subscription_settings = nlohmann::json::object()) {
  api.fake.setLatency(0);
  stripe::StripeClient& stripe = *api.stripe;
  ClockWorld w;
  w.start = start;
  auto key = [](const std::string& what) { return "world:" + what + ":" + stripe::newIdempotencyKey(); };
  auto meter = stripe.post("/v1/billing/meters", {{"display_name", "API calls"}, {"event_name", "clock_calls"},
                                                  {"default_aggregation", {{"formula", "sum"}}}}, key("meter"));
  auto product = [&](const std::string& name, const std::string& plan_key) {
    return stripe.post("/v1/products", {{"name", name}, {"metadata", {{"plan_key", plan_key}}}}, key(name))["id"].get<std::string>();
  };
  auto price = [&](const std::string& product_id, std::int64_t amount, bool usage) {
    nlohmann::json recurring = {{"interval", "month"}};
    if (usage) recurring = {{"interval", "month"}, {"usage_type", "metered"}, {"meter", meter["id"]}};
    return stripe.post("/v1/prices", {{"product", product_id}, {"currency", "usd"}, {"unit_amount", amount}, {"recurring", recurring}},
                       key("price"))["id"].get<std::string>();
  };
  auto starter = product("Starter", "starter"), pro = product("Pro", "pro");
  w.starter = price(starter, 1000, false);
  w.starter_calls = price(starter, 2, true);
  w.pro = price(pro, 3000, false);
  w.pro_calls = price(pro, 1, true);
  w.clock = stripe.post("/v1/test_helpers/test_clocks", {{"frozen_time", start}}, key("clock"))["id"];
  w.customer = stripe.post("/v1/customers", {{"email", "clock@example.com"}, {"test_clock", w.clock}, {"payment_method", "pm_card_visa"},
                                             {"invoice_settings", {{"default_payment_method", "pm_card_visa"}}}}, key("customer"))["id"];
  nlohmann::json items = {{{"price", w.starter}, {"quantity", seats}}};
  if (metered) items.push_back({{"price", w.starter_calls}});
  nlohmann::json params = {{"customer", w.customer}, {"items", items}};
  params.update(subscription_settings);
  auto sub = stripe.post("/v1/subscriptions", params, key("subscription"));
  w.subscription = sub["id"];
  w.period_end = sub["items"]["data"][0]["current_period_end"];
  syncFromFake(api);
  pg::Connection(api.url).query("INSERT INTO accounts (account_id, customer_id) VALUES ('acct_clock', $1)", {w.customer});
  return w;
}

void advanceClock(Api& api, const ClockWorld& w, std::int64_t to) {
  api.stripe->post("/v1/test_helpers/test_clocks/" + w.clock + "/advance", {{"frozen_time", to}}, stripe::newIdempotencyKey());
  syncFromFake(api);
}

nlohmann::json previewChange(Api& api, const std::string& price_id) {
  auto reply = api.call("POST", "/v1/accounts/acct_clock/subscription/preview", kKey, nlohmann::json{{"price_id", price_id}}.dump());
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  return json(reply);
}

testing::HttpReply confirmChange(Api& api, const nlohmann::json& preview) {
  return api.call("POST", "/v1/accounts/acct_clock/subscription/change", kKey,
                  nlohmann::json{{"preview_token", preview["preview_token"]}}.dump());
}

std::int64_t unixNow() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

TEST_CASE("a 3-D Secure upgrade completes after the customer authenticates", "[integration][postgres][api][clock]") {
  Api api;
  auto w = clockWorld(api, unixNow(), false);
  api.fake.requireAuthentication(w.customer);
  auto up = previewChange(api, w.pro);
  REQUIRE(up["kind"] == "upgrade");
  auto change = confirmChange(api, up);
  REQUIRE(change.status == 200);
  auto answer = json(change);
  REQUIRE(answer["outcome"] == "payment_required");
  CHECK(answer["payment"]["client_secret"].is_string());  // for Stripe.js in the product's page
  CHECK(api.fake.object("subscription", w.subscription)["items"]["data"][0]["price"]["id"] == w.starter);
  syncFromFake(api);
  CHECK(json(api.call("GET", "/v1/accounts/acct_clock/subscription", kKey))["subscription"]["pending_change"]["price_id"] == w.pro);
  // The customer authenticates on the hosted invoice page: paid, the change applies, the events bring it here.
  REQUIRE(api.fake.completePayment(answer["payment"]["invoice_id"]));
  syncFromFake(api);
  auto read = readOnce(api, "acct_clock", [](const nlohmann::json& sub) { return sub["pending_change"].is_null(); });
  CHECK(read["items"][0]["price_id"] == w.pro);
  CHECK(read["pending_change"].is_null());
  CHECK(api.fake.object("invoice", answer["payment"]["invoice_id"])["amount_paid"] == up["amount_due_now"]);
}

TEST_CASE("a 3-D Secure upgrade never authenticated expires cleanly, and a new attempt is a new one", "[integration][postgres][api][clock]") {
  Api api;
  auto w = clockWorld(api, unixNow(), false);
  api.fake.requireAuthentication(w.customer);
  auto up = previewChange(api, w.pro);
  auto first = json(confirmChange(api, up));
  REQUIRE(first["outcome"] == "payment_required");
  const std::string invoice = first["payment"]["invoice_id"];
  // 23 hours pass without authentication: Stripe discards the pending update and voids its invoice.
  advanceClock(api, w, w.start + 24 * 3600);
  CHECK(api.fake.object("subscription", w.subscription)["pending_update"].is_null());
  CHECK(api.fake.object("invoice", invoice)["status"] == "void");
  CHECK_FALSE(api.fake.completePayment(invoice));
  auto read = readOnce(api, "acct_clock", [](const nlohmann::json& sub) { return sub["pending_change"].is_null(); });
  CHECK(read["pending_change"].is_null());
  CHECK(read["items"][0]["price_id"] == w.starter);
  // The old preview is stale (its invoice is gone); a new preview and attempt, with a working card, apply.
  checkError(confirmChange(api, up), 409, "preview_stale");
  api.fake.approveCustomer(w.customer);
  auto again = previewChange(api, w.pro);
  auto second = confirmChange(api, again);
  REQUIRE(second.status == 200);
  CHECK(json(second)["outcome"] == "applied");
  CHECK(json(second)["charge"]["matches"] == true);
  std::set<std::string> keys;
  for (const auto& r : api.fake.requests()) {
    if (r.method == "POST" && r.uri == "/v1/subscriptions/" + w.subscription) keys.insert(r.headers.at("Idempotency-Key"));
  }
  CHECK(keys.size() == 2);  // two attempts, two Stripe keys
}

TEST_CASE("a second downgrade after the first took effect takes effect at the next period end", "[integration][postgres][api][clock]") {
  Api api;
  // Three seats; the first downgrade (to two seats) takes effect at the end of the first period.
  auto w = clockWorld(api, unixNow(), false, 3);
  auto seats = [&](std::int64_t quantity) {
    auto reply = api.call("POST", "/v1/accounts/acct_clock/subscription/preview", kKey,
                          nlohmann::json{{"price_id", w.starter}, {"quantity", quantity}}.dump());
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    REQUIRE(json(reply)["kind"] == "downgrade");
    REQUIRE(confirmChange(api, json(reply)).status == 200);
    syncFromFake(api);
  };
  seats(2);
  advanceClock(api, w, w.period_end + 2 * 3600);
  auto at_stripe = api.fake.object("subscription", w.subscription);
  REQUIRE(at_stripe["items"]["data"][0]["quantity"] == 2);  // the first downgrade has taken effect
  const std::int64_t period_end = at_stripe["items"]["data"][0]["current_period_end"];
  seats(1);
  at_stripe = api.fake.object("subscription", w.subscription);
  CHECK(at_stripe["items"]["data"][0]["quantity"] == 2);  // nothing changed in the current period
  auto schedule = api.fake.object("subscription_schedule", at_stripe["schedule"]);
  const auto& last = schedule["phases"][schedule["phases"].size() - 1];
  CHECK(last["start_date"] == period_end);
  CHECK(last["items"][0]["quantity"] == 1);
  auto read = readOnce(api, "acct_clock", [](const nlohmann::json& sub) { return sub["scheduled_change"].is_object(); });
  CHECK(read["items"][0]["quantity"] == 2);
  CHECK(read["scheduled_change"]["quantity"] == 1);
  CHECK(common::parseIso8601Utc(read["scheduled_change"]["effective_at"].get<std::string>()).value() == period_end);
  // Past that period end, one seat.
  advanceClock(api, w, period_end + 2 * 3600);
  CHECK(api.fake.object("subscription", w.subscription)["items"]["data"][0]["quantity"] == 1);
}

TEST_CASE("an upgrade of a plan with its own metered price keeps usage billed, on the new plan from the change on", "[integration][postgres][api][clock]") {
  Api api;
  auto w = clockWorld(api, unixNow(), true);
  auto report = [&](std::int64_t value, std::int64_t timestamp, const std::string& id) {
    api.stripe->post("/v1/billing/meter_events", {{"event_name", "clock_calls"}, {"identifier", id}, {"timestamp", timestamp},
                                                  {"payload", {{"stripe_customer_id", w.customer}, {"value", std::to_string(value)}}}},
                     stripe::newIdempotencyKey());
  };
  report(100, w.start + 1, "calls-1");  // on Starter's metered price
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the change comes after that usage
  auto up = previewChange(api, w.pro);
  REQUIRE(up["kind"] == "upgrade");
  CHECK(up["metered"]["swapped"][w.starter_calls] == w.pro_calls);
  // Before: the usage billed up to the swap was summed into the new plan's charge.
  CHECK(up["usage_charge"] == 100 * 2);
  checkPartsAddUp(up);
  auto change = json(confirmChange(api, up));
  REQUIRE(change["outcome"] == "applied");
  CHECK(change["charge"]["matches"] == true);
  // The metered item stays (same id) on Pro's metered price; the usage so far billed at Starter's rate now
  // (flexible billing mode, always_invoice).
  auto at_stripe = api.fake.object("subscription", w.subscription);
  REQUIRE(at_stripe["items"]["data"].size() == 2);
  CHECK(at_stripe["items"]["data"][0]["price"]["id"] == w.pro);
  CHECK(at_stripe["items"]["data"][1]["price"]["id"] == w.pro_calls);
  auto upgrade_invoice = api.fake.object("invoice", at_stripe["latest_invoice"]);
  std::int64_t usage_billed = 0;
  for (const auto& l : upgrade_invoice["lines"]["data"]) {
    if (l["pricing"]["price_details"]["price"] == w.starter_calls) usage_billed += l["amount"].get<std::int64_t>();
  }
  CHECK(usage_billed == 100 * 2);
  // Usage still on its way to Stripe is dated at the change from now on (usage_kafkatest: "usage accepted before a
  // metered-price swap ...").
  pg::Connection db(api.url);
  CHECK(scalar(db, "SELECT extract(epoch FROM changed_at)::bigint::text FROM metered_price_changes WHERE customer_id = $1",
               {w.customer}) == std::to_string(common::parseIso8601Utc(up["proration_date"].get<std::string>()).value_or(0)));
  syncFromFake(api);
  auto read = readOnce(api, "acct_clock", [&](const nlohmann::json& sub) { return sub["items"][0]["price_id"] == w.pro; });
  CHECK(read["items"][0]["price_id"] == w.pro);
  CHECK(read["items"][1]["role"] == "metered");
  CHECK(read["items"][1]["price_id"] == w.pro_calls);
  // Later usage is billed on Pro's metered price at the renewal.
  advanceClock(api, w, w.start + 3600);
  report(50, w.start + 3000, "calls-2");
  advanceClock(api, w, w.period_end + 2 * 3600);
  std::int64_t renewal_calls = -1;
  for (const auto& invoice : api.fake.events()) {
    if (invoice["type"] != "invoice.finalized") continue;
    for (const auto& l : invoice["data"]["object"]["lines"]["data"]) {
      if (l["pricing"]["price_details"]["price"] == w.pro_calls) renewal_calls = l["quantity"];
    }
  }
  CHECK(renewal_calls == 50);
}

TEST_CASE("portal deep links prefill the plan item and its quantity, and refuse what the portal can't confirm", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  pg::Connection db(api.url);
  auto pro_product = scalar(db, "SELECT product_id FROM prices WHERE id = $1", {kProYearly});
  auto managed = api.stripe->post("/v1/billing_portal/configurations",
                   {{"metadata", {{"managed_by", "stripe-billing"}}},
                    {"features", {{"subscription_update", {{"enabled", true}, {"default_allowed_updates", {"price", "quantity"}},
                                                           {"products", {{{"product", pro_product}, {"prices", {kProYearly}}}}}}},
                                  {"payment_method_update", {{"enabled", true}}}}}},
                   stripe::newIdempotencyKey());
  const std::string plan_item = scalar(db, "SELECT id FROM subscription_items WHERE subscription_id = $1", {kSubscription});
  const std::string quantity = scalar(db, "SELECT quantity::text FROM subscription_items WHERE subscription_id = $1", {kSubscription});
  auto session = api.call("POST", "/v1/accounts/acct_oskar/portal_session", kKey,
                          nlohmann::json{{"return_url", "https://app.example.com/"}, {"flow", "subscription_update_confirm"},
                                         {"price_id", kProYearly}}.dump());
  INFO(session.body);
  REQUIRE(session.status == 200);
  auto stored = api.fake.object("billing_portal.session", json(session)["id"]);
  CHECK(stored["configuration"] == managed["id"]);  // the managed configuration, not the Dashboard's default
  const auto& items = stored["flow"]["subscription_update_confirm"]["items"];
  REQUIRE(items.size() == 1);
  CHECK(items[0]["id"] == plan_item);
  CHECK(items[0]["price"] == kProYearly);
  CHECK(items[0]["quantity"] == quantity);  // the current quantity (form-encoded), not 1
  checkError(api.call("POST", "/v1/accounts/acct_oskar/portal_session", kKey,
                      nlohmann::json{{"return_url", "https://app.example.com/"}, {"flow", "subscription_update_confirm"},
                                     {"price_id", kProYearly}, {"quantity", 0}}.dump()),
             400, "parameter_invalid");
  // With a metered item next to the plan, Stripe's portal can't confirm a change: a clear refusal, nothing sent.
  addMeteredItem(api);
  auto before = api.fake.count("/v1/billing_portal/sessions");
  checkError(api.call("POST", "/v1/accounts/acct_oskar/portal_session", kKey,
                      nlohmann::json{{"return_url", "https://app.example.com/"}, {"flow", "subscription_update_confirm"},
                                     {"price_id", kProYearly}}.dump()),
             409, "portal_flow_unsupported");
  CHECK(api.fake.count("/v1/billing_portal/sessions") == before);
}

TEST_CASE("only a subscription in use changes plan, and any current one can be cancelled", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  pg::Connection db(api.url);
  auto sub = nlohmann::json::parse(scalar(db, "SELECT raw::text FROM subscriptions WHERE id = $1", {kSubscription}));
  sub["status"] = "unpaid";
  testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", unixNow() - 30, sub)});
  api.fake.put(sub);
  auto refused = api.call("POST", "/v1/accounts/acct_oskar/subscription/preview", kKey, nlohmann::json{{"price_id", kProYearly}}.dump());
  checkError(refused, 409, "subscription_not_changeable");
  CHECK(json(refused)["error"]["message"].get<std::string>().find("unpaid") != std::string::npos);
  CHECK(json(api.call("GET", "/v1/accounts/acct_oskar/entitlements", kKey))["active"] == false);
  CHECK(json(api.call("GET", "/v1/accounts/acct_oskar/subscription", kKey))["subscription"]["current"] == true);
  REQUIRE(api.call("POST", "/v1/accounts/acct_oskar/subscription/cancel", kKey, "").status == 200);
  CHECK(api.fake.object("subscription", kSubscription)["cancel_at_period_end"] == true);
  // A body on an endpoint that takes none is refused, not ignored.
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/resume", kKey, R"({"at":"now"})"), 400, "parameter_unknown");
  // Ended: no current subscription; the read shows the ended one as not current, and Checkout may start a new one.
  sub["status"] = "canceled";
  sub["ended_at"] = unixNow() - 10;
  testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", unixNow() + 5, sub)});  // after the cancel written above
  api.fake.put(sub);  // ended at Stripe too: Checkout asks Stripe's list as well
  auto ended = json(api.call("GET", "/v1/accounts/acct_oskar/subscription", kKey))["subscription"];
  CHECK(ended["current"] == false);
  checkError(api.call("POST", "/v1/accounts/acct_oskar/subscription/cancel", kKey, "{}"), 404, "no_subscription");
  CHECK(api.call("POST", "/v1/accounts/acct_oskar/checkout_session", kKey,
                 nlohmann::json{{"price_id", kStarterMonthly}, {"success_url", "https://app.example.com/a"},
                                {"cancel_url", "https://app.example.com/b"}}.dump()).status == 200);
}

TEST_CASE("with usage billing an upgrade never waits for its payment: refused whole, the usage kept billable", "[integration][postgres][api][clock]") {
  Api api;
  auto w = clockWorld(api, unixNow(), true);
  // A pending update would bill the usage so far on its invoice and, expiring unpaid, discard it for good
  // (https://docs.stripe.com/billing/subscriptions/pending-updates): with a metered item, the change is refused.
  api.fake.requireAuthentication(w.customer);
  auto up = previewChange(api, w.pro);
  auto change = confirmChange(api, up);
  checkError(change, 402, "authentication_required");
  CHECK(json(change)["error"]["type"] == "payment_error");
  auto at_stripe = api.fake.object("subscription", w.subscription);
  CHECK(at_stripe["pending_update"].is_null());
  CHECK(at_stripe["items"]["data"][0]["price"]["id"] == w.starter);
  CHECK(at_stripe["items"]["data"][1]["price"]["id"] == w.starter_calls);
  for (const auto& r : api.fake.requests()) {
    if (r.method == "POST" && r.uri == "/v1/subscriptions/" + w.subscription) {
      CHECK(r.body.find("payment_behavior=error_if_incomplete") != std::string::npos);
    }
  }
  CHECK(json(change)["error"]["message"].get<std::string>().find("authenticate_after_change") != std::string::npos);
}

// Before: a customer whose bank wants 3-D Secure could not upgrade a plan with usage billing at all. Now the
// customer may choose to change now and confirm afterwards: applied with allow_incomplete, the usage up to the
// change on the open invoice (an open invoice keeps it, unlike an expired pending update), paid on its page.
TEST_CASE("with usage billing and 3-D Secure the customer may change now and confirm the payment after, no usage lost", "[integration][postgres][api][clock]") {
  Api api;
  auto w = clockWorld(api, unixNow(), true);
  api.stripe->post("/v1/billing/meter_events", {{"event_name", "clock_calls"}, {"identifier", "calls-before"}, {"timestamp", w.start + 1},
                                                {"payload", {{"stripe_customer_id", w.customer}, {"value", "100"}}}},
                   stripe::newIdempotencyKey());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  api.fake.requireAuthentication(w.customer);
  auto up = previewChange(api, w.pro);
  checkError(confirmChange(api, up), 402, "authentication_required");
  checkError(api.call("POST", "/v1/accounts/acct_clock/subscription/change", kKey,
                      nlohmann::json{{"preview_token", up["preview_token"]}, {"authenticate_after_change", "yes"}}.dump()),
             400, "parameter_invalid");
  auto change = api.call("POST", "/v1/accounts/acct_clock/subscription/change", kKey,
                         nlohmann::json{{"preview_token", up["preview_token"]}, {"authenticate_after_change", true}}.dump());
  INFO(change.body);
  REQUIRE(change.status == 200);
  auto answer = json(change);
  CHECK(answer["outcome"] == "applied_awaiting_payment");
  CHECK(answer["payment"]["hosted_invoice_url"].is_string());
  CHECK(answer["payment"]["amount_due"] == up["amount_due_now"]);
  auto at_stripe = api.fake.object("subscription", w.subscription);
  CHECK(at_stripe["items"]["data"][0]["price"]["id"] == w.pro);
  CHECK(at_stripe["pending_update"].is_null());
  auto invoice = api.fake.object("invoice", answer["payment"]["invoice_id"]);
  CHECK(invoice["status"] == "open");
  std::int64_t usage_billed = 0;
  for (const auto& l : invoice["lines"]["data"]) {
    if (l["pricing"]["price_details"]["price"] == w.starter_calls) usage_billed += l["amount"].get<std::int64_t>();
  }
  CHECK(usage_billed == 100 * 2);
  // The read says what to do: confirm on the invoice's page (not "update your card").
  syncFromFake(api);
  auto read = json(api.call("GET", "/v1/accounts/acct_clock/subscription", kKey))["subscription"];
  INFO(read.dump());
  REQUIRE(read["payment_action"].is_object());
  CHECK(read["payment_action"]["invoice_id"] == answer["payment"]["invoice_id"]);
  CHECK(read["payment_action"]["hosted_invoice_url"] == answer["payment"]["hosted_invoice_url"]);
  REQUIRE(api.fake.completePayment(answer["payment"]["invoice_id"]));
  syncFromFake(api);
  read = readOnce(api, "acct_clock", [](const nlohmann::json& sub) { return sub["payment_action"].is_null(); });
  CHECK(read["payment_action"].is_null());
  CHECK(read["status"] == "active");
  CHECK(api.fake.object("invoice", answer["payment"]["invoice_id"])["amount_paid"] == up["amount_due_now"]);
}

// Before: a renewal whose payment needs 3-D Secure showed "update your payment method", which can't help.
TEST_CASE("a renewal waiting for 3-D Secure points to the invoice's payment page", "[integration][postgres][api][clock]") {
  Api api;
  auto w = clockWorld(api, unixNow(), false);
  api.fake.requireAuthentication(w.customer);
  advanceClock(api, w, w.period_end + 2 * 3600);
  auto read = json(api.call("GET", "/v1/accounts/acct_clock/subscription", kKey))["subscription"];
  INFO(read.dump());
  CHECK(read["past_due"] == true);
  REQUIRE(read["payment_action"].is_object());
  CHECK(read["payment_action"]["invoice_id"] == read["latest_invoice_id"]);
  CHECK(read["payment_action"]["hosted_invoice_url"].is_string());
  REQUIRE(api.fake.completePayment(read["latest_invoice_id"]));
  syncFromFake(api);
  read = readOnce(api, "acct_clock", [](const nlohmann::json& sub) { return sub["payment_action"].is_null(); });
  CHECK(read["payment_action"].is_null());
  CHECK(read["past_due"] == false);
}

// Pending updates "aren't supported when the subscription's collection_method is send_invoice"
// (https://docs.stripe.com/billing/subscriptions/pending-updates). Before, every upgrade without usage billing sent
// pending_if_incomplete, which Stripe refuses for invoice-terms customers: they could not upgrade at all. Now the
// change applies at once and its invoice is sent, due by the terms, for the amount the preview showed.
TEST_CASE("an invoice-terms customer upgrades now: applied, its invoice sent and due by the terms, as previewed", "[integration][postgres][api][clock]") {
  Api api;
  const auto now = unixNow();
  auto w = clockWorld(api, now, false, 1, {{"collection_method", "send_invoice"}, {"days_until_due", 30}});
  auto up = previewChange(api, w.pro);
  CHECK(up["kind"] == "upgrade");
  CHECK(up["collection"] == "invoice");
  auto change = confirmChange(api, up);
  INFO(change.body);
  REQUIRE(change.status == 200);
  auto answer = json(change);
  CHECK(answer["outcome"] == "invoiced");
  CHECK(answer["invoice"]["status"] == "open");
  CHECK(answer["invoice"]["amount_due"] == up["amount_due_now"]);
  const auto due = common::parseIso8601Utc(answer["invoice"]["due_date"].get<std::string>());
  REQUIRE(due.has_value());
  CHECK(*due >= now + 30 * 86400);
  CHECK(*due <= now + 30 * 86400 + 120);
  auto at_stripe = api.fake.object("subscription", w.subscription);
  CHECK(at_stripe["items"]["data"][0]["price"]["id"] == w.pro);
  CHECK(at_stripe["pending_update"].is_null());
  CHECK(at_stripe["status"] == "active");
  CHECK(answer["subscription"]["items"][0]["price_id"] == w.pro);
  for (const auto& r : api.fake.requests()) {
    if (r.method == "POST" && r.uri == "/v1/subscriptions/" + w.subscription) {
      CHECK(r.body.find("payment_behavior=allow_incomplete") != std::string::npos);
    }
  }
}

// Pending updates aren't supported "when bank debits are used" (https://docs.stripe.com/billing/subscriptions/pending-updates).
// Before, only a unit test covered the bank-debit path; the fake had no bank debits. Now a SEPA customer's upgrade
// applies at once, its invoice processing until the debit settles, then paid.
TEST_CASE("a SEPA Direct Debit customer upgrades now: applied, the debit processing, paid when it settles", "[integration][postgres][api][clock]") {
  Api api;
  auto w = clockWorld(api, unixNow(), false);
  auto sepa = api.stripe->post("/v1/payment_methods", {{"type", "sepa_debit"}, {"sepa_debit", {{"iban", "DE89370400440532013000"}}}},
                               stripe::newIdempotencyKey());
  api.stripe->post("/v1/customers/" + w.customer, {{"invoice_settings", {{"default_payment_method", sepa["id"]}}}},
                   stripe::newIdempotencyKey());
  syncFromFake(api);
  auto up = previewChange(api, w.pro);
  CHECK(up["collection"] == "bank_debit");
  auto change = confirmChange(api, up);
  INFO(change.body);
  REQUIRE(change.status == 200);
  auto answer = json(change);
  CHECK(answer["outcome"] == "payment_processing");
  CHECK(answer["invoice"]["status"] == "open");
  CHECK(answer["invoice"]["amount_due"] == up["amount_due_now"]);
  auto at_stripe = api.fake.object("subscription", w.subscription);
  CHECK(at_stripe["items"]["data"][0]["price"]["id"] == w.pro);
  CHECK(at_stripe["status"] == "active");
  for (const auto& r : api.fake.requests()) {
    if (r.method == "POST" && r.uri == "/v1/subscriptions/" + w.subscription) {
      CHECK(r.body.find("payment_behavior=allow_incomplete") != std::string::npos);
    }
  }
  advanceClock(api, w, w.start + 6 * 86400);
  CHECK(api.fake.object("invoice", answer["invoice"]["invoice_id"])["status"] == "paid");
  auto read = readOnce(api, "acct_clock", [](const nlohmann::json& sub) { return sub["status"] == "active"; });
  CHECK(read["past_due"] == false);
}

// Stripe saves the answer of a request it executed, errors included ("including 500 errors",
// https://docs.stripe.com/api/idempotent_requests), and replays it for 24 hours. Before, the server derived Stripe's
// key from the page's Idempotency-Key alone, so after one Stripe 500 every retry in the dialog got the same 500.
// Now the 500 ends that attempt: the retry reads the subscription from Stripe (a 5xx leaves the outcome unknown),
// then goes to Stripe under a new key, charged once.
TEST_CASE("after Stripe's 500 on a change, a retry with the same Idempotency-Key is a new attempt, charged once", "[integration][postgres][api][clock]") {
  Api api;
  auto w = clockWorld(api, unixNow(), false);
  auto up = previewChange(api, w.pro);
  auto confirm = [&] {
    testing::HttpClient client(api.server->port());
    return client.request("POST", "/v1/accounts/acct_clock/subscription/change",
                          nlohmann::json{{"preview_token", up["preview_token"]}}.dump(),
                          {{"Authorization", "Bearer " + kKey}, {"Content-Type", "application/json"},
                           {"Idempotency-Key", "page-attempt-1"}});
  };
  api.fake.failNext(1, 500);
  auto failed = confirm();
  INFO(failed.body);
  CHECK(failed.status >= 500);
  CHECK(api.fake.object("subscription", w.subscription)["items"]["data"][0]["price"]["id"] == w.starter);
  auto retried = confirm();
  INFO(retried.body);
  REQUIRE(retried.status == 200);
  CHECK(json(retried)["outcome"] == "applied");
  CHECK(api.fake.object("subscription", w.subscription)["items"]["data"][0]["price"]["id"] == w.pro);
  std::set<std::string> keys;
  int updates = 0;
  for (const auto& r : api.fake.requests()) {
    if (r.method == "POST" && r.uri == "/v1/subscriptions/" + w.subscription) {
      ++updates;
      keys.insert(r.headers.at("Idempotency-Key"));
    }
  }
  CHECK(updates == 2);
  CHECK(keys.size() == 2);  // the second attempt under a new Stripe key
  // Once applied, the same request again answers that success without a third update.
  CHECK(confirm().status == 200);
  CHECK(postsTo(api, "/v1/subscriptions/" + w.subscription) == 2);
}

namespace {

// An annual and a monthly Pro price, and a usage price on its own product (Terraform's catalog shape: usage billed
// monthly, shared by every plan); subscribed to Pro monthly with the usage item, in `mode` billing mode.
struct MixedWorld {
  ClockWorld w;
  std::string pro_monthly, pro_annual, calls;
};

MixedWorld mixedWorld(Api& api, const std::string& mode) {
  api.fake.setLatency(0);
  stripe::StripeClient& stripe = *api.stripe;
  auto key = [](const std::string& what) { return "mixed:" + what + ":" + stripe::newIdempotencyKey(); };
  MixedWorld m;
  m.w.start = unixNow();
  auto meter = stripe.post("/v1/billing/meters", {{"display_name", "API calls"}, {"event_name", "mixed_calls"},
                                                  {"default_aggregation", {{"formula", "sum"}}}}, key("meter"));
  std::string pro = stripe.post("/v1/products", {{"name", "Pro"}, {"metadata", {{"plan_key", "pro"}}}}, key("pro"))["id"];
  std::string usage = stripe.post("/v1/products", {{"name", "API calls"}}, key("usage"))["id"];
  auto price = [&](const std::string& product, std::int64_t amount, const nlohmann::json& recurring) {
    return stripe.post("/v1/prices", {{"product", product}, {"currency", "usd"}, {"unit_amount", amount}, {"recurring", recurring}},
                       key("price"))["id"].get<std::string>();
  };
  m.pro_monthly = price(pro, 3000, {{"interval", "month"}});
  m.pro_annual = price(pro, 30000, {{"interval", "year"}});
  m.calls = price(usage, 2, {{"interval", "month"}, {"usage_type", "metered"}, {"meter", meter["id"]}});
  m.w.clock = stripe.post("/v1/test_helpers/test_clocks", {{"frozen_time", m.w.start}}, key("clock"))["id"];
  m.w.customer = stripe.post("/v1/customers", {{"email", "mixed@example.com"}, {"test_clock", m.w.clock},
                                               {"payment_method", "pm_card_visa"},
                                               {"invoice_settings", {{"default_payment_method", "pm_card_visa"}}}},
                             key("customer"))["id"];
  auto sub = stripe.post("/v1/subscriptions", {{"customer", m.w.customer}, {"billing_mode", {{"type", mode}}},
                                               {"items", {{{"price", m.pro_monthly}}, {{"price", m.calls}}}}},
                         key("subscription"));
  m.w.subscription = sub["id"];
  m.w.period_end = sub["items"]["data"][0]["current_period_end"];
  syncFromFake(api);
  pg::Connection(api.url).query("INSERT INTO accounts (account_id, customer_id) VALUES ('acct_clock', $1)", {m.w.customer});
  return m;
}

nlohmann::json fakeItemOf(Api& api, const std::string& subscription, const std::string& price) {
  const auto sub = api.fake.object("subscription", subscription);  // kept: the loop reads into it
  for (const auto& item : sub["items"]["data"]) {
    if (item["price"]["id"] == price) return item;
  }
  return nullptr;
}

testing::HttpReply previewSeats(Api& api, const std::string& price_id, std::int64_t quantity) {
  return api.call("POST", "/v1/accounts/acct_clock/subscription/preview", kKey,
                  nlohmann::json{{"price_id", price_id}, {"quantity", quantity}}.dump());
}

}  // namespace

TEST_CASE("flexible mode: monthly -> annual keeps the monthly usage item on its month, cancel ends with the annual period, resume clears it", "[integration][postgres][api][clock]") {
  Api api;
  auto m = mixedWorld(api, "flexible");
  auto up = previewChange(api, m.pro_annual);
  REQUIRE(up["kind"] == "upgrade");
  auto applied = confirmChange(api, up);
  INFO(applied.body);
  REQUIRE(applied.status == 200);
  CHECK(json(applied)["outcome"] == "applied");
  auto plan = fakeItemOf(api, m.w.subscription, m.pro_annual);
  auto usage = fakeItemOf(api, m.w.subscription, m.calls);
  REQUIRE(plan.is_object());
  REQUIRE(usage.is_object());
  const std::int64_t year_end = plan["current_period_end"];
  CHECK(usage["current_period_end"] == m.w.period_end);  // usage still billed monthly
  REQUIRE(year_end > m.w.period_end);
  syncFromFake(api);

  // Before: cancel_at_period_end=true, which Stripe resolves to the earliest item period end: the paid annual plan
  // would end at the usage item's month end.
  auto cancel = api.call("POST", "/v1/accounts/acct_clock/subscription/cancel", kKey, "{}");
  INFO(cancel.body);
  REQUIRE(cancel.status == 200);
  CHECK(api.fake.object("subscription", m.w.subscription)["cancel_at"] == year_end);
  CHECK(json(cancel)["subscription"]["cancel_at"] == common::formatIso8601Utc(year_end));
  // Before: cancel_at_period_end=false, which leaves a cancel_at date in place.
  auto resume = api.call("POST", "/v1/accounts/acct_clock/subscription/resume", kKey, "{}");
  INFO(resume.body);
  REQUIRE(resume.status == 200);
  CHECK(api.fake.object("subscription", m.w.subscription)["cancel_at"].is_null());
  CHECK(json(resume)["subscription"]["cancel_at"].is_null());
}

TEST_CASE("classic mode: a change to an annual plan beside a monthly usage item is refused before Stripe, with the way out", "[integration][postgres][api]") {
  Api api;
  auto m = mixedWorld(api, "classic");
  auto reply = previewSeats(api, m.pro_annual, 1);
  checkError(reply, 409, "intervals_must_match");
  CHECK(json(reply)["error"]["message"].get<std::string>().find("flexible") != std::string::npos);
  CHECK(postsTo(api, "/v1/subscriptions/" + m.w.subscription) == 0);
}

TEST_CASE("a cancel date set in the portal or Dashboard is a cancellation: no downgrade on top, and resume clears it", "[integration][postgres][api][clock]") {
  Api api;
  auto w = clockWorld(api, unixNow(), false, 3);
  // What the portal's "cancel on date" or the Dashboard does: cancel_at, with cancel_at_period_end false.
  api.stripe->post("/v1/subscriptions/" + w.subscription, {{"cancel_at", w.period_end}}, stripe::newIdempotencyKey());
  syncFromFake(api);
  checkError(previewSeats(api, w.starter, 1), 409, "cancellation_pending");
  auto resume = api.call("POST", "/v1/accounts/acct_clock/subscription/resume", kKey, "{}");
  INFO(resume.body);
  REQUIRE(resume.status == 200);
  CHECK(api.fake.object("subscription", w.subscription)["cancel_at"].is_null());
  REQUIRE(previewSeats(api, w.starter, 1).status == 200);
}

TEST_CASE("cancel while a downgrade is scheduled drops the downgrade and cancels", "[integration][postgres][api][clock]") {
  Api api;
  auto w = clockWorld(api, unixNow(), false, 3);
  auto down = previewSeats(api, w.starter, 1);
  REQUIRE(down.status == 200);
  REQUIRE(json(down)["kind"] == "downgrade");
  REQUIRE(confirmChange(api, json(down)).status == 200);
  REQUIRE(api.fake.object("subscription", w.subscription)["schedule"].is_string());
  // Before: the schedule had a phase to come, so it was kept, and Stripe refused the cancellation (400).
  auto cancel = api.call("POST", "/v1/accounts/acct_clock/subscription/cancel", kKey, "{}");
  INFO(cancel.body);
  REQUIRE(cancel.status == 200);
  auto sub = api.fake.object("subscription", w.subscription);
  CHECK(sub["cancel_at_period_end"] == true);
  CHECK(sub["schedule"].is_null());
  CHECK(json(cancel)["subscription"]["scheduled_change"].is_null());
  CHECK(json(cancel)["subscription"]["cancel_at_period_end"] == true);
}

TEST_CASE("a downgrade waits for a change of the subscription in progress", "[integration][postgres][api][clock]") {
  Api api;
  auto w = clockWorld(api, unixNow(), false, 3);
  auto down = previewSeats(api, w.starter, 1);
  REQUIRE(down.status == 200);
  pg::Connection holder(api.url);  // another request holding the subscription's change lock
  holder.query("SELECT pg_advisory_lock(hashtext($1))", {"plan-change:" + w.subscription});
  // Before: downgrades took no lock, and could send back a phase read before a concurrent upgrade.
  checkError(confirmChange(api, json(down)), 409, "change_in_progress");
  CHECK(postsTo(api, "/v1/subscription_schedules") == 0);
  holder.query("SELECT pg_advisory_unlock(hashtext($1))", {"plan-change:" + w.subscription});
  CHECK(confirmChange(api, json(down)).status == 200);
}

TEST_CASE("a downgrade whose schedule update fails leaves no schedule behind, and the same confirmation works again", "[integration][postgres][api][clock]") {
  Api api;
  auto w = clockWorld(api, unixNow(), false, 3);
  auto down = json(previewSeats(api, w.starter, 1));
  api.fake.failNext(1, 500, "POST /v1/subscription_schedules/");
  auto failed = confirmChange(api, down);
  INFO(failed.body);
  CHECK(failed.status >= 500);
  // Before: the schedule made from the subscription stayed, unmarked, and every later change answered
  // schedule_not_ours.
  CHECK(api.fake.object("subscription", w.subscription)["schedule"].is_null());
  syncFromFake(api);
  auto again = confirmChange(api, down);
  INFO(again.body);
  REQUIRE(again.status == 200);
  REQUIRE(json(again)["subscription"]["scheduled_change"].is_object());
  CHECK(json(again)["subscription"]["scheduled_change"]["quantity"] == 1);
}

TEST_CASE("two Checkout sessions never make two subscriptions: a new one expires the open one, and none starts once Stripe has one", "[integration][postgres][api]") {
  Api api;
  currentPeriod(api);
  REQUIRE(api.call("POST", "/v1/accounts", kKey, R"({"account_id":"acct_new","email":"n@example.com"})").status == 200);
  const std::string body = R"({"price_id":")" + kStarterMonthly +
                           R"(","success_url":"https://app.example.com/billing?done=1","cancel_url":"https://app.example.com/billing"})";
  // An annual plan gets the catalog's monthly usage price beside it, in flexible mode (mixed intervals). Before:
  // only usage prices of the plan's interval were added, so an annual subscriber's usage was never invoiced.
  addMeteredItem(api);
  auto annual = api.call("POST", "/v1/accounts/acct_new/checkout_session", kKey,
                         R"({"price_id":")" + kProYearly +
                             R"(","success_url":"https://app.example.com/billing?done=1","cancel_url":"https://app.example.com/billing"})");
  INFO(annual.body);
  REQUIRE(annual.status == 200);
  auto made = api.fake.requests().back();
  CHECK(made.body.find("line_items%5B1%5D%5Bprice%5D=price_api_calls") != std::string::npos);
  CHECK(made.body.find("subscription_data%5Bbilling_mode%5D%5Btype%5D=flexible") != std::string::npos);
  auto first = api.call("POST", "/v1/accounts/acct_new/checkout_session", kKey, body);
  REQUIRE(first.status == 200);
  // The page's Back, then Choose again: a second session. Before: both stayed open for 24 hours, both payable.
  auto second = api.call("POST", "/v1/accounts/acct_new/checkout_session", kKey, body);
  REQUIRE(second.status == 200);
  CHECK(api.fake.object("checkout.session", json(first)["id"])["status"] == "expired");
  CHECK(api.fake.object("checkout.session", json(second)["id"])["status"] == "open");
  CHECK_THROWS(api.fake.completeCheckout(json(first)["id"]));
  // Paid at Stripe, its event not synced yet. Before: only our rows were checked, so a third session started.
  api.fake.completeCheckout(json(second)["id"]);
  checkError(api.call("POST", "/v1/accounts/acct_new/checkout_session", kKey, body), 409, "subscription_exists");
}

#include <ctime>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "app/command_help.h"
#include "app/commands.h"
#include "common/config_reader.h"
#include "common/postgres.h"
#include "common/utc_time.h"
#include "stripe/stripe_client.h"
#include "usage/reconcile.h"
#include "usage/usage_ledger.h"

namespace billing::app {
namespace {

constexpr const char* kUsage = R"(usage: billing usage failed [--limit N]
       billing usage retry (--id N | --all-failed)
       billing usage reconcile --since DATE [--until DATE]

failed   prints the usage aggregates Stripe refused (4xx) or that ran out of retries (23 h), as JSON lines
retry    sends them again under the same identifier (the running usage reporter picks them up): safe after a
         refusal, since Stripe counted nothing; after an expired retry horizon an attempt may have reached Stripe
         unanswered, so compare with Stripe's meter event summaries first
reconcile  compares the units reported per customer and meter from DATE (ISO-8601 UTC) until DATE (default: 10
         minutes ago, Stripe's summaries lag) with Stripe's meter event summaries; prints one JSON line each and a
         summary; exits 1 on any drift. Needs BILLING_STRIPE_API_KEY as well
)";

int reconcile(const Args& args) {
  std::optional<std::int64_t> since, until;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if ((args[i] == "--since" || args[i] == "--until") && i + 1 < args.size()) {
      auto parsed = common::parseIso8601Utc(args[i + 1]);
      if (!parsed) {
        std::cerr << "billing usage reconcile: " << args[i] << " must be an ISO-8601 UTC time (2026-12-01T00:00:00Z)\n";
        return kExitUsage;
      }
      (args[i] == "--since" ? since : until) = *parsed;
      ++i;
    } else {
      std::cerr << "billing usage reconcile: bad option '" << args[i] << "'\n" << kUsage;
      return kExitUsage;
    }
  }
  if (!since) {
    std::cerr << "billing usage reconcile: --since DATE is required\n" << kUsage;
    return kExitUsage;
  }
  const auto end = until.value_or(static_cast<std::int64_t>(std::time(nullptr)) - 600);
  if (end <= *since) {
    std::cerr << "billing usage reconcile: --until must be after --since\n";
    return kExitUsage;
  }
  auto env = common::Environment::fromProcess();
  common::ConfigReader reader(env);
  auto url = reader.secret("BILLING_DATABASE_URL", true);
  auto stripe_config = stripe::readStripeConfig(reader, true);
  if (!reader.errors().empty()) {
    for (const auto& e : reader.errors()) std::cerr << "billing usage reconcile: " << e << "\n";
    return kExitUsage;
  }
  try {
    pg::Connection db(*url);
    stripe::StripeClient stripe(stripe_config);
    auto drifts = usage::reconcileUsage(db, stripe, *since, end);
    std::int64_t drifting = 0;
    for (const auto& d : drifts) {
      if (d.drift() != 0) ++drifting;
      std::cout << nlohmann::json{{"customer_id", d.customer_id}, {"meter", d.meter}, {"meter_id", d.meter_id},
                                  {"start", common::formatIso8601Utc(d.start)}, {"end", common::formatIso8601Utc(d.end)},
                                  {"ours", d.ours}, {"stripe", d.stripe}, {"drift", d.drift()}}
                       .dump()
                << "\n";
    }
    std::cout << nlohmann::json{{"compared", drifts.size()}, {"drifting", drifting}}.dump() << "\n";
    return drifting == 0 ? kExitOk : kExitFailure;
  } catch (const stripe::StripeError& e) {
    std::cerr << "billing usage reconcile: Stripe: " << e.what() << "\n";
  } catch (const pg::PgError& e) {
    std::cerr << "billing usage reconcile: database error: " << e.what() << "\n";
  } catch (const std::runtime_error& e) {
    std::cerr << "billing usage reconcile: " << e.what() << "\n";
  }
  return kExitFailure;
}

}  // namespace

int runUsage(const Args& args) {
  if (args.empty()) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  if (asksForHelp(args)) {
    std::cout << kUsage;
    return kExitOk;
  }
  const std::string& action = args[0];
  if (action == "reconcile") return reconcile(args);
  long long limit = 100, id = 0;
  bool all_failed = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--all-failed") all_failed = true;
    else if (args[i] == "--limit" && nextPositiveNumber(args, i, limit)) continue;
    else if (args[i] == "--id" && nextPositiveNumber(args, i, id)) continue;
    else {
      std::cerr << "billing usage: bad option '" << args[i] << "'\n" << kUsage;
      return kExitUsage;
    }
  }
  if ((action != "failed" && action != "retry") || (action == "retry" && (id == 0) == !all_failed)) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  auto env = common::Environment::fromProcess();
  common::ConfigReader reader(env);
  auto url = reader.secret("BILLING_DATABASE_URL", true);
  if (!reader.errors().empty()) {
    for (const auto& e : reader.errors()) std::cerr << "billing usage: " << e << "\n";
    return kExitUsage;
  }
  try {
    pg::Connection db(*url);
    usage::UsageLedger ledger(db);
    if (action == "failed") {
      for (const auto& line : ledger.failed(static_cast<int>(limit))) std::cout << line << "\n";
      return kExitOk;
    }
    auto count = ledger.retryFailed(id);
    std::cout << "{\"requeued\":" << count << "}\n";
    return count > 0 || id == 0 ? kExitOk : kExitFailure;
  } catch (const pg::PgError& e) {
    std::cerr << "billing usage: database error: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace billing::app

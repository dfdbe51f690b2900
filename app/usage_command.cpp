#include <iostream>

#include "app/commands.h"
#include "common/config_reader.h"
#include "common/postgres.h"
#include "usage/usage_ledger.h"

namespace billing::app {
namespace {

constexpr const char* kUsage = R"(usage: billing usage failed [--limit N]
       billing usage retry (--id N | --all-failed)

failed   prints the usage aggregates Stripe refused (4xx) or that ran out of retries (23 h), as JSON lines
retry    sends them again under the same identifier (the running usage reporter picks them up): safe after a
         refusal, since Stripe counted nothing; after an expired retry horizon an attempt may have reached Stripe
         unanswered, so compare with Stripe's meter event summaries first
)";

}  // namespace

int runUsage(const Args& args) {
  if (args.empty() || args[0] == "--help") {
    std::cerr << kUsage;
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::string& action = args[0];
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

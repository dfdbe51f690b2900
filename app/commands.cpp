#include "app/commands.h"

#include <csignal>
#include <iostream>
#include <pthread.h>

#include "app/command_help.h"
#include "sync/event_applier.h"
#include "sync/event_routes.h"

namespace billing::app {
namespace {

constexpr const char* kUsage = R"(usage: billing <command> [options]

commands:
  webhook [--check-config]      run the Stripe webhook receiver (POST /webhooks/stripe -> Kafka)
  verify-signature ...          check a Stripe-Signature header offline (see: billing verify-signature --help)
  create-topics                 create the Kafka topics the service uses, if missing
  migrate [--status]            apply the database migrations built into this executable (BILLING_DATABASE_URL)
  worker [--check-config]       apply Stripe events from Kafka to PostgreSQL
  api [--check-config]          the billing API for product backends (and the billing page)
  usage-reporter [--check-config]
                                report accepted usage to Stripe Billing Meters, exactly once
  configure-portal --config FILE
                                create or update the Customer Portal configuration from a JSON file (idempotent)
  dlq list|replay ...           dead-lettered events (see: billing dlq --help)
  usage failed|retry|reconcile  usage Stripe refused, and our units against Stripe's (see: billing usage --help)
  backfill [--since DATE] [--objects LIST] [--restart]
                                copy existing Stripe objects into PostgreSQL (resumable)
  replay-events --since DATE [--until DATE]
                                send Stripe's recorded events (last 30 days) through the workers again
  reconcile [--objects LIST] [--sample N] [--repair]
                                compare PostgreSQL with Stripe, report drift, optionally repair it
  event-types [--thin]          the Stripe event types the workers apply (subscribe the webhook endpoint to these)
  version                       print the version

`billing <command> --help` describes a command. Configuration comes from BILLING_* environment variables
(README.md lists them).
)";

}  // namespace

void blockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int waitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

bool nextPositiveNumber(const Args& args, std::size_t& i, long long& out) {
  if (i + 1 >= args.size()) return false;
  try {
    out = std::stoll(args[++i]);
    return out > 0;
  } catch (const std::exception&) {
    return false;
  }
}

int dispatch(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  std::string command = argv[1];
  Args args(argv + 2, argv + argc);
  if (asksForHelp(args)) {
    if (const auto* help = commandHelp(command)) {
      std::cout << *help;
      return kExitOk;
    }
  }
  if (command == "webhook") return runWebhook(args);
  if (command == "verify-signature") return runVerifySignature(args);
  if (command == "create-topics") return runCreateTopics(args);
  if (command == "migrate") return runMigrate(args);
  if (command == "worker") return runWorker(args);
  if (command == "api") return runApi(args);
  if (command == "usage-reporter") return runUsageReporter(args);
  if (command == "configure-portal") return runConfigurePortal(args);
  if (command == "dlq") return runDlq(args);
  if (command == "usage") return runUsage(args);
  if (command == "backfill") return runBackfill(args);
  if (command == "replay-events") return runReplayEvents(args);
  if (command == "reconcile") return runReconcile(args);
  if (command == "event-types") {
    if (args.size() == 1 && args[0] == "--thin") {
      std::cout << sync::kMeterErrorReportType << "\n" << sync::kNoMeterFoundType << "\n";
      return kExitOk;
    }
    if (!args.empty()) {
      std::cerr << "billing event-types: unknown option '" << args[0] << "'\n" << *commandHelp(command);
      return kExitUsage;
    }
    for (const auto& type : sync::handledEventTypes()) std::cout << type << "\n";
    return kExitOk;
  }
  if (command == "version" || command == "--version") {
    std::cout << "billing 0.1.0\n";
    return kExitOk;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return kExitOk;
  }
  std::cerr << "unknown command '" << command << "'\n\n" << kUsage;
  return kExitUsage;
}

}  // namespace billing::app

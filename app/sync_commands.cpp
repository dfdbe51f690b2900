// `billing backfill`, `billing replay-events` and `billing reconcile`: one-off jobs that bring PostgreSQL in line
// with Stripe through the same write rule as the workers.
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/commands.h"
#include "common/config_reader.h"
#include "common/kafka_producer.h"
#include "common/postgres.h"
#include "common/utc_time.h"
#include "stripe/stripe_client.h"
#include "sync/backfill.h"
#include "sync/reconciler.h"
#include "workers/event_replayer.h"

namespace billing::app {
namespace {

struct JobArgs {
  std::vector<sync::ObjectKind> kinds;
  std::optional<std::int64_t> since, until;
  bool restart = false, repair = false;
  int sample = 0;
  std::vector<std::string> types;
  std::string error;
};

std::string kindNames() {
  std::string names;
  for (const auto& k : sync::allKinds()) names += (names.empty() ? "" : ",") + std::string(k.name);
  return names;
}

std::vector<std::string> splitCommas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

// Parses the options every job shares; `allowed` lists the ones this job takes.
JobArgs parseJobArgs(const Args& args, const std::vector<std::string>& allowed) {
  JobArgs out;
  auto allows = [&](const std::string& option) {
    for (const auto& a : allowed) {
      if (a == option) return true;
    }
    return false;
  };
  for (std::size_t i = 0; i < args.size() && out.error.empty(); ++i) {
    const auto& arg = args[i];
    if (!allows(arg)) {
      out.error = "unknown option '" + arg + "'";
      break;
    }
    bool takes_value = arg == "--objects" || arg == "--since" || arg == "--until" || arg == "--sample" || arg == "--types";
    if (takes_value && i + 1 >= args.size()) {
      out.error = arg + " needs a value";
      break;
    }
    if (arg == "--restart") out.restart = true;
    else if (arg == "--repair") out.repair = true;
    else if (arg == "--objects") {
      for (const auto& name : splitCommas(args[++i])) {
        auto kind = sync::kindForName(name);
        if (!kind) out.error = "unknown object kind '" + name + "' (known: " + kindNames() + ")";
        else out.kinds.push_back(*kind);
      }
    } else if (arg == "--since" || arg == "--until") {
      auto when = sync::parseDateArgument(args[++i]);
      if (!when) out.error = arg + " takes a UTC date: 2026-06-01 or 2026-06-01T12:00:00Z";
      else (arg == "--since" ? out.since : out.until) = *when;
    } else if (arg == "--sample") {
      try {
        out.sample = std::stoi(args[++i]);
        if (out.sample <= 0) out.error = "--sample takes a positive number";
      } catch (const std::exception&) {
        out.error = "--sample takes a positive number";
      }
    } else if (arg == "--types") {
      out.types = splitCommas(args[++i]);
    }
  }
  if (out.kinds.empty()) {
    for (const auto& k : sync::allKinds()) out.kinds.push_back(k.kind);
  }
  return out;
}

int usageError(const char* command, const std::string& error) {
  std::cerr << "billing " << command << ": " << error << "\n(billing help lists the options)\n";
  return kExitUsage;
}

struct Services {
  std::string database_url;
  stripe::StripeClientConfig stripe;
  kafka::KafkaSettings kafka;
  std::string topic;
};

std::optional<Services> readServices(const char* command, bool needs_kafka) {
  auto env = common::Environment::fromProcess();
  common::ConfigReader reader(env);
  Services s;
  if (!needs_kafka) s.database_url = reader.secret("BILLING_DATABASE_URL", true).value_or("");
  s.stripe = stripe::readStripeConfig(reader, true);
  if (needs_kafka) {
    s.kafka = kafka::readKafkaSettings(reader);
    s.topic = reader.string("BILLING_KAFKA_EVENTS_TOPIC", "stripe.events");
  }
  if (!reader.errors().empty()) {
    std::cerr << "billing " << command << ": invalid configuration:\n";
    for (const auto& e : reader.errors()) std::cerr << "  - " << e << "\n";
    return std::nullopt;
  }
  return s;
}

template <typename Job>
int guarded(const char* command, Job job) {
  try {
    return job();
  } catch (const stripe::StripeError& e) {
    std::cerr << "billing " << command << ": Stripe: " << e.what() << " (status " << e.status() << ", request "
              << e.requestId() << "); progress so far is saved, run again to continue\n";
  } catch (const pg::PgError& e) {
    std::cerr << "billing " << command << ": database: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "billing " << command << ": " << e.what() << "\n";
  }
  return kExitFailure;
}

}  // namespace

int runBackfill(const Args& args) {
  auto parsed = parseJobArgs(args, {"--objects", "--since", "--restart"});
  if (!parsed.error.empty()) return usageError("backfill", parsed.error);
  auto services = readServices("backfill", false);
  if (!services) return kExitUsage;
  return guarded("backfill", [&] {
    pg::Connection db(services->database_url);
    stripe::StripeClient stripe(services->stripe);
    sync::BackfillOptions options{parsed.kinds, parsed.since, parsed.restart};
    auto results = sync::Backfill(db, stripe).run(options, [](const sync::BackfillProgress& p) {
      std::cerr << "  " << sync::info(p.kind).name << ": " << p.objects << " objects, " << p.written << " written\n";
    });
    for (const auto& p : results) {
      std::cout << nlohmann::json{{"objects", sync::info(p.kind).name}, {"seen", p.objects},    {"written", p.written},
                                  {"pages", p.pages},                   {"resumed", p.resumed}, {"already_done", p.already_done}}
                       .dump()
                << "\n";
    }
    return kExitOk;
  });
}

int runReplayEvents(const Args& args) {
  auto parsed = parseJobArgs(args, {"--since", "--until", "--types"});
  if (!parsed.error.empty()) return usageError("replay-events", parsed.error);
  if (!parsed.since) return usageError("replay-events", "--since is required (Stripe keeps events for 30 days)");
  auto services = readServices("replay-events", true);
  if (!services) return kExitUsage;
  return guarded("replay-events", [&] {
    stripe::StripeClient stripe(services->stripe);
    kafka::DurableProducer producer(services->kafka, {});
    workers::ReplayOptions options{*parsed.since, parsed.until, parsed.types, services->topic};
    auto result = workers::replayEvents(stripe, producer, options);
    std::cout << nlohmann::json{{"produced", result.produced}, {"pages", result.pages}, {"topic", services->topic},
                                {"since", common::formatIso8601Utc(*parsed.since)}}
                     .dump()
              << "\n";
    return kExitOk;
  });
}

int runReconcile(const Args& args) {
  auto parsed = parseJobArgs(args, {"--objects", "--sample", "--repair"});
  if (!parsed.error.empty()) return usageError("reconcile", parsed.error);
  auto services = readServices("reconcile", false);
  if (!services) return kExitUsage;
  return guarded("reconcile", [&] {
    pg::Connection db(services->database_url);
    stripe::StripeClient stripe(services->stripe);
    sync::ReconcileOptions options{parsed.kinds, parsed.sample, parsed.repair};
    std::int64_t drift = 0;
    for (const auto& r : sync::Reconciler(db, stripe).run(options)) {
      drift += r.drift();
      std::cout << nlohmann::json{{"objects", sync::info(r.kind).name},
                                  {"checked", r.checked},
                                  {"missing_locally", r.missing_locally},
                                  {"different", r.different},
                                  {"deleted_in_stripe", r.deleted_in_stripe},
                                  {"repaired", r.repaired},
                                  {"examples", r.examples}}
                       .dump()
                << "\n";
    }
    // Drift without --repair is a finding (exit 1), so a cron job can alert on it.
    return drift > 0 && !parsed.repair ? kExitFailure : kExitOk;
  });
}

}  // namespace billing::app

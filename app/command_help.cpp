#include "app/command_help.h"

#include <map>

namespace billing::app {
namespace {

// What `billing <command> --help` prints. The environment variables named are the ones the command can't run
// without; README.md's "Configuration" table has every variable with its default.
const std::map<std::string, std::string, std::less<>>& helpTexts() {
  static const std::map<std::string, std::string, std::less<>> texts = {
      {"webhook", R"(usage: billing webhook [--check-config]

The Stripe webhook receiver: POST /webhooks/stripe verifies Stripe-Signature, produces the raw event to Kafka and
answers 2xx only after Kafka's acknowledgement. /healthz, /readyz and /metrics on the same port.

  --check-config   validate the configuration, print a summary and exit (0: ok, 2: every problem listed)

Needs: BILLING_WEBHOOK_SECRETS (or _FILE), BILLING_KAFKA_BROKERS. Listens on BILLING_WEBHOOK_PORT (8080).
)"},
      {"worker", R"(usage: billing worker [--check-config]

The sync worker: consumes the events topic and applies each event idempotently to PostgreSQL (stale events never
overwrite newer state; poison events go to the dead-letter topic). /healthz, /readyz, /metrics on BILLING_WORKER_PORT.

  --check-config   validate the configuration, print a summary and exit (0: ok, 2: every problem listed)

Needs: BILLING_KAFKA_BROKERS, BILLING_DATABASE_URL (or _FILE); BILLING_STRIPE_API_KEY to refetch objects in doubt.
)"},
      {"api", R"(usage: billing api [--check-config]

The billing API for product backends and the billing page (GET /openapi.yaml describes it): plans, subscription,
entitlements, invoices, plan changes with a proration preview, Customer Portal sessions, usage ingestion.

  --check-config   validate the configuration, print a summary and exit (0: ok, 2: every problem listed)

Needs: BILLING_DATABASE_URL, BILLING_STRIPE_API_KEY, BILLING_API_KEYS, BILLING_API_TOKEN_SECRET (each also as
_FILE); BILLING_KAFKA_BROKERS with BILLING_USAGE_METERS. Listens on BILLING_API_PORT (8082).
)"},
      {"usage-reporter", R"(usage: billing usage-reporter [--check-config]

Records accepted usage from the usage topic into PostgreSQL and reports it to Stripe Billing Meters exactly once
per aggregate; checks its units against Stripe's meter event summaries. /healthz, /readyz, /metrics on
BILLING_USAGE_PORT (8083).

  --check-config   validate the configuration, print a summary and exit (0: ok, 2: every problem listed)

Needs: BILLING_KAFKA_BROKERS, BILLING_DATABASE_URL, BILLING_STRIPE_API_KEY (each secret also as _FILE).
)"},
      {"create-topics", R"(usage: billing create-topics

Creates the Kafka topics the service uses (events, usage and their dead-letter topics) if they are missing;
existing topics are left as they are. Partitions and replication: BILLING_KAFKA_EVENTS_PARTITIONS,
BILLING_KAFKA_USAGE_PARTITIONS, BILLING_KAFKA_REPLICATION_FACTOR.

Needs: BILLING_KAFKA_BROKERS.
)"},
      {"migrate", R"(usage: billing migrate [--status]

Applies the database migrations built into this executable, forward only, each exactly once, under an advisory
lock (overlapping runs are safe). A database newer than the executable is left alone.

  --status   list each known migration as applied or pending and change nothing

Needs: BILLING_DATABASE_URL (or _FILE).
)"},
      {"configure-portal", R"(usage: billing configure-portal --config FILE

Creates the Customer Portal configuration described by FILE (JSON, as api/portal.example.json), or updates the one
this command created before (metadata managed_by = stripe-billing). Idempotent; prints the configuration id.

Needs: BILLING_STRIPE_API_KEY (or _FILE).
)"},
      {"backfill", R"(usage: billing backfill [--since DATE] [--objects LIST] [--restart]

Copies existing Stripe objects into PostgreSQL through the same appliers as events; resumable (a second run
continues where the first stopped).

  --since DATE     only objects created at or after DATE (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)
  --objects LIST   comma-separated object kinds (default: all)
  --restart        start over instead of resuming

Needs: BILLING_DATABASE_URL, BILLING_STRIPE_API_KEY.
)"},
      {"replay-events", R"(usage: billing replay-events --since DATE [--until DATE] [--types LIST]

Sends the events Stripe recorded in the window (Stripe keeps 30 days) through the events topic again; the workers
skip what they applied already and apply the rest in order.

  --since DATE, --until DATE   the window (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)
  --types LIST                 comma-separated event types (default: every type the workers apply)

Needs: BILLING_KAFKA_BROKERS, BILLING_STRIPE_API_KEY.
)"},
      {"reconcile", R"(usage: billing reconcile [--objects LIST] [--sample N] [--repair]

Compares PostgreSQL with Stripe and prints each difference as a JSON line; exit 1 on drift.

  --objects LIST   comma-separated object kinds (default: all)
  --sample N       compare N objects of each kind chosen at random instead of all
  --repair         write Stripe's state over what differs

Needs: BILLING_DATABASE_URL, BILLING_STRIPE_API_KEY.
)"},
      {"event-types", R"(usage: billing event-types [--thin]

Prints the Stripe event types the workers apply, one per line: subscribe the webhook endpoint to exactly these.

  --thin   the thin (v2) event types instead, for the event destination
)"},
      {"version", R"(usage: billing version

Prints the version.
)"},
  };
  return texts;
}

}  // namespace

const std::string* commandHelp(std::string_view command) {
  const auto& texts = helpTexts();
  auto found = texts.find(command);
  return found == texts.end() ? nullptr : &found->second;
}

bool asksForHelp(const Args& args) {
  return !args.empty() && (args[0] == "--help" || args[0] == "-h");
}

}  // namespace billing::app

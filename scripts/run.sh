#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, starts a private PostgreSQL 15 and a single-node
# Kafka in .state/, creates the topics, and runs every service role that exists (today: the webhook receiver) in
# the foreground. Ctrl-C stops everything; data stays in .state/ for the next run (delete it to start fresh).
#
# Stripe: with no BILLING_WEBHOOK_SECRETS given, a local signing secret is generated into .state/ and
# scripts/send-event.sh signs sample events with it, standing in for Stripe's deliveries.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/install-deps.sh"
"$REPO_ROOT/scripts/build.sh"

STATE="${BILLING_STATE_DIR:-$REPO_ROOT/.state}"
mkdir -p "$STATE"
billing="$BUILD_DIR/app/billing"

cleanup() {
  log "stopping local services"
  [[ -n "${webhook_pid:-}" ]] && kill "$webhook_pid" 2>/dev/null && wait "$webhook_pid" 2>/dev/null
  "$REPO_ROOT/scripts/kafka.sh" stop "$STATE/kafka" || true
  "$REPO_ROOT/scripts/postgres.sh" stop "$STATE/postgres" || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

log "starting PostgreSQL 15"
export BILLING_DATABASE_URL="$("$REPO_ROOT/scripts/postgres.sh" start "$STATE/postgres")"
"$billing" migrate
log "starting Kafka $KAFKA_VERSION"
export BILLING_KAFKA_BROKERS="$("$REPO_ROOT/scripts/kafka.sh" start "$STATE/kafka")"
export BILLING_KAFKA_REPLICATION_FACTOR=1
"$billing" create-topics

if [[ -z "${BILLING_WEBHOOK_SECRETS:-}${BILLING_WEBHOOK_SECRETS_FILE:-}" ]]; then
  if [[ ! -f "$STATE/webhook-secret" ]]; then
    (umask 077; echo "whsec_local_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$STATE/webhook-secret")
  fi
  export BILLING_WEBHOOK_SECRETS_FILE="$STATE/webhook-secret"
fi
export BILLING_WEBHOOK_PORT="${BILLING_WEBHOOK_PORT:-8080}"

"$billing" webhook --check-config
"$billing" webhook &
webhook_pid=$!
if ! wait_for_port "$BILLING_WEBHOOK_PORT" 30; then die "webhook receiver did not start"; fi

cat >&2 <<TXT

  Webhook receiver: http://127.0.0.1:$BILLING_WEBHOOK_PORT/webhooks/stripe  (health: /healthz /readyz /metrics)
  Kafka:            $BILLING_KAFKA_BROKERS   topic ${BILLING_KAFKA_EVENTS_TOPIC:-stripe.events}
  PostgreSQL:       $BILLING_DATABASE_URL
  Send a signed sample event:   scripts/send-event.sh tests/fixtures/stripe/events/invoice.paid.json
  Read the topic:               kcat -b $BILLING_KAFKA_BROKERS -C -t stripe.events -e -f '%k %h\n'
  Ctrl-C stops everything.

TXT
wait "$webhook_pid"

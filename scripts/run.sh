#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, starts a private PostgreSQL 15 and a single-node
# Kafka in .state/, creates the topics, and runs every service role in the foreground: the webhook receiver, the
# sync worker, the billing API and the usage reporter. Ctrl-C stops everything; data stays in .state/ for the next run (delete it to start fresh).
#
# Stripe: with no BILLING_STRIPE_API_KEY given, Stripe's stripe-mock stands in for the Stripe API
# (BILLING_STRIPE_API_BASE points at it). stripe-mock is stateless (it answers any id with a fixture), so the worker
# then runs without a Stripe key: objects in doubt wait in refetch_queue instead of being "repaired" with fixtures. With no BILLING_WEBHOOK_SECRETS given, a local signing secret is generated
# into .state/ and scripts/send-event.sh signs sample events with it, standing in for Stripe's deliveries.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/install-deps.sh"
"$REPO_ROOT/scripts/build.sh"

STATE="${BILLING_STATE_DIR:-$REPO_ROOT/.state}"
mkdir -p "$STATE"
billing="$BUILD_DIR/app/billing"

cleanup() {
  set +e  # stop everything even when one step fails (a killed child's wait returns non-zero)
  log "stopping local services"
  for pid in ${api_pid:-} ${usage_pid:-} ${webhook_pid:-} ${worker_pid:-}; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  [[ -n "${stripe_pid:-}" ]] && kill "$stripe_pid" 2>/dev/null && wait "$stripe_pid" 2>/dev/null
  "$REPO_ROOT/scripts/kafka.sh" stop "$STATE/kafka" || true
  "$REPO_ROOT/scripts/postgres.sh" stop "$STATE/postgres" || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

log "starting PostgreSQL 15"
# Assign, then export: `export X="$(cmd)"` would hide a failing cmd from set -e.
BILLING_DATABASE_URL="$("$REPO_ROOT/scripts/postgres.sh" start "$STATE/postgres")"
export BILLING_DATABASE_URL
"$billing" migrate
log "starting Kafka $KAFKA_VERSION"
BILLING_KAFKA_BROKERS="$("$REPO_ROOT/scripts/kafka.sh" start "$STATE/kafka")"
export BILLING_KAFKA_BROKERS
export BILLING_KAFKA_REPLICATION_FACTOR=1
"$billing" create-topics

stripe_note="Stripe API (from your BILLING_STRIPE_API_KEY)"
worker_stripe_key=()
if [[ -z "${BILLING_STRIPE_API_KEY:-}${BILLING_STRIPE_API_KEY_FILE:-}" ]]; then
  stripe_port="$(free_port)"
  "$CACHE_DIR/bin/stripe-mock" -http-addr "127.0.0.1:$stripe_port" -https-addr "127.0.0.1:$(free_port)" \
    > "$STATE/stripe-mock.log" 2>&1 &
  stripe_pid=$!
  wait_for_port "$stripe_port" 30 || die "stripe-mock did not start (see $STATE/stripe-mock.log)"
  export BILLING_STRIPE_API_BASE="http://127.0.0.1:$stripe_port" BILLING_STRIPE_API_KEY="sk_test_local_stripe_mock"
  stripe_note="$BILLING_STRIPE_API_BASE (stripe-mock: no BILLING_STRIPE_API_KEY given)"
  worker_stripe_key=(-u BILLING_STRIPE_API_KEY -u BILLING_STRIPE_API_BASE)
fi

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

export BILLING_WORKER_PORT="${BILLING_WORKER_PORT:-8081}"
env "${worker_stripe_key[@]}" "$billing" worker --check-config
env "${worker_stripe_key[@]}" "$billing" worker &
worker_pid=$!
if ! wait_for_port "$BILLING_WORKER_PORT" 30; then die "worker did not start"; fi

# The billing API, with API key and token secret generated into .state/ unless given, and usage metering on for
# the demo meter `api_requests` unless BILLING_USAGE_METERS says otherwise.
secret_file() {  # name: a random secret in $STATE/name, made once
  [[ -f "$STATE/$1" ]] || (umask 077; echo "$2$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$STATE/$1")
}
if [[ -z "${BILLING_API_KEYS:-}${BILLING_API_KEYS_FILE:-}" ]]; then
  secret_file api-key bk_local_
  export BILLING_API_KEYS_FILE="$STATE/api-key"
fi
if [[ -z "${BILLING_API_TOKEN_SECRET:-}${BILLING_API_TOKEN_SECRET_FILE:-}" ]]; then
  secret_file api-token-secret ts_local_
  export BILLING_API_TOKEN_SECRET_FILE="$STATE/api-token-secret"
fi
export BILLING_USAGE_METERS="${BILLING_USAGE_METERS:-api_requests}"
export BILLING_API_PORT="${BILLING_API_PORT:-8082}" BILLING_USAGE_PORT="${BILLING_USAGE_PORT:-8083}"
export BILLING_API_ALLOWED_ORIGINS="${BILLING_API_ALLOWED_ORIGINS:-http://127.0.0.1:$BILLING_API_PORT,http://localhost:$BILLING_API_PORT}"
"$billing" api --check-config
"$billing" api &
api_pid=$!
if ! wait_for_port "$BILLING_API_PORT" 30; then die "api did not start"; fi
# stripe-mock has no v2 paths: keep the demo's usage on the v1 meter events endpoint.
[[ -n "${worker_stripe_key[*]}" ]] && export BILLING_USAGE_STREAM_THRESHOLD="${BILLING_USAGE_STREAM_THRESHOLD:-1000000}"
"$billing" usage-reporter --check-config
"$billing" usage-reporter &
usage_pid=$!
if ! wait_for_port "$BILLING_USAGE_PORT" 30; then die "usage reporter did not start"; fi

cat >&2 <<TXT

  Webhook receiver: http://127.0.0.1:$BILLING_WEBHOOK_PORT/webhooks/stripe  (health: /healthz /readyz /metrics)
  Sync worker:      health/metrics on http://127.0.0.1:$BILLING_WORKER_PORT  (/healthz /readyz /metrics)
  Billing API:      http://127.0.0.1:$BILLING_API_PORT/openapi.yaml  (key: ${BILLING_API_KEYS_FILE:-your BILLING_API_KEYS})
  Usage reporter:   health/metrics on http://127.0.0.1:$BILLING_USAGE_PORT  (meters: $BILLING_USAGE_METERS)
  Kafka:            $BILLING_KAFKA_BROKERS   topic ${BILLING_KAFKA_EVENTS_TOPIC:-stripe.events}
  PostgreSQL:       $BILLING_DATABASE_URL
  Stripe API:       $stripe_note
  Send a signed sample event:   scripts/send-event.sh tests/fixtures/stripe/events/invoice.paid.json
  See it synced:                psql $BILLING_DATABASE_URL -c 'SELECT id, status, total FROM invoices'
  Dead letters:                 $billing dlq list
  Ctrl-C stops everything.

TXT
wait -n "$webhook_pid" "$worker_pid" "$api_pid" "$usage_pid"

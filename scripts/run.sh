#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, starts a private PostgreSQL 15 and a single-node
# Kafka in .state/, creates the topics, and runs every service role in the foreground: the webhook receiver, the
# sync worker, the billing API and the usage reporter. Ctrl-C stops everything; data stays in .state/ for the next run (delete it to start fresh).
#
# Stripe: with no BILLING_STRIPE_API_KEY given, the stateful Stripe fake (tests/support, `fake-stripe`) stands in for
# the Stripe API with a demo account (Starter/Pro/Business, four customers), copied into PostgreSQL by `billing
# backfill`; the account is kept in .state/fake-stripe.json beside the database (saved at every change, loaded at the
# next start, on BILLING_FAKE_STRIPE_PORT, default 8084, so its hosted-page links stay valid); run.sh maps the accounts demo, demo_declined, demo_new, demo_past_due, demo_3ds (its bank asks for 3-D
# Secure) and demo_none (no subscription yet) to them, reports some usage and
# prints a billing page link for each. With no BILLING_WEBHOOK_SECRETS given, a local signing secret is generated
# into .state/ and scripts/send-event.sh signs sample events with it, standing in for Stripe's deliveries.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/install-deps.sh"
"$REPO_ROOT/scripts/build.sh"

STATE="${BILLING_STATE_DIR:-$REPO_ROOT/.state}"
first_run=1; [[ -d "$STATE/postgres" ]] && first_run=0
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

if [[ -z "${BILLING_WEBHOOK_SECRETS:-}${BILLING_WEBHOOK_SECRETS_FILE:-}" ]]; then
  if [[ ! -f "$STATE/webhook-secret" ]]; then
    (umask 077; echo "whsec_local_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$STATE/webhook-secret")
  fi
  export BILLING_WEBHOOK_SECRETS_FILE="$STATE/webhook-secret"
fi
export BILLING_WEBHOOK_PORT="${BILLING_WEBHOOK_PORT:-8080}"

stripe_note="Stripe API (from your BILLING_STRIPE_API_KEY)"
demo=0
if [[ -z "${BILLING_STRIPE_API_KEY:-}${BILLING_STRIPE_API_KEY_FILE:-}" ]]; then
  # No Stripe key: the stateful Stripe fake with a demo account stands in (plan changes, portal, meters work). It
  # delivers its events to the webhook receiver, signed, as Stripe would, and serves stand-ins for Stripe's hosted
  # Checkout and invoice pages.
  [[ -x "$BUILD_DIR/tests/fake-stripe" ]] || die "no $BUILD_DIR/tests/fake-stripe (built with the tests): build with BILLING_TESTS=ON or give BILLING_STRIPE_API_KEY"
  delivery_secret="${BILLING_WEBHOOK_SECRETS_FILE:-}"
  if [[ -z "$delivery_secret" ]]; then
    delivery_secret="$STATE/fake-delivery-secret"
    (umask 077; echo "${BILLING_WEBHOOK_SECRETS%%,*}" > "$delivery_secret")
  fi
  # The stand-in's account lives beside the database: Stripe never forgets an object or reuses an id, and the
  # database keeps every object and processed event id of the last run.
  if [[ $first_run -eq 0 && ! -f "$STATE/fake-stripe.json" ]]; then
    log "warning: $STATE has a database but no saved Stripe stand-in account (fake-stripe.json): the stand-in starts a" \
      "new account, and what the database holds of the old one is drift (delete $STATE to start over)"
  fi
  "$BUILD_DIR/tests/fake-stripe" --port "${BILLING_FAKE_STRIPE_PORT:-8084}" --state-file "$STATE/fake-stripe.json" \
    --deliver-to "$BILLING_WEBHOOK_PORT/webhooks/stripe" --webhook-secret-file "$delivery_secret" \
    > "$STATE/fake-stripe.log" 2>&1 &
  stripe_pid=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$STATE/fake-stripe.log" && break; kill -0 "$stripe_pid" 2>/dev/null || break; sleep 0.1; done
  stripe_base="$(sed -n 's/^fake-stripe listening on //p' "$STATE/fake-stripe.log")"
  [[ -n "$stripe_base" ]] || { cat "$STATE/fake-stripe.log" >&2; die "the Stripe fake did not start (see $STATE/fake-stripe.log)"; }
  export BILLING_STRIPE_API_BASE="$stripe_base" BILLING_STRIPE_METER_EVENTS_BASE="$stripe_base"
  export BILLING_STRIPE_API_KEY="sk_test_local_fake"
  stripe_note="$stripe_base (the Stripe fake with a demo account: no BILLING_STRIPE_API_KEY given)"
  demo=1
fi

"$billing" webhook --check-config
"$billing" webhook &
webhook_pid=$!
if ! wait_for_port "$BILLING_WEBHOOK_PORT" 30; then die "webhook receiver did not start"; fi

export BILLING_WORKER_PORT="${BILLING_WORKER_PORT:-8081}"
"$billing" worker --check-config
"$billing" worker &
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
[[ $demo -eq 1 ]] && export BILLING_API_TOKEN_TTL_SECONDS="${BILLING_API_TOKEN_TTL_SECONDS:-28800}"
export BILLING_API_ALLOWED_ORIGINS="${BILLING_API_ALLOWED_ORIGINS:-http://127.0.0.1:$BILLING_API_PORT,http://localhost:$BILLING_API_PORT}"
"$billing" api --check-config
"$billing" api &
api_pid=$!
if ! wait_for_port "$BILLING_API_PORT" 30; then die "api did not start"; fi
"$billing" usage-reporter --check-config
"$billing" usage-reporter &
usage_pid=$!
if ! wait_for_port "$BILLING_USAGE_PORT" 30; then die "usage reporter did not start"; fi

# The demo: the fake's objects copied in through the sync's own backfill, the product's accounts mapped to them,
# some usage reported, and a billing page link per account (an 8-hour account token in the URL fragment).
demo_links=""
if [[ $demo -eq 1 ]]; then
  "$billing" backfill > "$STATE/backfill.log" 2>&1 || die "demo backfill failed (see $STATE/backfill.log)"
  api_key="$(head -n1 "$BILLING_API_KEYS_FILE" 2>/dev/null || echo "${BILLING_API_KEYS%%,*}")"
  call() {  # method path body: the API's answer, or die
    curl -sf -X "$1" "http://127.0.0.1:$BILLING_API_PORT$2" -H "Authorization: Bearer $api_key" \
      -H "Content-Type: application/json" -d "$3" || die "demo setup: $1 $2 failed"
  }
  usage='{"events":['
  for day in $(seq 0 9); do
    usage+="{\"identifier\":\"demo-usage-$day\",\"account_id\":\"demo\",\"event_name\":\"${BILLING_USAGE_METERS%%,*}\",\"value\":$((120 + day * 37 % 90)),\"timestamp\":$(( $(date +%s) - day * 86400 ))}"
    [[ $day -lt 9 ]] && usage+=','
  done
  usage+=']}'
  for account in demo demo_declined demo_new demo_past_due demo_3ds demo_none; do
    call POST /v1/accounts "{\"account_id\":\"$account\",\"customer_id\":\"cus_$account\"}" >/dev/null
    token="$(call POST /v1/tokens "{\"account_id\":\"$account\",\"ttl_seconds\":$BILLING_API_TOKEN_TTL_SECONDS}" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
    demo_links+="  Billing page ($account): http://127.0.0.1:$BILLING_API_PORT/billing/#token=$token"$'\n'
  done
  # The demo's usage once per account: a restart keeps what the first run recorded (and Stripe's meter dropped
  # a resend of its identifiers anyway).
  if grep -q "^fake-stripe account new" "$STATE/fake-stripe.log"; then
    call POST /v1/usage "$usage" >/dev/null
    # Accepted usage shows once the usage reporter has recorded it (its consumer group's first join takes a few
    # seconds): wait for that, so the billing page links below show the demo's usage from the first load.
    for _ in $(seq 1 60); do
      recorded="$(call GET /v1/accounts/demo/usage "" | python3 -c 'import json, sys; print(sum(m["total"] for m in json.load(sys.stdin)["meters"]))')"
      [[ "$recorded" -gt 0 ]] && break
      sleep 0.5
    done
    [[ "$recorded" -gt 0 ]] || log "warning: the usage reporter has not recorded the demo usage after 30 s"
  fi
fi

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
$demo_links  Ctrl-C stops everything.

TXT
wait -n "$webhook_pid" "$worker_pid" "$api_pid" "$usage_pid"

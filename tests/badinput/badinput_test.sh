#!/usr/bin/env bash
# Bad input over every HTTP endpoint of every role, against the real processes: PostgreSQL 15, Kafka, the Stripe
# fake, then `billing webhook`, `worker`, `api` and `usage-reporter` with known secrets (a webhook signing secret, an
# API key, a token secret, a Stripe key, a database password). badinput.py sends the table (framing, JSON, auth,
# pipelining, a connection flood, 300 slow + 2,000 idle connections per port with ordinary requests timed), then
# this script checks that a valid event still syncs (nothing lost), every role is still up and exits cleanly on
# SIGTERM, and that no secret appears in any log line or metric.
#   tests/badinput/badinput_test.sh BILLING FAKE_STRIPE [--slow N --idle N]
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/lib.sh"
set +e
billing="$1"; fake_stripe="$2"; shift 2
state="$(mktemp -d /tmp/billing-badinput-XXXXXX)"
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi; }
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  "$root/scripts/kafka.sh" stop "$state/kafka" >/dev/null 2>&1
  "$root/scripts/postgres.sh" stop "$state/postgres" >/dev/null 2>&1
  rm -rf "$state"
}
trap cleanup EXIT

rand() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
webhook_secret="whsec_badinput_$(rand)"; api_key="bk_badinput_$(rand)"; token_secret="ts_badinput_$(rand)"
stripe_key="sk_test_badinput_$(rand)"; db_password="pw_badinput_$(rand)"

db="$("$root/scripts/postgres.sh" start "$state/postgres")" || { echo "NOT RUN: PostgreSQL did not start"; exit 1; }
brokers="$("$root/scripts/kafka.sh" start "$state/kafka")" || { echo "NOT RUN: Kafka did not start"; exit 1; }
# The cluster trusts local connections, so any password works; the roles still carry it in their URL.
psql "$db" -qc "ALTER ROLE billing PASSWORD '$db_password'" || { echo "NOT RUN: psql failed"; exit 1; }
db_with_password="${db/billing@/billing:$db_password@}"

"$fake_stripe" > "$state/fake-stripe.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do grep -q "listening on" "$state/fake-stripe.log" && break; sleep 0.1; done
stripe_base="$(sed -n 's/^fake-stripe listening on //p' "$state/fake-stripe.log")"
[[ -n "$stripe_base" ]] || { echo "NOT RUN: the Stripe fake did not start"; exit 1; }

webhook_port="$(free_port)"; worker_port="$(free_port)"; api_port="$(free_port)"; usage_port="$(free_port)"
export BILLING_DATABASE_URL="$db_with_password" BILLING_KAFKA_BROKERS="$brokers" BILLING_KAFKA_REPLICATION_FACTOR=1
export BILLING_WEBHOOK_SECRETS="$webhook_secret" BILLING_API_KEYS="$api_key" BILLING_API_TOKEN_SECRET="$token_secret"
export BILLING_STRIPE_API_KEY="$stripe_key" BILLING_STRIPE_API_BASE="$stripe_base" BILLING_STRIPE_METER_EVENTS_BASE="$stripe_base"
export BILLING_USAGE_METERS=api_requests BILLING_LOG_LEVEL=debug
export BILLING_WEBHOOK_PORT="$webhook_port" BILLING_WORKER_PORT="$worker_port" BILLING_API_PORT="$api_port" BILLING_USAGE_PORT="$usage_port"
export BILLING_WEBHOOK_HOST=127.0.0.1 BILLING_WORKER_HOST=127.0.0.1 BILLING_API_HOST=127.0.0.1 BILLING_USAGE_HOST=127.0.0.1
# Short client timeouts keep the timeout cases quick; the defaults (10 s header, 30 s body) behave the same, slower.
export BILLING_HTTP_HEADER_TIMEOUT_SECONDS=4 BILLING_HTTP_BODY_TIMEOUT_SECONDS=3
"$billing" migrate > "$state/migrate.log" 2>&1 || { cat "$state/migrate.log"; echo "NOT RUN: migrate failed"; exit 1; }
"$billing" create-topics > "$state/topics.log" 2>&1 || { cat "$state/topics.log"; echo "NOT RUN: create-topics failed"; exit 1; }
"$billing" backfill > "$state/backfill.log" 2>&1 || { cat "$state/backfill.log"; echo "NOT RUN: backfill failed"; exit 1; }

declare -A role_pid
for role in webhook worker api usage-reporter; do
  "$billing" "$role" > "$state/$role.log" 2>&1 &
  role_pid[$role]=$!
  pids+=("$!")
done
ready() { for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return 0; sleep 0.3; done; return 1; }
for pair in "webhook:$webhook_port" "worker:$worker_port" "api:$api_port" "usage-reporter:$usage_port"; do
  ready "${pair#*:}" || { tail -20 "$state/${pair%%:*}.log"; echo "NOT RUN: ${pair%%:*} did not become ready"; exit 1; }
done
curl -sf -X POST "http://127.0.0.1:$api_port/v1/accounts" -H "Authorization: Bearer $api_key" \
  -H "Content-Type: application/json" -d '{"account_id":"badinput","customer_id":"cus_demo"}' >/dev/null \
  || { echo "NOT RUN: could not map the test account"; exit 1; }

mkdir -p "$state/metrics"
python3 "$root/tests/badinput/badinput.py" --webhook "$webhook_port" --api "$api_port" --worker "$worker_port" \
  --reporter "$usage_port" --webhook-secret "$webhook_secret" --api-key "$api_key" --account badinput \
  --metrics-dir "$state/metrics" "$@" | tee "$state/table.txt"
table_rc=${PIPESTATUS[0]}
check "the bad-input table (badinput.py): $(tail -1 "$state/table.txt")" '[[ $table_rc -eq 0 ]]'

# Nothing lost: a valid event sent after all that is acknowledged and synced.
event="$root/tests/fixtures/stripe/events/invoice.paid.json"
ts="$(date +%s)"
sig="$({ printf '%s.' "$ts"; cat "$event"; } | openssl dgst -sha256 -hmac "$webhook_secret" | sed 's/^.*= //')"
code="$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$webhook_port/webhooks/stripe" \
  -H "Stripe-Signature: t=$ts,v1=$sig" -H "Content-Type: application/json" --data-binary "@$event")"
check "a valid event after the table is acknowledged (HTTP $code)" '[[ $code == 200 ]]'
invoice_id="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["object"]["id"])' "$event")"
for _ in $(seq 1 100); do
  [[ "$(psql "$db" -tAc "SELECT count(*) FROM invoices WHERE id = '$invoice_id'")" == 1 ]] && break; sleep 0.2
done
check "and synced to PostgreSQL" '[[ "$(psql "$db" -tAc "SELECT count(*) FROM invoices WHERE id = '"'$invoice_id'"'")" == 1 ]]'
customer_event="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$root/tests/fixtures/stripe/events/customer.created.json")"
check "the event the timed requests sent hundreds of times was applied once" \
  '[[ "$(psql "$db" -tAc "SELECT count(*) FROM processed_events WHERE event_id = '"'$customer_event'"'")" == 1 ]]'

for role in webhook worker api usage-reporter; do
  check "$role still running" 'kill -0 "${role_pid[$role]}" 2>/dev/null'
done
for role in webhook worker api usage-reporter; do
  kill -TERM "${role_pid[$role]}"
  timeout 30 tail --pid="${role_pid[$role]}" -f /dev/null
  wait "${role_pid[$role]}"; rc=$?
  check "$role exits 0 on SIGTERM (exit $rc)" '[[ $rc -eq 0 ]]'
done

# Secrets: none in any log line or metric (each role logged at debug through the whole table).
check "logs were written" '[[ $(cat "$state"/{webhook,worker,api,usage-reporter}.log | wc -l) -gt 20 ]]'
for secret_name in webhook_secret api_key token_secret stripe_key db_password; do
  value="${!secret_name}"
  check "no $secret_name in any log or metric" \
    '! grep -rlF -- "$value" "$state"/*.log "$state/metrics" 2>/dev/null | grep -q .'
  # Nor its distinctive tail (a log that truncates or quotes it).
  check "no part of $secret_name in any log or metric" '! grep -rlF -- "${value: -16}" "$state"/*.log "$state/metrics" 2>/dev/null | grep -q .'
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

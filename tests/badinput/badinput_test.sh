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
source "$root/tests/support/stack.sh"
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi; }

rand() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
webhook_secret="whsec_badinput_$(rand)"; api_key="bk_badinput_$(rand)"; token_secret="ts_badinput_$(rand)"
stripe_key="sk_test_badinput_$(rand)"; db_password="pw_badinput_$(rand)"
export BILLING_WEBHOOK_SECRETS="$webhook_secret" BILLING_API_KEYS="$api_key" BILLING_API_TOKEN_SECRET="$token_secret"
export BILLING_STRIPE_API_KEY="$stripe_key" BILLING_USAGE_METERS=api_requests BILLING_LOG_LEVEL=debug
stack_start_services badinput "$billing" "$fake_stripe"
# The cluster trusts local connections, so any password works; the roles still carry it in their URL.
psql "$db" -qc "ALTER ROLE billing PASSWORD '$db_password'" || stack_not_run "psql failed"
export BILLING_DATABASE_URL="${db/billing@/billing:$db_password@}"
# Short client timeouts keep the timeout cases quick; the defaults (10 s header, 30 s body) behave the same, slower.
export BILLING_HTTP_HEADER_TIMEOUT_SECONDS=4 BILLING_HTTP_BODY_TIMEOUT_SECONDS=3
stack_start_roles
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
code="$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$webhook_port/webhooks/stripe" \
  -H "Stripe-Signature: $(stack_sign "$event" "$webhook_secret")" -H "Content-Type: application/json" --data-binary "@$event")"
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
stack_stop_roles
for role in webhook worker api usage-reporter; do
  check "$role exits 0 on SIGTERM (exit ${stack_role_rc[$role]})" '[[ ${stack_role_rc[$role]} -eq 0 ]]'
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

#!/usr/bin/env bash
# The README's run command: scripts/run.sh comes up (PostgreSQL, Kafka, the Stripe fake with its demo account,
# migrations, receiver, worker, API, usage reporter, the billing page),
# accepts a signed event, syncs it to PostgreSQL, and on SIGTERM stops every process it started. Uses a private state dir and port.
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/lib.sh"
set +e
state="$(mktemp -d /tmp/billing-run-XXXXXX)"  # 0700, like a repo under /root: postgres.sh must cope
port="$(free_port)"; worker_port="$(free_port)"; api_port="$(free_port)"; usage_port="$(free_port)"
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1"; fi; }

BILLING_STATE_DIR="$state" BILLING_WEBHOOK_PORT="$port" BILLING_WORKER_PORT="$worker_port" \
  BILLING_API_PORT="$api_port" BILLING_USAGE_PORT="$usage_port" setsid bash "$root/scripts/run.sh" > "$state/run.log" 2>&1 &
run_pid=$!
for _ in $(seq 1 180); do grep -q "Ctrl-C stops" "$state/run.log" && break; sleep 1; done
check "comes up" 'grep -q "Ctrl-C stops" "$state/run.log"'
check "migrated" 'grep -q "schema at version" "$state/run.log"'
check "the Stripe fake stands in for Stripe" 'grep -q "the Stripe fake with a demo account" "$state/run.log"'
check "a billing page link per demo account" '[[ $(grep -c "Billing page (demo.*/billing/#token=" "$state/run.log") == 6 ]]'
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
reply="$(BILLING_STATE_DIR="$state" BILLING_WEBHOOK_PORT="$port" bash "$root/scripts/send-event.sh" \
  "$root/tests/fixtures/stripe/events/customer.created.json" 2>&1)"
check "accepts a signed event" 'grep -q "HTTP 200" <<<"$reply"'
url="$(bash "$root/scripts/postgres.sh" url "$state/postgres")"
for _ in $(seq 1 100); do
  [[ "$(psql "$url" -tAc "SELECT count(*) FROM customers WHERE id = 'cus_wiBCVtOp32cN8d'" 2>/dev/null)" == 1 ]] && break
  sleep 0.2
done
check "the worker synced it" '[[ "$(psql "$url" -tAc "SELECT email FROM customers WHERE id = '"'"'cus_wiBCVtOp32cN8d'"'"'")" == *@example.com ]]'
check "worker ready" 'curl -sf "http://127.0.0.1:$worker_port/readyz" >/dev/null'
check "api ready" 'curl -sf "http://127.0.0.1:$api_port/readyz" >/dev/null'
check "api answers with the generated key" 'curl -s -H "Authorization: Bearer $(cat "$state/api-key")" \
  "http://127.0.0.1:$api_port/v1/accounts/acct_demo/plans" -o /dev/null -w "%{http_code}" | grep -q 404'
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$usage_port/readyz" >/dev/null && break; sleep 0.2; done
check "usage reporter ready" 'curl -sf "http://127.0.0.1:$usage_port/readyz" >/dev/null'
check "the billing page is served" 'curl -sf "http://127.0.0.1:$api_port/billing/" | grep -q "billing.js"'
check "the demo account is synced" '[[ "$(psql "$url" -tAc "SELECT count(*) FROM subscriptions WHERE customer_id LIKE '"'"'cus_demo%'"'"'")" == 5 ]]'
check "the demo account has its plan" 'curl -s -H "Authorization: Bearer $(cat "$state/api-key")" \
  "http://127.0.0.1:$api_port/v1/accounts/demo/subscription" | grep -q "price_demo_pro_monthly"'

kill -TERM "$run_pid"
for _ in $(seq 1 60); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.5; done
check "exits on SIGTERM" '! kill -0 "$run_pid" 2>/dev/null'
check "kafka stopped" '[[ ! -f "$state/kafka/kafka.pid" ]]'
check "postgres stopped" '! pgrep -f "postgres -D $(cat "$state/postgres/pg-location" 2>/dev/null || echo "$state/postgres")" >/dev/null'
check "nothing left running" '! pgrep -f "$state" >/dev/null'
[[ $failed -gt 0 ]] && tail -30 "$state/run.log"
pkill -KILL -f "$state" 2>/dev/null
[[ -f "$state/postgres/pg-location" ]] && rm -rf "$(cat "$state/postgres/pg-location")"
rm -rf "$state"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

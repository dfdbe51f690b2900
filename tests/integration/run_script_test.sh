#!/usr/bin/env bash
# The README's run command: scripts/run.sh comes up (PostgreSQL, Kafka, the Stripe fake with its demo account,
# migrations, receiver, worker, API, usage reporter, the billing page),
# accepts a signed event, syncs it to PostgreSQL, and on SIGTERM stops every process it started. Uses a private state dir and port.
# Then the restart a user makes: objects made in the first run (a Checkout subscription, a plan change, usage), run.sh
# stopped and started again on the same .state/, more objects made; every object the stand-in lists is in
# PostgreSQL in the same state (`billing reconcile` over every kind finds only the sample event's customer), no id
# was made twice, every event
# the stand-in made was applied.
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/lib.sh"
set +e
state="$(mktemp -d /tmp/billing-run-XXXXXX)"  # 0700, like a repo under /root: postgres.sh must cope
port="$(free_port)"; worker_port="$(free_port)"; api_port="$(free_port)"; usage_port="$(free_port)"
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1"; fi; }

stripe_port="$(free_port)"
start_run() {  # log file: run.sh in the background on the test's state and ports, until it is up
  BILLING_STATE_DIR="$state" BILLING_WEBHOOK_PORT="$port" BILLING_WORKER_PORT="$worker_port" \
    BILLING_API_PORT="$api_port" BILLING_USAGE_PORT="$usage_port" BILLING_FAKE_STRIPE_PORT="$stripe_port" \
    setsid bash "$root/scripts/run.sh" > "$1" 2>&1 &
  run_pid=$!
  for _ in $(seq 1 180); do grep -q "Ctrl-C stops" "$1" && break; kill -0 "$run_pid" 2>/dev/null || break; sleep 1; done
}
stop_run() {
  kill -TERM "$run_pid"
  for _ in $(seq 1 60); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.5; done
}
api() {  # method path [body] [idempotency key]: the API's answer body (the demo's generated key)
  curl -s -X "$1" "http://127.0.0.1:$api_port$2" -H "Authorization: Bearer $(cat "$state/api-key")" \
    -H "Content-Type: application/json" ${4:+-H "Idempotency-Key: $4"} ${3:+-d "$3"}
}
json_field() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval("d" + sys.argv[1]))' "$1"; }
psql_value() { psql "$url" -tAc "$1" 2>/dev/null; }
wait_until() {  # seconds condition
  local i
  for ((i = 0; i < $1 * 4; i++)); do eval "$2" && return 0; sleep 0.25; done
  return 1
}
fake_state="$state/fake-stripe.json"
# Every event the stand-in made was delivered to the receiver and applied by the worker.
all_events_applied() {
  python3 - "$fake_state" "$url" <<'PY'
import json, subprocess, sys
state = json.load(open(sys.argv[1]))
ids = [e["id"] for e in state["events"]]
if state["delivered_events"] != len(ids):
    sys.exit(1)
done = set(subprocess.run(["psql", sys.argv[2], "-tAc", "SELECT event_id FROM processed_events"],
                          capture_output=True, text=True).stdout.split())
sys.exit(0 if all(i in done for i in ids) else 1)
PY
}
checkout_subscribe() {  # account price: a Checkout Session started through the API and paid on the hosted stand-in
  local session url
  session="$(api POST "/v1/accounts/$1/checkout_session" "{\"price_id\":\"$2\",\"success_url\":\"http://127.0.0.1:$api_port/billing/?checkout=complete\",\"cancel_url\":\"http://127.0.0.1:$api_port/billing/\"}")"
  url="$(json_field '["url"]' <<<"$session")" || { echo "checkout session: $session"; return 1; }
  [[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/pay")" == 303 ]]
}
change_plan() {  # account price: preview, then apply it; prints the outcome (applied) or the scheduled change
  local preview token
  preview="$(api POST "/v1/accounts/$1/subscription/preview" "{\"price_id\":\"$2\"}")"
  token="$(json_field '["preview_token"]' <<<"$preview")" || { echo "preview: $preview"; return 1; }
  api POST "/v1/accounts/$1/subscription/change" "{\"preview_token\":\"$token\"}" "restart-test-$1-$2-$RANDOM"
}
subscription_price() {  # account: the plan price of its subscription, as the API serves it from PostgreSQL
  api GET "/v1/accounts/$1/subscription" | python3 -c 'import json, sys
d = json.load(sys.stdin)["subscription"]
print(d["items"][0]["price_id"] if d else "")'
}
post_usage() {  # identifier value
  api POST /v1/usage "{\"events\":[{\"identifier\":\"$1\",\"account_id\":\"demo\",\"event_name\":\"api_requests\",\"value\":$2}]}"
}

start_run "$state/run.log"
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

# No subscription: no billing period yet (the page says so); with one, its period.
check "usage of an account without a subscription: no billing period yet" \
  '[[ "$(api GET /v1/accounts/demo_none/usage | json_field "[\"period_kind\"]")" == calendar_month ]]'
check "usage of a subscribed account: its billing period" \
  '[[ "$(api GET /v1/accounts/demo/usage | json_field "[\"period_kind\"]")" == subscription ]]'

# First run: a Checkout subscription, a plan change, usage; all of it synced before the stop.
check "run 1: demo_none subscribes through Checkout" 'checkout_subscribe demo_none price_demo_starter_monthly'
check "run 1: the Checkout subscription is synced" 'wait_until 60 "[[ \$(subscription_price demo_none) == price_demo_starter_monthly ]]"'
check "run 1: demo upgrades to Business" 'change_plan demo price_demo_business_monthly | grep -q "\"outcome\":\"applied\""'
check "run 1: usage accepted" 'post_usage restart-run1 42 | grep -q "\"accepted\":1"'
check "run 1: every event the stand-in made is applied" 'wait_until 60 all_events_applied'
run1_events="$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["events"]))' "$fake_state")"

stop_run
check "exits on SIGTERM" '! kill -0 "$run_pid" 2>/dev/null'
check "kafka stopped" '[[ ! -f "$state/kafka/kafka.pid" ]]'
check "postgres stopped" '! pgrep -f "postgres -D $(cat "$state/postgres/pg-location" 2>/dev/null || echo "$state/postgres")" >/dev/null'
check "nothing left running" '! pgrep -f "$state" >/dev/null'
check "the stand-in's account is saved in the state dir" '[[ -s "$fake_state" ]]'

# Second run on the same state: the stand-in loads its account, and new ids follow the old ones.
start_run "$state/run2.log"
check "run 2: comes up again" 'grep -q "Ctrl-C stops" "$state/run2.log"'
check "run 2: the stand-in loaded its saved account" 'grep -q "^fake-stripe account loaded" "$state/fake-stripe.log"'
check "run 2: the first run's plan change is still there" '[[ $(subscription_price demo) == price_demo_business_monthly ]]'
check "run 2: the first run's Checkout subscription is still there" '[[ $(subscription_price demo_none) == price_demo_starter_monthly ]]'
check "run 2: demo_new upgrades to Pro" 'change_plan demo_new price_demo_pro_monthly | grep -q "\"outcome\":\"applied\""'
check "run 2: demo_none cancels at period end" 'api POST /v1/accounts/demo_none/subscription/cancel "{}" | grep -q "\"cancel_at_period_end\":true"'
check "run 2: usage accepted" 'post_usage restart-run2 58 | grep -q "\"accepted\":1"'
check "run 2: the stand-in made new events" '[[ $(python3 -c "import json, sys; print(len(json.load(open(sys.argv[1]))[\"events\"]))" "$fake_state") -gt $run1_events ]]'
check "run 2: every event the stand-in made is applied (none taken for a duplicate)" 'wait_until 90 all_events_applied'
check "run 2: no id made twice" 'python3 - "$fake_state" <<'"'"'PY'"'"'
import json, sys
s = json.load(open(sys.argv[1]))
# Stripe objects only: the stand-in keeps side tables (a session's lines, an invoice's confirmation secret) under
# the id of the object they belong to.
ids = [(e["id"], "events") for e in s["events"]] + [
    (i, kind) for kind, objs in s["objects"].items() for i, o in objs.items() if isinstance(o, dict) and o.get("id") == i]
seen = {}
for i, kind in ids:
    seen.setdefault(i, []).append(kind)
twice = {i: kinds for i, kinds in seen.items() if len(kinds) > 1}
if twice:
    print("made twice:", twice)
sys.exit(1 if twice else 0)
PY'
check "run 2: the API serves the new plan" '[[ $(subscription_price demo_new) == price_demo_pro_monthly ]]'
both_usage_recorded() { [[ "$(psql_value "SELECT count(*) FROM usage_events WHERE identifier IN ('restart-run1', 'restart-run2')")" == 2 ]]; }
check "run 2: both runs' usage recorded" 'wait_until 60 both_usage_recorded'
# Every object the stand-in lists, in PostgreSQL in the same state: reconcile walks every kind's list and compares.
reconcile_out="$state/reconcile.out"
# One drift is expected and must be found: the signed sample event sent first is Stripe's fixture, for a customer
# the stand-in's account never had (so Stripe "deleted" it). Nothing else may differ.
only_the_sample_customer_differs() {
  BILLING_DATABASE_URL="$url" BILLING_STRIPE_API_KEY=sk_test_local_fake BILLING_STRIPE_API_BASE="http://127.0.0.1:$stripe_port" \
    "$BUILD_DIR/app/billing" reconcile > "$reconcile_out" 2>&1
  python3 - "$reconcile_out" <<'PY' || { cat "$reconcile_out"; return 1; }
import json, sys
kinds = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{") and '"objects"' in l]
expected = {"customers": (1, ["cus_wiBCVtOp32cN8d"])}
bad = []
for k in kinds:
    drift = k["missing_locally"] + k["different"] + k["deleted_in_stripe"]
    want = expected.get(k["objects"], (0, []))
    if k["checked"] == 0 and k["objects"] in ("products", "prices", "customers", "subscriptions", "invoices"):
        bad.append(k["objects"] + ": nothing checked")
    if (drift, k["examples"]) != want:
        bad.append(k["objects"])
if len(kinds) < 6 or bad:
    print("unexpected reconcile result:", bad or "too few kinds")
    sys.exit(1)
PY
}
check "run 2: billing reconcile finds only the sample event's customer, whom the stand-in never had" only_the_sample_customer_differs
stop_run
check "run 2: exits on SIGTERM" '! kill -0 "$run_pid" 2>/dev/null'
[[ $failed -gt 0 ]] && { tail -30 "$state/run.log"; tail -30 "$state/run2.log" 2>/dev/null; tail -20 "$state/fake-stripe.log"; }
pkill -KILL -f "$state" 2>/dev/null
[[ -f "$state/postgres/pg-location" ]] && rm -rf "$(cat "$state/postgres/pg-location")"
rm -rf "$state"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

#!/usr/bin/env bash
# Cost flat to a million rows: the plan of every statement the roles run on their hot paths (worker apply, the
# refetch queue, API reads, usage recording and sealing), taken by PostgreSQL itself (auto_explain, every statement
# as it runs, with its real parameters) against a schema filled with 1,000,000 accounts, subscriptions and
# customers (tests/scale/fill.sql: 2M items, 2M invoices, 4M processed events, 2M usage events). No statement may
# read a big table with a sequential scan, and every hot path must have run.
#   tests/scale/scale_test.sh BILLING FAKE_STRIPE [SUBSCRIPTIONS]
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/lib.sh"
set +e
billing="$1"; fake_stripe="$2"; rows="${3:-1000000}"
source "$root/tests/support/stack.sh"
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi; }

webhook_secret="whsec_scale_test"; api_key="bk_scale_test_key_0123456789abcdef"
export BILLING_WEBHOOK_SECRETS="$webhook_secret" BILLING_API_KEYS="$api_key" BILLING_API_TOKEN_SECRET="ts_scale_test_token_secret_0123456789abcdef"
export BILLING_STRIPE_API_KEY="sk_test_scale" BILLING_USAGE_METERS=api_requests
export BILLING_USAGE_WINDOW_SECONDS=2 BILLING_USAGE_GRACE_SECONDS=1
export PG_FSYNC=off  # the fill is throwaway; plans don't depend on fsync
stack_start_services scale "$billing" "$fake_stripe"
pg_dir="$(cat "$state/postgres/pg-location" 2>/dev/null || echo "$state/postgres")"

psql "$db" -qc "ALTER SYSTEM SET max_wal_size = '8GB'" -c "SELECT pg_reload_conf()" >/dev/null
started=$(date +%s)
psql "$db" -q -v n="$rows" -f "$root/tests/scale/fill.sql" > "$state/fill.log" 2>&1 \
  || { tail -20 "$state/fill.log"; stack_not_run "the fill failed"; }
echo "filled $rows accounts in $(( $(date +%s) - started )) s"
big_tables="$(psql "$db" -tAc "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class
  WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND reltuples >= $rows / 10")"
echo "big tables: $big_tables"
check "the fill made the big tables" '[[ "$big_tables" == *subscriptions* && "$big_tables" == *processed_events* ]]'

# From here every statement of every new session is logged with its plan, under its session's application name
# (the test's own psql queries are left out of the check).
psql "$db" -q -v ON_ERROR_STOP=1 -c "LOAD 'auto_explain'" \
  -c "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'" \
  -c "ALTER SYSTEM SET auto_explain.log_min_duration = 0" -c "ALTER SYSTEM SET auto_explain.log_format = 'json'" \
  -c "ALTER SYSTEM SET auto_explain.log_nested_statements = on" \
  -c "ALTER SYSTEM SET log_line_prefix = '%m [%p] app=%a '" -c "SELECT pg_reload_conf()" >/dev/null \
  || stack_not_run "auto_explain could not be enabled"
log_start=$(wc -l < "$pg_dir/postgres.log")

stack_start_roles
curl -sf -X POST "http://127.0.0.1:$api_port/v1/accounts" -H "Authorization: Bearer $api_key" \
  -H "Content-Type: application/json" -d '{"account_id":"scale_demo","customer_id":"cus_demo"}' >/dev/null \
  || stack_not_run "could not map the demo account"
filled_account="acct_x$((rows / 2))"
python3 "$root/tests/scale/hot_paths.py" --webhook "$webhook_port" --api "$api_port" --webhook-secret "$webhook_secret" \
  --api-key "$api_key" --filled-account "$filled_account" --demo-account scale_demo --demo-customer cus_demo \
  > "$state/drive.txt"
drive_rc=$?
cat "$state/drive.txt"
check "every request that must succeed did ($(tail -1 "$state/drive.txt"))" '[[ $drive_rc -eq 0 ]]'

# The asynchronous paths finish: every sample event applied, the other-version object fetched, the usage reported.
event_ids="$(python3 -c 'import glob,json,sys; print(",".join(sorted({"'"'"'" + json.load(open(f))["id"] + "'"'"'" for f in glob.glob(sys.argv[1] + "/*.json")})))' "$root/tests/fixtures/stripe/events")"
want_events=$(( $(tr ',' '\n' <<< "$event_ids" | wc -l) + 1 ))
wait_for() {  # $1: SQL answering t when done
  for _ in $(seq 1 120); do [[ "$(psql "$db" -tAc "$1")" == t ]] && return 0; sleep 0.5; done; return 1
}
wait_for "SELECT count(*) = $want_events FROM processed_events WHERE event_id IN ($event_ids, 'evt_scale_other_version')"
rc=$?; check "the worker recorded every sample event and the other-version one ($want_events)" '[[ $rc -eq 0 ]]'
wait_for "SELECT NOT EXISTS (SELECT 1 FROM refetch_queue WHERE object_id = 'cus_demo')"
rc=$?; check "the refetch queue fetched the other-version object" '[[ $rc -eq 0 ]]'
wait_for "SELECT EXISTS (SELECT 1 FROM usage_aggregates WHERE customer_id = 'cus_demo' AND status = 'reported')"
rc=$?; check "the demo account's usage was sealed and reported" '[[ $rc -eq 0 ]]'
sleep 2  # one more round of every periodic query
stack_stop_roles

tail -n +"$((log_start + 1))" "$pg_dir/postgres.log" > "$state/plans.log"
python3 "$root/tests/scale/explain_check.py" "$state/plans.log" --big-tables "$big_tables" --rows "$rows" \
  | tee "$state/explain.txt"
explain_rc=${PIPESTATUS[0]}
check "no sequential scan over a big table on any hot path: $(tail -1 "$state/explain.txt")" '[[ $explain_rc -eq 0 ]]'
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

# The whole service on 127.0.0.1 for the script tests (badinput, scale): PostgreSQL 15, Kafka, the Stripe fake and
# the four roles, each on a free port. Source it after scripts/lib.sh; it sets, for the caller:
#   state db brokers stripe_base webhook_port worker_port api_port usage_port role_pid[ROLE] pids[]
# and stops everything on exit. A service that cannot start ends the test with NOT RUN (it never passes silently).
#   stack_start_services NAME BILLING FAKE_STRIPE   PostgreSQL, Kafka, the fake; migrate, topics, backfill
#   stack_start_roles                               the roles, with whatever BILLING_* the caller exported
#   stack_sign FILE SECRET                          a Stripe-Signature header value for FILE's bytes, now
#   stack_stop_roles                                SIGTERM each role; stack_role_rc[ROLE] is its exit code

pids=()
declare -A role_pid stack_role_rc

stack_cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  "$root/scripts/kafka.sh" stop "$state/kafka" >/dev/null 2>&1
  "$root/scripts/postgres.sh" stop "$state/postgres" >/dev/null 2>&1
  [[ "${STACK_KEEP_STATE:-0}" == 1 ]] && { echo "state kept in $state"; return; }
  local pg_location
  pg_location="$(cat "$state/postgres/pg-location" 2>/dev/null)"
  [[ -n "$pg_location" ]] && rm -rf "$pg_location"
  rm -rf "$state"
}

stack_not_run() { echo "NOT RUN: $*"; exit 1; }

stack_start_services() {
  local name="$1"
  stack_billing="$2"; stack_fake_stripe="$3"
  state="$(mktemp -d "/tmp/billing-$name-XXXXXX")"
  trap stack_cleanup EXIT
  db="$("$root/scripts/postgres.sh" start "$state/postgres")" || stack_not_run "PostgreSQL did not start"
  brokers="$("$root/scripts/kafka.sh" start "$state/kafka")" || stack_not_run "Kafka did not start"
  "$stack_fake_stripe" > "$state/fake-stripe.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 100); do grep -q "listening on" "$state/fake-stripe.log" && break; sleep 0.1; done
  stripe_base="$(sed -n 's/^fake-stripe listening on //p' "$state/fake-stripe.log")"
  [[ -n "$stripe_base" ]] || stack_not_run "the Stripe fake did not start"
  webhook_port="$(free_port)"; worker_port="$(free_port)"; api_port="$(free_port)"; usage_port="$(free_port)"
  export BILLING_DATABASE_URL="$db" BILLING_KAFKA_BROKERS="$brokers" BILLING_KAFKA_REPLICATION_FACTOR=1
  export BILLING_STRIPE_API_BASE="$stripe_base" BILLING_STRIPE_METER_EVENTS_BASE="$stripe_base"
  export BILLING_WEBHOOK_PORT="$webhook_port" BILLING_WORKER_PORT="$worker_port" BILLING_API_PORT="$api_port" BILLING_USAGE_PORT="$usage_port"
  export BILLING_WEBHOOK_HOST=127.0.0.1 BILLING_WORKER_HOST=127.0.0.1 BILLING_API_HOST=127.0.0.1 BILLING_USAGE_HOST=127.0.0.1
  local step
  for step in migrate create-topics backfill; do
    "$stack_billing" "$step" > "$state/$step.log" 2>&1 || { tail -20 "$state/$step.log"; stack_not_run "$step failed"; }
  done
}

stack_start_roles() {
  local role port
  for role in webhook worker api usage-reporter; do
    "$stack_billing" "$role" > "$state/$role.log" 2>&1 &
    role_pid[$role]=$!
    pids+=("$!")
  done
  for role in webhook worker api usage-reporter; do
    case "$role" in webhook) port=$webhook_port ;; worker) port=$worker_port ;; api) port=$api_port ;; *) port=$usage_port ;; esac
    local up=0
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && { up=1; break; }; sleep 0.3; done
    [[ $up == 1 ]] || { tail -20 "$state/$role.log"; stack_not_run "$role did not become ready"; }
  done
}

stack_sign() {
  local ts sig
  ts="$(date +%s)"
  sig="$({ printf '%s.' "$ts"; cat "$1"; } | openssl dgst -sha256 -hmac "$2" | sed 's/^.*= //')"
  echo "t=$ts,v1=$sig"
}

stack_stop_roles() {
  local role
  for role in webhook worker api usage-reporter; do
    kill -TERM "${role_pid[$role]}" 2>/dev/null
    timeout 30 tail --pid="${role_pid[$role]}" -f /dev/null
    wait "${role_pid[$role]}"; stack_role_rc[$role]=$?
  done
}

#!/usr/bin/env bash
# Sync benchmark (documented in bench/README.md): a private PostgreSQL 15 (fsync on) and single-node Kafka, the events
# topic with 12 partitions, `billing webhook` and `billing worker`, then bench/sync_bench:
#   1. apply: the worker's per-event cost alone (parse + one transaction per batch of 1, 50, 500 events)
#   2. e2e:   unique signed events POSTed to the receiver at concurrency 64; the clock stops at the last commit
#   scripts/bench-sync.sh [--events N] [--workers N] [--broker-warmup SECONDS] [--existing N]
# --existing N first fills the schema with N accounts as a big deployment holds them (tests/scale/fill.sql: N
# subscriptions and customers, 2N items and invoices, 4N processed events), so the cost is measured at that size.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

events=30000; workers=1; warmup=30; existing=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --events) events="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --broker-warmup) warmup="$2"; shift 2 ;;
    --existing) existing="$2"; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done

"$REPO_ROOT/scripts/install-deps.sh"
"$REPO_ROOT/scripts/build.sh" billing webhook_load sync_bench

state="$(mktemp -d /tmp/billing-bench-sync-XXXXXX)"
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  "$REPO_ROOT/scripts/kafka.sh" stop "$state/kafka" >/dev/null 2>&1
  "$REPO_ROOT/scripts/postgres.sh" stop "$state/postgres" >/dev/null 2>&1
  [[ -f "$state/postgres/pg-location" ]] && rm -rf "$(cat "$state/postgres/pg-location")"
  rm -rf "$state"
}
trap cleanup EXIT

BILLING_DATABASE_URL="$("$REPO_ROOT/scripts/postgres.sh" start "$state/postgres")"
BILLING_KAFKA_BROKERS="$("$REPO_ROOT/scripts/kafka.sh" start "$state/kafka")"
export BILLING_DATABASE_URL BILLING_KAFKA_BROKERS BILLING_LOG_LEVEL=warn
export BILLING_KAFKA_REPLICATION_FACTOR=1 BILLING_KAFKA_EVENTS_PARTITIONS=12
"$BUILD_DIR/app/billing" migrate >/dev/null
"$BUILD_DIR/app/billing" create-topics >/dev/null
if [[ "$existing" -gt 0 ]]; then
  log "filling the schema with $existing accounts (tests/scale/fill.sql)"
  psql "$BILLING_DATABASE_URL" -q -v n="$existing" -f "$REPO_ROOT/tests/scale/fill.sql" >/dev/null
fi

echo "# $(date -u +%FT%TZ) $(nproc) cores, PostgreSQL 15 (fsync on), Kafka $KAFKA_VERSION single node, $workers worker(s), $existing existing subscriptions"
"$BUILD_DIR/bench/sync_bench" apply --database-url "$BILLING_DATABASE_URL" \
  --events-dir "$REPO_ROOT/tests/fixtures/stripe/events" --events 10000 --batch 1,50,500

secret="whsec_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
port="$(free_port)"
BILLING_WEBHOOK_SECRETS="$secret" BILLING_WEBHOOK_PORT="$port" "$BUILD_DIR/app/billing" webhook > "$state/webhook.log" 2>&1 &
pids+=($!)
wait_for_port "$port" 30 || die "receiver did not start"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
worker_ports=()
for i in $(seq 1 "$workers"); do
  worker_ports+=("$(free_port)")
  BILLING_WORKER_PORT="${worker_ports[-1]}" "$BUILD_DIR/app/billing" worker > "$state/worker-$i.log" 2>&1 &
  pids+=($!)
done

if [[ "$warmup" -gt 0 ]]; then
  # A fresh JVM broker is several times slower until its JIT has compiled the hot paths; sample events repeat
  # (duplicates for the worker), which warms the worker's path too.
  log "warming up for ${warmup}s (not measured)"
  "$BUILD_DIR/bench/webhook_load" --port "$port" --secret "$secret" --events-dir "$REPO_ROOT/tests/fixtures/stripe/events" \
    --concurrency 64 --seconds "$warmup" --warmup 0 >/dev/null
fi
# The measured run starts with the workers idle: the warm-up's backlog drained.
for _ in $(seq 1 600); do
  lag=0
  for p in "${worker_ports[@]}"; do
    l="$(curl -sf "http://127.0.0.1:$p/metrics" | awk '/^billing_worker_consumer_lag/ {s += $2} END {print int(s)}')"
    lag=$((lag + ${l:-1}))
  done
  [[ "$lag" -eq 0 ]] && break
  sleep 0.5
done
${PERF_RECORD:-} "$BUILD_DIR/bench/sync_bench" e2e --database-url "$BILLING_DATABASE_URL" --events-dir "$REPO_ROOT/tests/fixtures/stripe/events" \
  --port "$port" --secret "$secret" --events "$events" --concurrency 64
for i in $(seq 1 "$workers"); do
  grep -v '"level":"info"' "$state/worker-$i.log" | head -3
done

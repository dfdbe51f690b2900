#!/usr/bin/env bash
# Usage ingestion benchmark (documented in bench/README.md): a private PostgreSQL 15 and Kafka 4.1, `billing api`
# with two meters, `billing usage-reporter` reporting to Stripe's stripe-mock (v1; the v2 stream threshold is set out
# of reach because stripe-mock has no v2 paths), and bench/usage_bench POSTing batches for 10 s.
#   scripts/bench-usage.sh [--batch 500] [--concurrency 8] [--seconds 10] [--accounts 1000] [--window 60]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

batch=500; concurrency=8; seconds=10; accounts=1000; window=60
while [[ $# -gt 0 ]]; do
  case "$1" in
    --batch) batch="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --accounts) accounts="$2"; shift 2 ;;
    --window) window="$2"; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done
"$REPO_ROOT/scripts/install-deps.sh"
"$REPO_ROOT/scripts/build.sh" billing usage_bench

state="$(mktemp -d /tmp/billing-bench-usage-XXXXXX)"
cleanup() {
  set +e
  for p in ${api_pid:-} ${reporter_pid:-} ${mock_pid:-} ${fake_pid:-}; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  "$REPO_ROOT/scripts/kafka.sh" stop "$state/kafka" >/dev/null 2>&1
  "$REPO_ROOT/scripts/postgres.sh" stop "$state/postgres" >/dev/null 2>&1
  [[ -f "$state/postgres/pg-location" ]] && rm -rf "$(cat "$state/postgres/pg-location")"
  rm -rf "$state"
}
trap cleanup EXIT

billing="$BUILD_DIR/app/billing"
BILLING_DATABASE_URL="$("$REPO_ROOT/scripts/postgres.sh" start "$state/postgres")"
BILLING_KAFKA_BROKERS="$("$REPO_ROOT/scripts/kafka.sh" start "$state/kafka")"
export BILLING_DATABASE_URL BILLING_KAFKA_BROKERS BILLING_LOG_LEVEL=warn BILLING_KAFKA_REPLICATION_FACTOR=1
"$billing" migrate >/dev/null
"$billing" create-topics >/dev/null
mock_port="$(free_port)"
"$CACHE_DIR/bin/stripe-mock" -http-addr "127.0.0.1:$mock_port" -https-addr "127.0.0.1:$(free_port)" > "$state/stripe-mock.log" 2>&1 &
mock_pid=$!
wait_for_port "$mock_port" 30 || die "stripe-mock did not start"
export BILLING_STRIPE_API_KEY=sk_test_bench BILLING_STRIPE_API_BASE="http://127.0.0.1:$mock_port"
export BILLING_USAGE_METERS=api_requests,storage_gb_hours
# The API checks its meters at start (GET /v1/billing/meters); stripe-mock's list is a fixed sample, so the API
# asks the Stripe fake (its demo account has api_requests; storage_gb_hours is made here). The reporter's meter
# events go to stripe-mock.
fake_port="$(free_port)"
"$BUILD_DIR/tests/fake-stripe" --port "$fake_port" > "$state/fake-stripe.log" 2>&1 &
fake_pid=$!
wait_for_port "$fake_port" 30 || die "the Stripe fake did not start"
for meter in storage_gb_hours; do
  curl -sf -X POST "http://127.0.0.1:$fake_port/v1/billing/meters" -H "Authorization: Bearer sk_test_bench" \
    -H "Idempotency-Key: bench-meter-$meter" -d "display_name=$meter" -d "event_name=$meter" \
    -d "default_aggregation[formula]=sum" >/dev/null || die "could not make the $meter meter at the Stripe fake"
done
key="bk_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
port="$(free_port)"
BILLING_API_KEYS="$key" BILLING_API_TOKEN_SECRET="bench-token-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  BILLING_STRIPE_API_BASE="http://127.0.0.1:$fake_port" BILLING_API_PORT="$port" "$billing" api > "$state/api.log" 2>&1 &
api_pid=$!
wait_for_port "$port" 30 || die "api did not start"
echo "# $(date -u +%FT%TZ) $(nproc) cores; PostgreSQL 15, Kafka 4.1, billing api, stripe-mock and the load generator on the same cores"
# Two phases, each measured alone on the cores: the API accepting (the usage topic buffers), then the reporter
# recording and reporting the backlog (in production they run on separate nodes).
"$BUILD_DIR/bench/usage_bench" --database-url "$BILLING_DATABASE_URL" --port "$port" --key "$key" \
  --accounts "$accounts" --batch "$batch" --concurrency "$concurrency" --seconds "$seconds" > "$state/bench.out" &
bench_pid=$!
until grep -q accepted_events_per_s "$state/bench.out" 2>/dev/null; do
  kill -0 "$bench_pid" 2>/dev/null || { cat "$state/bench.out"; die "usage_bench failed"; }
  sleep 0.2
done
BILLING_USAGE_WINDOW_SECONDS="$window" BILLING_USAGE_GRACE_SECONDS=1 BILLING_USAGE_ARRIVAL_MARGIN_SECONDS=5 BILLING_USAGE_STREAM_THRESHOLD=1000000 \
  BILLING_USAGE_PORT="$(free_port)" "$billing" usage-reporter > "$state/reporter.log" 2>&1 &
reporter_pid=$!
wait "$bench_pid" || { cat "$state/bench.out"; die "usage_bench failed"; }
cat "$state/bench.out"
echo "{\"api_peak_rss_mib\": $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$api_pid/status)}"

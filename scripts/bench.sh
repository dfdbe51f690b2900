#!/usr/bin/env bash
# Webhook receiver benchmark (documented in bench/README.md): a fresh single-node Kafka, the events topic with
# 12 partitions, `billing webhook` with durable produce (acks=all, idempotent), and bench/webhook_load driving it
# with signed sample events at concurrency 1, 16 and 64. Prints one JSON line per level and the receiver's peak RSS.
#   scripts/bench.sh [--seconds N] [--concurrency 1,16,64] [--broker-warmup SECONDS]
# A fresh JVM broker is several times slower until its JIT has compiled the hot paths, so the run starts with an
# unmeasured load phase (default 45 s) at concurrency 64; a production broker is always warm.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

seconds=10; concurrency="1,16,64"; warmup=45
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --broker-warmup) warmup="$2"; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done

"$REPO_ROOT/scripts/install-deps.sh"
"$REPO_ROOT/scripts/build.sh" billing webhook_load hot_path_bench

state="$(mktemp -d /tmp/billing-bench-XXXXXX)"
cleanup() {
  set +e  # stop everything even when one step fails (a killed child's wait returns non-zero)
  [[ -n "${pid:-}" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  "$REPO_ROOT/scripts/kafka.sh" stop "$state/kafka" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

BILLING_KAFKA_BROKERS="$("$REPO_ROOT/scripts/kafka.sh" start "$state/kafka")"
export BILLING_KAFKA_BROKERS
export BILLING_KAFKA_REPLICATION_FACTOR=1 BILLING_KAFKA_EVENTS_PARTITIONS=12
"$BUILD_DIR/app/billing" create-topics >/dev/null
secret="whsec_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
port="$(free_port)"
BILLING_WEBHOOK_SECRETS="$secret" BILLING_WEBHOOK_PORT="$port" BILLING_LOG_LEVEL=warn \
  "$BUILD_DIR/app/billing" webhook > "$state/webhook.log" 2>&1 &
pid=$!
wait_for_port "$port" 30 || die "receiver did not start"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

if [[ "$warmup" -gt 0 ]]; then
  log "warming up the broker for ${warmup}s (not measured)"
  "$BUILD_DIR/bench/webhook_load" --port "$port" --secret "$secret" --events-dir "$REPO_ROOT/tests/fixtures/stripe/events" \
    --concurrency 64 --seconds "$warmup" --warmup 0 >/dev/null
fi
echo "# $(date -u +%FT%TZ) $(nproc) cores, Kafka $KAFKA_VERSION single node, librdkafka $(pkg-config --modversion rdkafka)"
"$BUILD_DIR/bench/webhook_load" --port "$port" --secret "$secret" \
  --events-dir "$REPO_ROOT/tests/fixtures/stripe/events" --concurrency "$concurrency" --seconds "$seconds"
"$BUILD_DIR/bench/hot_path_bench" "$REPO_ROOT/tests/fixtures/stripe/events" 2000
echo "{\"receiver_peak_rss_mib\": $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$pid/status), \"receiver_rss_now_mib\": $(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$pid/status)}"

#!/usr/bin/env bash
# API read benchmark (documented in bench/README.md): a private PostgreSQL 15 with the sample events synced,
# `billing api` (64 HTTP threads, 8 database connections), and bench/api_bench GETting entitlements and the
# subscription of one account over 64 keep-alive connections for 10 s each.
#   scripts/bench-api.sh [--concurrency 64] [--seconds 10]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

concurrency=64; seconds=10
while [[ $# -gt 0 ]]; do
  case "$1" in
    --concurrency) concurrency="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done
"$REPO_ROOT/scripts/install-deps.sh"
"$REPO_ROOT/scripts/build.sh" billing api_bench

state="$(mktemp -d /tmp/billing-bench-api-XXXXXX)"
cleanup() {
  set +e
  [[ -n "${pid:-}" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  "$REPO_ROOT/scripts/postgres.sh" stop "$state/postgres" >/dev/null 2>&1
  [[ -f "$state/postgres/pg-location" ]] && rm -rf "$(cat "$state/postgres/pg-location")"
  rm -rf "$state"
}
trap cleanup EXIT

BILLING_DATABASE_URL="$("$REPO_ROOT/scripts/postgres.sh" start "$state/postgres")"
export BILLING_DATABASE_URL BILLING_LOG_LEVEL=warn
"$BUILD_DIR/app/billing" migrate >/dev/null
key="bk_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
port="$(free_port)"
BILLING_API_KEYS="$key" BILLING_API_TOKEN_SECRET="bench-token-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  BILLING_STRIPE_API_KEY=sk_test_unused BILLING_API_PORT="$port" "$BUILD_DIR/app/billing" api > "$state/api.log" 2>&1 &
pid=$!
wait_for_port "$port" 30 || die "api did not start"
echo "# $(date -u +%FT%TZ) $(nproc) cores, PostgreSQL 15, billing api and the load generator on the same cores"
"$BUILD_DIR/bench/api_bench" --database-url "$BILLING_DATABASE_URL" --events-dir "$REPO_ROOT/tests/fixtures/stripe/events" \
  --port "$port" --key "$key" --concurrency "$concurrency" --seconds "$seconds"
echo "{\"api_peak_rss_mib\": $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$pid/status)}"

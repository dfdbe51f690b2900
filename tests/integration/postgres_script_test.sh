#!/usr/bin/env bash
# scripts/postgres.sh: a private cluster starts on a free port, serves SQL, restarts with its data, and stops.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
state="$(mktemp -d /tmp/billing-pg-XXXXXX)"
cleanup() {
  bash "$root/scripts/postgres.sh" stop "$state" >/dev/null 2>&1
  [[ -f "$state/pg-location" ]] && rm -rf "$(cat "$state/pg-location")"  # see scripts/postgres.sh
  rm -rf "$state"
}
trap cleanup EXIT
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1"; fi; }

url="$(bash "$root/scripts/postgres.sh" start "$state")"
check "url shape" '[[ "$url" =~ ^postgresql://billing@127\.0\.0\.1:[0-9]+/billing$ ]]'
check "serves SQL" '[[ "$(psql "$url" -tAc "select 40 + 2")" == 42 ]]'
check "runs in UTC" '[[ "$(psql "$url" -tAc "show timezone")" == UTC ]]'
psql "$url" -qc "create table t (x int); insert into t values (7)"
check "start twice is a no-op" '[[ "$(bash "$root/scripts/postgres.sh" start "$state")" == "$url" ]]'
bash "$root/scripts/postgres.sh" stop "$state"
check "stopped" '! psql "$url" -tAc "select 1" >/dev/null 2>&1'
bash "$root/scripts/postgres.sh" start "$state" >/dev/null
check "data survives a restart" '[[ "$(psql "$url" -tAc "select x from t")" == 7 ]]'
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

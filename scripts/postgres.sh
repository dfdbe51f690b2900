#!/usr/bin/env bash
# A private PostgreSQL 15 cluster on 127.0.0.1 with a free port (Debian's postgresql-15 binaries).
#   scripts/postgres.sh start STATE_DIR   initdb on first use, start; prints a libpq URL (postgresql://...)
#   scripts/postgres.sh stop STATE_DIR    fast shutdown (data stays)
#   scripts/postgres.sh url STATE_DIR
# The server runs as the 'postgres' OS user when started as root (PostgreSQL refuses to run as root).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmd="${1:-}"; state="${2:-}"
[[ -n "$cmd" && -n "$state" ]] || die "usage: postgres.sh start|stop|url STATE_DIR"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
[[ -x "$PG_BIN/initdb" ]] || die "PostgreSQL 15 is not installed; run scripts/install-deps.sh"

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$state"
state="$(cd "$state" && pwd)"
# Everything PostgreSQL writes (data, socket, log, port) lives in $pg. As root the server runs as 'postgres', which
# may not be able to reach $state (a repo under /root, a 0700 temp dir): then $pg is a postgres-owned directory in
# /var/tmp named after $state, and $state/pg-location points to it.
pg="$state"
if [[ $(id -u) -eq 0 ]]; then
  if [[ -f "$state/pg-location" ]]; then
    pg="$(cat "$state/pg-location")"
  elif ! runuser -u postgres -- test -x "$state" 2>/dev/null; then
    pg="/var/tmp/stripe-billing-postgres/$(printf '%s' "$state" | sha1sum | cut -c1-16)"
    mkdir -p "$pg" && chmod 755 /var/tmp/stripe-billing-postgres && echo "$pg" > "$state/pg-location"
  fi
fi
data="$pg/pgdata"

start() {
  if [[ ! -f "$data/PG_VERSION" ]]; then
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$pg"
    as_owner "$PG_BIN/initdb" -D "$data" -U billing --auth=trust -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
      || { cat "$state/initdb.log" >&2; die "initdb failed"; }
    free_port > "$state/port"
  fi
  local port; port="$(cat "$state/port")"
  if ! as_owner "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_owner "$PG_BIN/pg_ctl" -D "$data" -l "$pg/postgres.log" -w -t 60 \
      -o "-p $port -k $pg -c listen_addresses=127.0.0.1 -c timezone=UTC -c fsync=${PG_FSYNC:-on}" start >/dev/null \
      || { tail -20 "$pg/postgres.log" >&2; die "postgres did not start"; }
    # The database the service uses; created once.
    "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U billing -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='billing'" \
      | grep -q 1 || "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U billing billing
  fi
  url
}

url() { echo "postgresql://billing@127.0.0.1:$(cat "$state/port")/billing"; }

stop() {
  [[ -f "$data/PG_VERSION" ]] || return 0
  as_owner "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *) die "unknown command $cmd" ;;
esac

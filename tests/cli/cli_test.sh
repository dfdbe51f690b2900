#!/usr/bin/env bash
# Command-line contract of the billing executable: exit codes and messages operators and scripts rely on.
# Usage: cli_test.sh PATH_TO_BILLING. Prints "N passed, N failed".
set -u
billing="$1"
fixtures="$(cd "$(dirname "$0")/../fixtures" && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0

# expect NAME WANT_EXIT WANT_OUTPUT_REGEX -- command...
expect() {
  local name="$1" want_rc="$2" want_re="$3"; shift 4
  local out rc
  out="$("$@" 2>&1)"; rc=$?
  if [[ $rc -eq $want_rc ]] && grep -Eq -- "$want_re" <<<"$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s: exit %s (want %s), output:\n%s\n' "$name" "$rc" "$want_rc" "$out"
  fi
}

secret="whsec_cli_test_secret"
payload="$fixtures/stripe/events/invoice.paid.json"
now=1780500000
sig=$(python3 -c "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode()+b'.'+open(sys.argv[3],'rb').read(), hashlib.sha256).hexdigest())" "$secret" "$now" "$payload")
printf '%s\n' "$secret" > "$tmp/secret"

expect "no command" 2 "usage: billing" -- "$billing"
expect "unknown command" 2 "unknown command 'frobnicate'" -- "$billing" frobnicate
expect "help" 0 "verify-signature" -- "$billing" help
expect "version" 0 "billing [0-9]" -- "$billing" version
# Every command `billing help` lists answers --help (and -h) with its own usage, exit 0, and runs nothing.
commands=$("$billing" help | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p')
[[ $(wc -w <<<"$commands") -ge 15 ]] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL help lists the commands: $commands"; }
for command in $commands; do
  expect "$command --help" 0 "usage: billing $command" -- env -i "$billing" "$command" --help
  expect "$command -h" 0 "usage: billing $command" -- env -i "$billing" "$command" -h
done
expect "event-types --thin" 0 "^v1\.billing\.meter\.error_report_triggered$" -- "$billing" event-types --thin
expect "event-types: an unknown option" 2 "unknown option '--fat'" -- "$billing" event-types --fat

expect "verify valid" 0 "^valid$" -- "$billing" verify-signature --secret "$secret" --header "t=$now,v1=$sig" --payload-file "$payload" --now "$now"
expect "verify second secret" 0 "^valid$" -- "$billing" verify-signature --secret whsec_other --secret "$secret" --header "t=$now,v1=$sig" --payload-file "$payload" --now "$now"
expect "verify secret file" 0 "^valid$" -- "$billing" verify-signature --secret-file "$tmp/secret" --header "t=$now,v1=$sig" --payload-file "$payload" --now "$now"
expect "verify from stdin" 0 "^valid$" -- bash -c "'$billing' verify-signature --secret '$secret' --header 't=$now,v1=$sig' --payload-file - --now $now < '$payload'"
expect "verify too old" 1 "^timestamp_outside_tolerance$" -- "$billing" verify-signature --secret "$secret" --header "t=$now,v1=$sig" --payload-file "$payload" --now $((now + 301))
expect "verify tolerance flag" 0 "^valid$" -- "$billing" verify-signature --secret "$secret" --header "t=$now,v1=$sig" --payload-file "$payload" --now $((now + 301)) --tolerance 600
expect "verify wrong secret" 1 "^no_matching_signature$" -- "$billing" verify-signature --secret whsec_wrong --header "t=$now,v1=$sig" --payload-file "$payload" --now "$now"
expect "verify malformed" 1 "^malformed_header$" -- "$billing" verify-signature --secret "$secret" --header "v1=$sig" --payload-file "$payload"
expect "verify v0 only" 1 "^no_v1_signature$" -- "$billing" verify-signature --secret "$secret" --header "t=$now,v0=$sig" --payload-file "$payload" --now "$now"
expect "verify empty header" 1 "^missing_header$" -- "$billing" verify-signature --secret "$secret" --header "" --payload-file "$payload"
expect "verify missing args" 2 "required" -- "$billing" verify-signature --secret "$secret"
expect "verify unreadable payload" 2 "cannot read" -- "$billing" verify-signature --secret "$secret" --header x --payload-file /nonexistent
expect "verify bad tolerance" 2 "tolerance" -- "$billing" verify-signature --secret "$secret" --header x --payload-file "$payload" --tolerance soon
expect "verify unknown flag" 2 "unknown option" -- "$billing" verify-signature --frob x

expect "check-config lists every problem" 2 "invalid configuration \(3 problems\)" -- \
  env -i BILLING_WEBHOOK_PORT=eighty "$billing" webhook --check-config
expect "check-config names variables" 2 "BILLING_KAFKA_BROKERS is required" -- env -i "$billing" webhook --check-config
expect "check-config never prints secrets" 2 "entry 1 is not a webhook signing secret" -- \
  env -i BILLING_KAFKA_BROKERS=k:1 BILLING_WEBHOOK_SECRETS=sk_live_supersecret "$billing" webhook --check-config
if env -i BILLING_KAFKA_BROKERS=k:1 BILLING_WEBHOOK_SECRETS=sk_live_supersecret "$billing" webhook --check-config 2>&1 | grep -q supersecret; then
  failed=$((failed + 1)); echo "FAIL check-config echoed a secret"
else
  passed=$((passed + 1))
fi
expect "check-config ok" 0 "configuration ok" -- \
  env -i BILLING_KAFKA_BROKERS=k:1 BILLING_WEBHOOK_SECRETS=whsec_abcdefghij "$billing" webhook --check-config
expect "webhook unknown flag" 2 "unknown option" -- "$billing" webhook --frob
expect "migrate needs a database" 2 "BILLING_DATABASE_URL \(or BILLING_DATABASE_URL_FILE\) is required" -- env -i "$billing" migrate
expect "migrate unreachable database" 1 "cannot connect to PostgreSQL" -- \
  env -i BILLING_DATABASE_URL=postgresql://billing:pw-not-shown@127.0.0.1:1/billing "$billing" migrate
if env -i BILLING_DATABASE_URL=postgresql://billing:pw-not-shown@127.0.0.1:1/billing "$billing" migrate 2>&1 | grep -q pw-not-shown; then
  failed=$((failed + 1)); echo "FAIL migrate echoed the database password"
else
  passed=$((passed + 1))
fi
expect "migrate unknown flag" 2 "unknown option" -- "$billing" migrate --frob
expect "create-topics bad config" 2 "BILLING_KAFKA_BROKERS is required" -- env -i "$billing" create-topics

db=BILLING_DATABASE_URL=postgresql://billing@127.0.0.1:1/billing
expect "worker check-config lists every problem" 2 "invalid configuration \(2 problems\)" -- env -i "$billing" worker --check-config
expect "worker check-config ok" 0 "refetch from Stripe off" -- env -i "$db" BILLING_KAFKA_BROKERS=k:1 "$billing" worker --check-config
expect "worker rejects a publishable key" 2 "BILLING_STRIPE_API_KEY must be a secret" -- \
  env -i "$db" BILLING_KAFKA_BROKERS=k:1 BILLING_STRIPE_API_KEY=pk_live_x "$billing" worker --check-config
expect "worker unknown flag" 2 "unknown option" -- "$billing" worker --frob
expect "dlq usage" 2 "usage: billing dlq" -- "$billing" dlq
expect "dlq replay needs a target" 2 "usage: billing dlq" -- "$billing" dlq replay
expect "dlq bad id" 2 "bad option" -- "$billing" dlq replay --id abc
expect "dlq unreachable database" 1 "cannot connect to PostgreSQL" -- env -i "$db" "$billing" dlq list
expect "backfill unknown kind" 2 "unknown object kind 'widgets'" -- "$billing" backfill --objects customers,widgets
expect "backfill bad date" 2 "--since takes a UTC date" -- "$billing" backfill --since yesterday
expect "backfill needs a Stripe key" 2 "BILLING_STRIPE_API_KEY \(or BILLING_STRIPE_API_KEY_FILE\) is required" -- \
  env -i "$db" "$billing" backfill
expect "replay-events needs --since" 2 "--since is required" -- "$billing" replay-events
expect "replay-events rejects backfill options" 2 "unknown option '--objects'" -- "$billing" replay-events --objects customers
expect "reconcile bad sample" 2 "--sample takes a positive number" -- "$billing" reconcile --sample 0
apienv=(BILLING_API_KEYS=bk_cli_test_key_0123456789abcd BILLING_API_TOKEN_SECRET=cli-test-token-secret-0123456789abcdef "$db" BILLING_STRIPE_API_KEY=sk_test_x)
expect "api check-config lists every problem" 2 "invalid configuration \(4 problems\)" -- env -i "$billing" api --check-config
expect "api check-config ok" 0 "configuration ok: port 8082, 1 API key" -- env -i "${apienv[@]}" "$billing" api --check-config
expect "api usage meters need Kafka" 2 "BILLING_KAFKA_BROKERS is required" -- \
  env -i "${apienv[@]}" BILLING_USAGE_METERS=api_requests "$billing" api --check-config
expect "api bad meter name refused" 2 "BILLING_USAGE_METERS entry 'api requests' is not a meter event name" -- \
  env -i "${apienv[@]}" BILLING_KAFKA_BROKERS=k:1 "BILLING_USAGE_METERS=api requests" "$billing" api --check-config
expect "usage-reporter check-config lists every problem" 2 "invalid configuration \(3 problems\)" -- \
  env -i "$billing" usage-reporter --check-config
expect "usage-reporter check-config ok" 0 "windows of 300 s, v2 stream from 100 aggregates" -- \
  env -i "$db" BILLING_KAFKA_BROKERS=k:1 BILLING_STRIPE_API_KEY=sk_test_x "$billing" usage-reporter --check-config
expect "usage-reporter bad window" 2 "BILLING_USAGE_WINDOW_SECONDS" -- \
  env -i "$db" BILLING_KAFKA_BROKERS=k:1 BILLING_STRIPE_API_KEY=sk_test_x BILLING_USAGE_WINDOW_SECONDS=0 "$billing" usage-reporter --check-config
expect "usage-reporter unknown flag" 2 "unknown option" -- "$billing" usage-reporter --frob
expect "usage without an action" 2 "usage: billing usage failed" -- "$billing" usage
expect "usage retry needs --id or --all-failed" 2 "usage: billing usage failed" -- "$billing" usage retry
expect "usage retry refuses both" 2 "usage: billing usage failed" -- "$billing" usage retry --id 3 --all-failed
expect "usage bad option" 2 "bad option '--frob'" -- "$billing" usage failed --frob
expect "usage needs the database" 2 "BILLING_DATABASE_URL" -- env -i "$billing" usage failed
expect "api short key refused" 2 "BILLING_API_KEYS entry 1 is shorter than 24" -- \
  env -i "${apienv[@]}" BILLING_API_KEYS=short "$billing" api --check-config
expect "api origin with a path refused" 2 "must be an origin, without a path" -- \
  env -i "${apienv[@]}" BILLING_API_ALLOWED_ORIGINS=https://app.example.com/billing "$billing" api --check-config
if env -i "${apienv[@]}" BILLING_API_KEYS=short_secret_value "$billing" api --check-config 2>&1 | grep -q short_secret_value; then
  failed=$((failed + 1)); echo "FAIL api check-config echoed a key"
else
  passed=$((passed + 1))
fi
expect "configure-portal usage" 2 "usage: billing configure-portal" -- "$billing" configure-portal
expect "configure-portal unreadable file" 2 "cannot read" -- "$billing" configure-portal --config /nonexistent.json
printf '{nope' > "$tmp/bad.json"
expect "configure-portal not JSON" 2 "is not valid JSON" -- "$billing" configure-portal --config "$tmp/bad.json"
printf '{"features": {}, "colour": "red"}' > "$tmp/unknown.json"
expect "configure-portal unknown field" 2 "unknown field 'colour'" -- env -i BILLING_STRIPE_API_KEY=sk_test_x BILLING_STRIPE_API_BASE=http://127.0.0.1:1 "$billing" configure-portal --config "$tmp/unknown.json"
expect "help lists the sync commands" 0 "reconcile" -- "$billing" help
expect "event-types lists what the workers apply" 0 "customer.subscription.updated" -- "$billing" event-types

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

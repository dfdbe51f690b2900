#!/usr/bin/env bash
# The container image, built and run for real (no Docker daemon: buildah + a Debian 12 base from mmdebstrap,
# scripts/image.sh): the Dockerfile builds; inside the image `billing --help` (its default command), `billing
# version` and every role's --check-config run; it runs as user 10001 with `billing` as its entrypoint; every shared
# library the executable needs resolves. Then the image's own `billing` migrates the test's PostgreSQL, creates the
# topics on the test's Kafka broker, and runs the webhook receiver and a sync worker: one signed event POSTed to the
# receiver must reach PostgreSQL, and docs/deploy.md's one-time jobs (`billing backfill`, `billing reconcile --sample
# 200`) run in the image against the Stripe fake. The docs' `buildah push` goes to a registry on 127.0.0.1 (Debian's
# docker-registry) and the image is pulled back from it. Usage: image_test.sh FAKE_STRIPE. Ends with "N passed, N failed".
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/lib.sh"
set +e
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed + 1)); echo "PASS $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi; }

fake_stripe="${1:?usage: image_test.sh FAKE_STRIPE}"
if ! command -v buildah >/dev/null || ! command -v mmdebstrap >/dev/null || ! command -v docker-registry >/dev/null; then
  echo "NOT RUN the image test: buildah, mmdebstrap or docker-registry is missing (scripts/install-deps.sh installs them)"
  echo "0 passed, 1 failed"
  exit 1
fi

state="$(mktemp -d /tmp/billing-image-XXXXXX)"
name="localhost/stripe-billing:test-$$"
img() { "$root/scripts/image.sh" buildah "$@"; }
containers=()
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -- -"$pid" 2>/dev/null; done
  sleep 1
  for c in "${containers[@]}"; do img rm "$c" >/dev/null 2>&1; done
  img rmi "$name" >/dev/null 2>&1
  "$root/scripts/kafka.sh" stop "$state/kafka" >/dev/null 2>&1
  "$root/scripts/postgres.sh" stop "$state/postgres" >/dev/null 2>&1
  rm -rf "$state"
}
trap cleanup EXIT

# 1. The build.
started=$(date +%s)
check "the Dockerfile builds with buildah from the local Debian 12 base" \
  '"$root/scripts/image.sh" build "$name" > "$state/build.log" 2>&1 || { tail -40 "$state/build.log"; false; }'
echo "image build: $(( $(date +%s) - started )) s"
if ! img inspect --type image "$name" >/dev/null 2>&1; then
  echo "$passed passed, $failed failed"
  exit 1
fi
config() { img inspect --type image --format "$1" "$name"; }
check "runs as user 10001, not root" '[[ "$(config "{{.OCIv1.Config.User}}")" == "10001:10001" ]]'
check "the entrypoint is the billing executable" '[[ "$(config "{{.OCIv1.Config.Entrypoint}}")" == "[/usr/local/bin/billing]" ]]'
check "the default command is --help" '[[ "$(config "{{.OCIv1.Config.Cmd}}")" == "[--help]" ]]'
epoch="$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)"
check "created at SOURCE_DATE_EPOCH (the last commit's time)" \
  '[[ "$(config "{{.OCIv1.Created.Unix}}")" == "$epoch" ]]'
echo "image size: $(img images --format '{{.Size}}' "$name" 2>/dev/null | head -1)"

# The docs' push (`scripts/image.sh buildah push IMAGE docker://REGISTRY/...`) to a registry on 127.0.0.1: Debian's
# docker-registry over plain HTTP, hence --tls-verify=false; then pulled back as a cluster's node would.
registry_port="$(free_port)"
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$state/registry" "$registry_port" > "$state/registry.yml"
setsid docker-registry serve "$state/registry.yml" > "$state/registry.log" 2>&1 &
pids+=("$!")
registry="127.0.0.1:$registry_port"
registry_up() { for _ in $(seq 1 40); do curl -sf "http://$registry/v2/" >/dev/null && return 0; sleep 0.25; done; return 1; }
check "a registry runs on $registry (docker-registry)" 'registry_up || { tail -20 "$state/registry.log"; false; }'
check "scripts/image.sh buildah push to the registry (docs/deploy.md's command)" \
  'img push --tls-verify=false "$name" "docker://$registry/stripe-billing:0.1.0" > "$state/push.log" 2>&1 || { tail -20 "$state/push.log"; false; }'
check "the registry serves the image's manifest under its tag" \
  'curl -sf -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://$registry/v2/stripe-billing/manifests/0.1.0" | python3 -c "import json, sys; m = json.load(sys.stdin); sys.exit(0 if m[\"config\"][\"digest\"].startswith(\"sha256:\") and m[\"layers\"] else 1)"'
local_id="$(img inspect --type image --format "{{.FromImageID}}" "$name")"
check "pulled back from the registry, it is the same image (same ID: the config digest)" \
  'pulled="$(img pull --quiet --tls-verify=false "docker://$registry/stripe-billing:0.1.0" 2>"$state/pull.log" | tail -1)" && [[ "$pulled" == "$local_id" ]] || { echo "pushed $local_id, pulled ${pulled:-nothing}"; tail -5 "$state/pull.log"; false; }'
img rmi "$registry/stripe-billing:0.1.0" >/dev/null 2>&1

c="$(img from --quiet "$name")"; containers+=("$c")
inside() { img run --isolation chroot "$@"; }
check "inside: the process runs as uid 10001" '[[ "$(inside "$c" -- id -u)" == "10001" ]]'
check "inside: every shared library resolves (ldd)" \
  'out="$(inside "$c" -- ldd /usr/local/bin/billing)" && ! grep -q "not found" <<<"$out" || { echo "$out"; false; }'
# (Output captured first, so the command's own exit status is what counts.)
check "inside: billing --help (the default command) exits 0" 'out="$(inside "$c" -- /usr/local/bin/billing --help)" && grep -q "^usage: billing" <<<"$out"'
check "inside: billing version" 'out="$(inside "$c" -- /usr/local/bin/billing version)" && grep -Eq "^billing [0-9]" <<<"$out"'
for role in webhook worker api usage-reporter migrate; do
  check "inside: billing $role --help exits 0" 'out="$(inside "$c" -- /usr/local/bin/billing "$role" --help)" && grep -q "^usage: billing $role" <<<"$out"'
done

# Every role's configuration check, with the variables a deployment gives it.
secret="whsec_image_test_$(openssl rand -hex 12)"
common_env=(--env BILLING_KAFKA_BROKERS=127.0.0.1:9 --env BILLING_DATABASE_URL=postgresql://billing@127.0.0.1:9/billing
  --env BILLING_STRIPE_API_KEY=sk_test_0123456789abcdefghijklmn --env "BILLING_WEBHOOK_SECRETS=$secret"
  --env BILLING_API_KEYS=bk_0123456789abcdefghijklmnop --env BILLING_API_TOKEN_SECRET=0123456789abcdef0123456789abcdef0123
  --env BILLING_USAGE_METERS=api_requests)
for role in webhook worker api usage-reporter; do
  check "inside: billing $role --check-config" \
    'out="$(inside "${common_env[@]}" "$c" -- /usr/local/bin/billing "$role" --check-config 2>&1)" && grep -q "^configuration ok" <<<"$out" || { echo "$out"; false; }'
done
check "inside: a bad configuration is refused (exit 2)" \
  'inside --env BILLING_WEBHOOK_SECRETS=nope "$c" -- /usr/local/bin/billing webhook --check-config >/dev/null 2>&1; [[ $? -eq 2 ]]'

# 2. The image's executable against real PostgreSQL and Kafka (host network: chroot isolation shares it).
db="$("$root/scripts/postgres.sh" start "$state/postgres")" || { echo "FAIL PostgreSQL did not start"; exit 1; }
brokers="$("$root/scripts/kafka.sh" start "$state/kafka")" || { echo "FAIL Kafka did not start"; exit 1; }
webhook_port="$(free_port)"; worker_port="$(free_port)"
run_env=(--env "BILLING_DATABASE_URL=$db" --env "BILLING_KAFKA_BROKERS=$brokers" --env "BILLING_WEBHOOK_SECRETS=$secret"
  --env "BILLING_WEBHOOK_PORT=$webhook_port" --env "BILLING_WORKER_PORT=$worker_port" --env BILLING_WEBHOOK_HOST=127.0.0.1
  --env BILLING_WORKER_HOST=127.0.0.1 --env BILLING_KAFKA_EVENTS_PARTITIONS=3 --env BILLING_KAFKA_USAGE_PARTITIONS=1
  --env BILLING_KAFKA_REPLICATION_FACTOR=1 --env BILLING_STRIPE_API_KEY=sk_test_0123456789abcdefghijklmn
  --env "BILLING_STRIPE_API_BASE=http://127.0.0.1:$(free_port)" --env BILLING_WORKER_REFETCH_CONCURRENCY=0)
check "inside: billing migrate" 'inside "${run_env[@]}" "$c" -- /usr/local/bin/billing migrate > "$state/migrate.log" 2>&1 || { cat "$state/migrate.log"; false; }'
check "inside: billing create-topics" 'inside "${run_env[@]}" "$c" -- /usr/local/bin/billing create-topics > "$state/topics.log" 2>&1 || { cat "$state/topics.log"; false; }'
for role in webhook worker; do
  rc="$(img from --quiet "$name")"; containers+=("$rc")
  setsid "$root/scripts/image.sh" buildah run --isolation chroot "${run_env[@]}" "$rc" -- /usr/local/bin/billing "$role" \
    > "$state/$role.log" 2>&1 &
  pids+=("$!")
done
ready() { for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return 0; sleep 0.5; done; return 1; }
check "the image's webhook receiver is ready" 'ready "$webhook_port" || { tail -20 "$state/webhook.log"; false; }'
check "the image's sync worker is ready" 'ready "$worker_port" || { tail -20 "$state/worker.log"; false; }'
event="$root/tests/fixtures/stripe/events/invoice.paid.json"
invoice="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["data"]["object"]["id"])' "$event")"
check "a signed event is accepted (2xx after Kafka's ack)" \
  'BILLING_WEBHOOK_SECRET="$secret" "$root/scripts/send-event.sh" "$event" "http://127.0.0.1:$webhook_port/webhooks/stripe" | grep -q "^HTTP 200"'
synced() {
  for _ in $(seq 1 60); do
    [[ "$(psql -tA "$db" -c "SELECT status FROM invoices WHERE id = '$invoice'" 2>/dev/null)" == "paid" ]] && return 0
    sleep 0.5
  done
  return 1
}
check "the event reached PostgreSQL through Kafka and the image's worker (invoice $invoice paid)" \
  'synced || { tail -20 "$state/worker.log"; false; }'
# docs/deploy.md's one-time jobs after the install, as the worker's pod runs them (kubectl exec ... billing backfill;
# billing reconcile --sample 200), here in the image against the Stripe fake seeded with the demo account.
fake_port="$(free_port)"
"$fake_stripe" --port "$fake_port" > "$state/fake-stripe.log" 2>&1 &
pids+=("$!")
job_env=("${run_env[@]}" --env "BILLING_STRIPE_API_BASE=http://127.0.0.1:$fake_port")
fake_up() { for _ in $(seq 1 40); do grep -q "listening" "$state/fake-stripe.log" && return 0; sleep 0.25; done; return 1; }
check "the Stripe fake runs on 127.0.0.1:$fake_port" 'fake_up || { cat "$state/fake-stripe.log"; false; }'
check "inside: billing backfill (docs/deploy.md) copies Stripe's customers and subscriptions in" \
  'inside "${job_env[@]}" "$c" -- /usr/local/bin/billing backfill > "$state/backfill.log" 2>&1 &&
   [[ "$(psql -tA "$db" -c "SELECT count(*) FROM subscriptions")" -gt 0 && "$(psql -tA "$db" -c "SELECT count(*) FROM customers")" -gt 0 ]] ||
   { tail -20 "$state/backfill.log"; false; }'
# The fixture event's invoice (above) is one the fake's Stripe account never had: a real drift for reconcile to find.
reconcile() { inside "${job_env[@]}" "$c" -- /usr/local/bin/billing reconcile "$@" > "$state/reconcile.log" 2>&1; }
check "inside: billing reconcile --sample 200 (docs/deploy.md) finds the one drift: the invoice Stripe doesn't have (exit 1)" \
  'reconcile --sample 200; rc=$?; [[ $rc -eq 1 ]] && grep "\"objects\":\"invoices\"" "$state/reconcile.log" | grep -q "\"deleted_in_stripe\":1,\"different\":0,\"examples\":\[\"$invoice\"\]" &&
   [[ "$(grep -c "\"different\":0,\"examples\":\[\],\"missing_locally\":0" "$state/reconcile.log")" -ge 6 ]] || { echo "exit $rc"; cat "$state/reconcile.log"; false; }'
check "inside: billing reconcile --repair (docs/deploy.md, after an API version upgrade) repairs it" \
  'reconcile --repair || { cat "$state/reconcile.log"; false; }'
check "inside: billing reconcile --sample 200 then finds no drift (exit 0)" \
  'reconcile --sample 200 || { cat "$state/reconcile.log"; false; }'
echo "backfill: $(tail -1 "$state/backfill.log")"
check "the webhook and worker logs are JSON lines" \
  '[[ -s "$state/webhook.log" && -s "$state/worker.log" ]] && grep -v "^configuration ok" "$state/webhook.log" "$state/worker.log" | cut -d: -f2- | grep -v "^$" | python3 -c "import json, sys; [json.loads(l) for l in sys.stdin]"'
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

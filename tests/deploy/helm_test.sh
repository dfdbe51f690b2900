#!/usr/bin/env bash
# The Helm chart (helm/stripe-billing), offline: `helm lint` and `helm template` over the defaults and a
# full-featured values file (ci/*.yaml); values.schema.json refuses bad values; every rendered manifest validates
# against the Kubernetes 1.3x, KEDA and prometheus-operator schemas (npm kubernetes-models); what the issue asks for
# is there (chart_assertions.mjs); and every role accepts the configuration the chart gives it (`billing <role>
# --check-config` with the pod's exact environment and secret files). Usage: helm_test.sh BILLING_EXECUTABLE
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/lib.sh"
set +e
billing="$1"
helm="$CACHE_DIR/bin/helm"
chart="$root/helm/stripe-billing"
out="$(mktemp -d /tmp/billing-helm-XXXXXX)"
trap 'rm -rf "$out"' EXIT
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1"; fi; }
run_node() { (cd "$root/tests/deploy" && node "$@") > "$out/node.log" 2>&1 || { cat "$out/node.log"; return 1; }; tail -1 "$out/node.log"; }

check "helm is installed" '[[ -x "$helm" ]]'
for values in default full; do
  check "helm lint ($values)" '"$helm" lint --strict "$chart" -f "$chart/ci/$values-values.yaml" > "$out/lint-$values.log" 2>&1 || { cat "$out/lint-$values.log"; false; }'
  check "helm template ($values)" '"$helm" template billing "$chart" -n billing -f "$chart/ci/$values-values.yaml" --kube-version 1.30.0 \
    > "$out/$values.yaml" 2> "$out/template-$values.log" || { cat "$out/template-$values.log"; false; }'
done
check "rendered manifests are valid Kubernetes, KEDA and prometheus-operator objects" \
  'run_node validate_manifests.mjs "$out/default.yaml" "$out/full.yaml"'
check "the chart renders what a deployment needs" 'run_node chart_assertions.mjs "$out/default.yaml" "$out/full.yaml"'
check "every role accepts its configuration (defaults)" 'run_node check_config.mjs "$billing" "$out/default.yaml"'
check "every role accepts its configuration (full)" 'run_node check_config.mjs "$billing" "$out/full.yaml"'
# Which pods a changed secret rolls: the checksum annotations of the Deployments whose role reads the changed key.
rolled() {  # --set of the change: the Deployments whose pod template differs, space-separated
  "$helm" template billing "$chart" -n billing -f "$chart/ci/default-values.yaml" --kube-version 1.30.0 "$@" > "$out/changed.yaml" &&
    (cd "$root/tests/deploy" && node -e '
      const yaml = require("js-yaml"); const fs = require("fs");
      const deps = (f) => Object.fromEntries(yaml.loadAll(fs.readFileSync(f, "utf8")).filter((d) => d && d.kind === "Deployment")
        .map((d) => [d.metadata.labels["app.kubernetes.io/component"], JSON.stringify(d.spec.template)]));
      const [a, b] = [deps(process.argv[1]), deps(process.argv[2])];
      console.log(Object.keys(a).filter((k) => a[k] !== b[k]).join(" "));' "$out/default.yaml" "$out/changed.yaml")
}
check "a new webhook secret rolls only the webhook receivers" \
  '[[ "$(rolled --set "secrets.webhookSecrets={whsec_0123456789abcdefghijklmnopqrstuv,whsec_new0123456789abcdef}")" == "webhook" ]]'
check "a new database URL rolls the roles that read it, not the receivers" \
  '[[ "$(rolled --set secrets.databaseUrl=postgresql://billing:other@db:5432/billing)" == "worker api usage-reporter" ]]'
check "a changed setting rolls every role" '[[ "$(rolled --set logLevel=debug)" == "webhook worker api usage-reporter" ]]'

# Refusals, each with a message that says what to fix.
refuses() {  # name expected-message args...
  local name="$1" message="$2"; shift 2
  if ! "$helm" template billing "$chart" --kube-version 1.30.0 "$@" > "$out/refused.log" 2>&1 &&
     grep -q -- "$message" "$out/refused.log"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAIL refuses $name"; cat "$out/refused.log"
  fi
}
refuses "a missing broker list" "kafka.brokers is required" -f "$chart/ci/default-values.yaml" --set kafka.brokers=
refuses "missing secrets" "secrets.databaseUrl is required" --set kafka.brokers=k:9092
refuses "an unknown security protocol" "securityProtocol" -f "$chart/ci/default-values.yaml" --set kafka.securityProtocol=tls
refuses "a webhook secret that is not whsec_" "webhookSecrets" -f "$chart/ci/default-values.yaml" --set 'secrets.webhookSecrets[0]=secret'
refuses "an unknown value" "additional properties" -f "$chart/ci/default-values.yaml" --set webhook.replica=3
refuses "an origin with a path" "allowedOrigins" -f "$chart/ci/default-values.yaml" --set 'api.allowedOrigins[0]=https://app.example.com/billing'
refuses "an ingress without a host" "webhook.ingress.host is required" -f "$chart/ci/default-values.yaml" --set webhook.ingress.enabled=true

# Webhook secret rotation: two secrets at once reach the receiver as two lines.
check "two webhook secrets during a rotation" '"$helm" template billing "$chart" --kube-version 1.30.0 -f "$chart/ci/default-values.yaml" \
  --set "secrets.webhookSecrets={whsec_old0123456789,whsec_new0123456789}" | grep -q "webhook-secrets: \"whsec_old0123456789\\\\nwhsec_new0123456789\""'
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

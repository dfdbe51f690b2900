#!/usr/bin/env bash
# The Helm chart on a real Kubernetes API server: etcd + kube-apiserver (built by scripts/install-deps.sh, cached by
# version) on 127.0.0.1, the real KEDA and prometheus-operator CRDs, then `helm install` with the default and the
# full values (the server validates every object: selectors, names, CRD schemas), the migration hook Job checked by
# a server-side dry run (there is no kubelet to run it: --no-hooks), `helm upgrade` with a new webhook secret (only
# the webhook Deployment's pod template changes), `helm rollback`, `helm uninstall`; k8s_checks.mjs asserts what the
# server stored. Usage: k8s_test.sh. Ends with "N passed, N failed".
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/lib.sh"
set +e
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed + 1)); echo "PASS $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi; }

kube="$CACHE_DIR/kubernetes-$KUBERNETES_VERSION"
helm="$CACHE_DIR/bin/helm"
if [[ ! -x "$kube/kube-apiserver" || ! -x "$kube/etcd" ]]; then
  echo "NOT RUN the k8s test: no kube-apiserver/etcd $KUBERNETES_VERSION under $kube (scripts/install-deps.sh builds them)"
  echo "0 passed, 1 failed"
  exit 1
fi
state="$(mktemp -d /tmp/billing-k8s-XXXXXX)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$state"; }
trap cleanup EXIT

# 1. etcd and the API server, TLS with a throwaway certificate, one admin token.
etcd_client="$(free_port)"; etcd_peer="$(free_port)"; api_port="$(free_port)"
"$kube/etcd" --name k8s-test --data-dir "$state/etcd" --listen-client-urls "http://127.0.0.1:$etcd_client" \
  --advertise-client-urls "http://127.0.0.1:$etcd_client" --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" --initial-cluster "k8s-test=http://127.0.0.1:$etcd_peer" \
  > "$state/etcd.log" 2>&1 &
pids+=("$!")
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$state/server.key" -out "$state/server.crt" -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
openssl genrsa -out "$state/sa.key" 2048 >/dev/null 2>&1 && openssl rsa -in "$state/sa.key" -pubout -out "$state/sa.pub" >/dev/null 2>&1
token="$(openssl rand -hex 24)"
echo "$token,admin,admin,system:masters" > "$state/tokens.csv"
"$kube/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_client" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
  --secure-port "$api_port" --tls-cert-file "$state/server.crt" --tls-private-key-file "$state/server.key" \
  --token-auth-file "$state/tokens.csv" --authorization-mode RBAC \
  --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$state/sa.pub" \
  --service-account-signing-key-file "$state/sa.key" --service-cluster-ip-range 10.96.0.0/16 \
  > "$state/apiserver.log" 2>&1 &
pids+=("$!")
server="https://127.0.0.1:$api_port"
api() { curl -sS --cacert "$state/server.crt" -H "Authorization: Bearer $token" "$@"; }
up() { for _ in $(seq 1 120); do [[ "$(api "$server/readyz" 2>/dev/null)" == "ok" ]] && return 0; sleep 0.5; done; return 1; }
check "kube-apiserver $KUBERNETES_VERSION is ready on 127.0.0.1:$api_port (etcd on $etcd_client)" \
  'up || { tail -20 "$state/apiserver.log" "$state/etcd.log"; false; }'
check "the server reports v$KUBERNETES_VERSION" 'api "$server/version" | grep -q "\"gitVersion\": \"v$KUBERNETES_VERSION\""'
cat > "$state/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "$server", certificate-authority: "$state/server.crt"}}]
users: [{name: admin, user: {token: "$token"}}]
contexts: [{name: test, context: {cluster: test, user: admin}}]
current-context: test
EOF
export KUBECONFIG="$state/kubeconfig" HELM_CACHE_HOME="$state/helm/cache" HELM_CONFIG_HOME="$state/helm/config" HELM_DATA_HOME="$state/helm/data"

# 2. The CRDs the full values use, from the projects' own module zips (go mod download).
crd() {  # module@version path-in-module
  local dir; dir="$(GOFLAGS=-mod=mod go mod download -json "$1" 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')" || return 1
  api -X POST -H 'Content-Type: application/yaml' --data-binary "@$dir/$2" "$server/apis/apiextensions.k8s.io/v1/customresourcedefinitions" \
    -o "$state/crd.json" -w '%{http_code}' | grep -Eq '^(201|409)$' || { cat "$state/crd.json"; return 1; }
}
for object in scaledobjects triggerauthentications; do
  check "KEDA $KEDA_VERSION's $object CRD applied" \
    'crd "github.com/kedacore/keda/v2@$KEDA_VERSION" "config/crd/bases/keda.sh_$object.yaml"'
done
check "prometheus-operator $PROMETHEUS_OPERATOR_VERSION's ServiceMonitor CRD applied" \
  'crd "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml'
established() {
  for _ in $(seq 1 60); do
    api "$server/apis/keda.sh/v1alpha1" -o /dev/null -w '%{http_code}' | grep -q 200 &&
      api "$server/apis/monitoring.coreos.com/v1" -o /dev/null -w '%{http_code}' | grep -q 200 && return 0
    sleep 0.5
  done
  return 1
}
check "the CRDs are served" 'established'

chart="$root/helm/stripe-billing"
namespace() { api -X POST -H 'Content-Type: application/yaml' --data-binary "{apiVersion: v1, kind: Namespace, metadata: {name: $1}}" \
  "$server/api/v1/namespaces" -o /dev/null -w '%{http_code}' | grep -q 201; }
# The migration Job is a pre-install/pre-upgrade hook; no kubelet runs it here, so the server validates it by a dry run.
dry_run_hooks() {  # namespace values-file
  "$helm" template billing "$chart" -n "$1" -f "$2" --kube-version "$KUBERNETES_VERSION" --show-only templates/migrations.yaml > "$state/hooks.yaml" &&
    (cd "$root/tests/deploy" && node k8s_checks.mjs dry-run "$server" "$1" "$state/hooks.yaml")
}
helm_do() { "$helm" "$@" > "$state/helm.log" 2>&1 || { cat "$state/helm.log"; return 1; }; }
checks() { (cd "$root/tests/deploy" && node k8s_checks.mjs "$@") > "$state/checks.log" 2>&1; local rc=$?; cat "$state/checks.log"; return $rc; }
export K8S_TOKEN="$token" NODE_EXTRA_CA_CERTS="$state/server.crt"

# 3. docs/deploy.md's commands as a user runs them, copied out of the document: the Kubernetes section (namespace,
#    Secret, helm install), then the secret step of the API version upgrade (Secret replaced, webhook rolled).
#    One difference: helm install/upgrade/rollback get --no-hooks (no kubelet runs the hook Job; it is dry-run).
docs_block() {  # heading n: the n-th sh block after the heading, unindented
  python3 -c '
import re, sys
text = open(sys.argv[1]).read()
section = text[text.index(sys.argv[2]):]
blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
print(re.sub(r"^ {3}", "", blocks[int(sys.argv[3]) - 1], flags=re.M))' "$root/docs/deploy.md" "$1" "$2"
}
user="$state/user"
mkdir -p "$user/bin" "$user/terraform"
ln -s "$root/helm" "$user/helm"
ln -s "$kube/kubectl" "$user/bin/kubectl"
printf '#!/usr/bin/env bash\ncase "$1" in install|upgrade|rollback) exec "%s" "$@" --no-hooks ;; *) exec "%s" "$@" ;; esac\n' \
  "$helm" "$helm" > "$user/bin/helm"
chmod +x "$user/bin/helm"
run_docs() {  # directory heading n
  docs_block "$2" "$3" > "$1/step.sh" &&
    (cd "$1" && PATH="$user/bin:$PATH" STRIPE_API_KEY=sk_live_0123456789abcdefghijklmn bash -e step.sh > step.log 2>&1) ||
    { cat "$1/step.sh" "$1/step.log"; return 1; }
}
printf '%s\n' whsec_0123456789abcdefghijklmnopqrstuv whsec_thin0123456789abcdefghijkl > "$user/webhook-secrets"
check "docs/deploy.md, Kubernetes: kubectl create namespace and secret, helm install, as written" \
  'run_docs "$user" "## 3. Kubernetes (Helm)" 1'
check "what the server stored for it: selectors, Services, PDBs, probes, the Secret it names" \
  'checks stored "$server" billing billing docs'
check "the settings the docs give reached the ConfigMap (both brokers, the meter)" \
  '[[ "$("$kube/kubectl" -n billing get configmap billing-stripe-billing -o jsonpath="{.data.BILLING_KAFKA_BROKERS} {.data.BILLING_USAGE_METERS}")" == "kafka-0.kafka:9092,kafka-1.kafka:9092 api_requests" ]]'
check "the Secret holds the keys the docs name" \
  '[[ "$("$kube/kubectl" -n billing get secret billing-secrets -o go-template="{{range \$k, \$v := .data}}{{\$k}} {{end}}")" == "api-keys api-token-secret database-url stripe-api-key webhook-secrets " ]]'
# The upgrade's step 1, `helm upgrade` to a release pinned to NEW: the docs' release upgraded to a new image tag with
# the values it was installed with; every role rolls to it, and the Secret it names stays.
checks snapshot "$server" billing billing > "$state/docs-release-1.json" 2>/dev/null
check "docs/deploy.md, API version upgrade step 1: helm upgrade of the docs' release to a new image (--reuse-values)" \
  'helm_do upgrade billing "$chart" -n billing --reuse-values --set image.tag=0.2.0 --no-hooks'
checks snapshot "$server" billing billing > "$state/docs-release-2.json" 2>/dev/null
check "every role rolled to the new image" \
  '[[ "$(checks changed "$state/docs-release-1.json" "$state/docs-release-2.json")" == "api usage-reporter webhook worker" ]] &&
   [[ "$("$kube/kubectl" -n billing get deploy -o jsonpath="{.items[*].spec.template.spec.containers[*].image}" | tr " " "\n" | sort -u)" == "registry.example.com/stripe-billing:0.2.0" ]]'
check "what the server stored for the upgraded release (the Secret it mounts is still the docs' billing-secrets)" 'checks stored "$server" billing billing docs'
# The upgrade's step 3 runs from terraform/ with the secrets tofu wrote to ../webhook-secrets: new, old, thin.
printf '%s\n' whsec_new0123456789abcdefghijklmno whsec_0123456789abcdefghijklmnopqrstuv whsec_thin0123456789abcdefghijkl \
  > "$user/webhook-secrets"
checks snapshot "$server" billing billing > "$state/docs-before.json" 2>/dev/null
check "docs/deploy.md, API version upgrade step 3: the Secret replaced and the receivers rolled, as written" \
  'run_docs "$user/terraform" "## Upgrading the Stripe API version" 2'
checks snapshot "$server" billing billing > "$state/docs-after.json" 2>/dev/null
check "the rollout restart changed only the webhook pods" \
  '[[ "$(checks changed "$state/docs-before.json" "$state/docs-after.json")" == "webhook" ]]'
check "the Secret kept its other keys" \
  '[[ "$("$kube/kubectl" -n billing get secret billing-secrets -o go-template="{{range \$k, \$v := .data}}{{\$k}} {{end}}")" == "api-keys api-token-secret database-url stripe-api-key webhook-secrets " ]]'
check "the Secret now has the three signing secrets" \
  '[[ "$("$kube/kubectl" -n billing get secret billing-secrets -o jsonpath="{.data.webhook-secrets}" | base64 -d | grep -c "^whsec_")" == 3 ]]'

# 4. Default values (the chart's own Secret): upgrade with a new webhook secret, rollback, uninstall.
check "namespace billing-default" 'namespace billing-default'
check "the migration hook Job passes the server's validation (dry run, defaults)" 'dry_run_hooks billing-default "$chart/ci/default-values.yaml"'
check "helm install (defaults) is accepted by the server" \
  'helm_do install billing "$chart" -n billing-default -f "$chart/ci/default-values.yaml" --no-hooks'
check "what the server stored (defaults): selectors, Services, PDBs, probes" 'checks stored "$server" billing-default billing default'
checks snapshot "$server" billing-default billing > "$state/before.json" 2>/dev/null
check "helm upgrade with a second webhook secret" \
  'helm_do upgrade billing "$chart" -n billing-default -f "$chart/ci/default-values.yaml" --no-hooks \
     --set "secrets.webhookSecrets={whsec_0123456789abcdefghijklmnopqrstuv,whsec_rotated0123456789abcdef}"'
checks snapshot "$server" billing-default billing > "$state/after.json" 2>/dev/null
check "the upgrade changed only the webhook Deployment's pod template (checksum annotation)" \
  '[[ "$(checks changed "$state/before.json" "$state/after.json")" == "webhook" ]]'
check "helm rollback to revision 1" 'helm_do rollback billing 1 -n billing-default --no-hooks'
checks snapshot "$server" billing-default billing > "$state/rolled-back.json" 2>/dev/null
check "the rollback restored the webhook pod template" \
  '[[ "$(checks changed "$state/before.json" "$state/rolled-back.json")" == "" ]]'
check "helm history shows install, upgrade, rollback" \
  '"$helm" history billing -n billing-default -o json | python3 -c "import json, sys; h = json.load(sys.stdin); sys.exit(0 if [r[\"revision\"] for r in h] == [1, 2, 3] else 1)"'
check "helm uninstall" 'helm_do uninstall billing -n billing-default'
check "nothing of the release is left" 'checks gone "$server" billing-default billing'

# 5. Full values: existingSecret, SASL, autoscaling, KEDA, ingresses, network policies, ServiceMonitors.
check "namespace billing-full" 'namespace billing-full'
check "the migration hook Job passes the server's validation (dry run, full)" 'dry_run_hooks billing-full "$chart/ci/full-values.yaml"'
check "helm install (full) is accepted by the server" \
  'helm_do install billing "$chart" -n billing-full -f "$chart/ci/full-values.yaml" --no-hooks'
check "what the server stored (full): selectors, services, PDBs, HPAs, ScaledObject, NetworkPolicies, ServiceMonitors" \
  'checks stored "$server" billing-full billing full'
check "helm uninstall (full)" 'helm_do uninstall billing -n billing-full'
check "nothing of the release is left (full)" 'checks gone "$server" billing-full billing'
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

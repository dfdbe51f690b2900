# Shared helpers for the scripts in this folder. Source it; don't run it.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Caches survive between runs (downloads); state holds running services' data.
CACHE_DIR="${BILLING_CACHE_DIR:-$HOME/.cache/stripe-billing}"
BUILD_DIR="${BILLING_BUILD_DIR:-$REPO_ROOT/build}"

KAFKA_VERSION="4.1.2"
LOG4J_VERSION="2.24.3"
SLF4J_VERSION="2.0.17"
STRIPE_MOCK_VERSION="v0.203.0"  # embeds the 2026-08-26.dahlia spec (nearest to our pinned 2026-07-29.dahlia)
HELM_VERSION="v3.22.0"          # built with go install (not in Debian); the chart tests run it
TOFU_VERSION="v1.12.6"          # OpenTofu, built from the Go module proxy through a wrapper module
TOFU_HCL="github.com/opentofu/hcl/v2@v2.20.2-0.20251021132045-587d123c2828"  # what OpenTofu's go.mod replaces hcl with
PYTHON_HCL2_VERSION="8.1.4"     # parses terraform/ for the structural checks
KUBERNETES_VERSION="1.34.4"      # kube-apiserver (and etcd from its module graph) for the k8s test, built from the Go module proxy
KEDA_VERSION="v2.21.0"           # CRDs applied in the k8s test, from the Go module zips
PROMETHEUS_OPERATOR_VERSION="v0.85.0"
STRIPE_PROVIDER_VERSION="0.3.0"  # stripe/stripe Terraform provider, built from ../shared/vendor (the module proxy refuses it)
STRIPE_PROVIDER_SHA256="6d70fe0f8205f308b2b662d6efcae86afff8b1403214fb242490c820a1188746"
STRIPE_NODE_VERSION="22.5.0"  # pins 2026-07-29.dahlia, the API version the code uses

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# Waits until host:port accepts TCP connections, up to $2 seconds.
wait_for_port() {
  local port="$1" timeout="${2:-60}" i
  for ((i = 0; i < timeout * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

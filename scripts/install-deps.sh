#!/usr/bin/env bash
# Installs everything the build, the service and the tests need on Debian 12. Idempotent: a second run
# only checks. --deployment-tests also builds the stripe/stripe Terraform provider and kube-apiserver + etcd
# (scripts/test.sh passes it; scripts/run.sh doesn't need them). Needs root for apt-get (CI and the dev machines run as root; otherwise it uses sudo).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git python3 python3-pip curl openssl
  clang-14 libclang-rt-14-dev
  libpoco-dev librdkafka-dev nlohmann-json3-dev libsimdjson-dev catch2 libpq-dev libssl-dev libyaml-cpp-dev
  postgresql-15 kcat
  default-jre-headless maven
  nodejs npm
  chromium
  buildah mmdebstrap docker-registry
)

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  # Node and Java may come from elsewhere on the machine (nvm, Temurin); accept those.
  local filtered=()
  for p in "${missing[@]}"; do
    case "$p" in
      nodejs|npm) command -v node >/dev/null && command -v npm >/dev/null && continue ;;
      default-jre-headless) command -v java >/dev/null && continue ;;
      maven) command -v mvn >/dev/null && continue ;;
    esac
    filtered+=("$p")
  done
  [[ ${#filtered[@]} -eq 0 ]] && return 0
  log "installing Debian packages: ${filtered[*]}"
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
  # The image test starts its own registry on a free port; Debian's package also enables one on :5000 for every
  # boot, which a developer's machine should not get from a test setup.
  if [[ " ${filtered[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null; then
    $sudo systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
}

# The Apache Kafka broker and a log4j2 backend, from Maven Central, into $CACHE_DIR/kafka-$KAFKA_VERSION/libs.
install_kafka() {
  local dir="$CACHE_DIR/kafka-$KAFKA_VERSION"
  [[ -f "$dir/.complete-$SLF4J_VERSION" ]] && return 0
  log "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $dir"
  mkdir -p "$dir/pom"
  cat > "$dir/pom/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.billing</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <!-- Kafka pulls slf4j-api 1.7, which can't see the slf4j2 binding: pin 2.x so broker logs are not silently dropped. -->
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$SLF4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
  rm -rf "$dir/libs"
  (cd "$dir/pom" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/libs")
  ls "$dir/libs"/kafka_2.13-*.jar >/dev/null || die "Kafka jars missing after mvn"
  touch "$dir/.complete-$SLF4J_VERSION"
}

# Stripe's stripe-mock (request validation against Stripe's OpenAPI spec) into $CACHE_DIR/bin, built by the Go
# toolchain from the Go module proxy.
install_stripe_mock() {
  # The version marker: an older stripe-mock in the cache (another spec) is replaced.
  [[ -x "$CACHE_DIR/bin/stripe-mock" && "$(cat "$CACHE_DIR/bin/.stripe-mock-version" 2>/dev/null)" == "$STRIPE_MOCK_VERSION" ]] && return 0
  if ! command -v go >/dev/null; then
    local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends golang-go >/dev/null
  fi
  log "installing stripe-mock $STRIPE_MOCK_VERSION"
  mkdir -p "$CACHE_DIR/bin"
  (cd /tmp && GOBIN="$CACHE_DIR/bin" go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION")
  echo "$STRIPE_MOCK_VERSION" > "$CACHE_DIR/bin/.stripe-mock-version"
}

# Helm, for the chart tests (helm lint / helm template), from the Go module proxy.
install_helm() {
  [[ -x "$CACHE_DIR/bin/helm" ]] && "$CACHE_DIR/bin/helm" version --short 2>/dev/null | grep -q "^${HELM_VERSION%.*}" && return 0
  log "installing helm $HELM_VERSION"
  mkdir -p "$CACHE_DIR/bin"
  (cd /tmp && GOBIN="$CACHE_DIR/bin" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
}

# Kubernetes, KEDA and prometheus-operator schemas (npm kubernetes-models) for validating rendered manifests.
install_manifest_schemas() {
  local dir="$REPO_ROOT/tests/deploy"
  [[ -d "$dir/node_modules/kubernetes-models" ]] && return 0
  log "installing npm kubernetes-models for the chart tests"
  (cd "$dir" && npm ci --silent --no-audit --no-fund)
}

# OpenTofu for `tofu fmt` (and validate/test when a provider build is present). `go install` refuses its module
# (go.mod has a replace directive), so a throwaway wrapper module repeats the replace and builds the command.
install_tofu() {
  [[ -x "$CACHE_DIR/bin/tofu" ]] && return 0
  log "building OpenTofu $TOFU_VERSION from the Go module proxy"
  local work; work="$(mktemp -d /tmp/tofu-build-XXXXXX)"
  (cd "$work" && go mod init local/tofu >/dev/null 2>&1 &&
    go mod edit -replace="github.com/hashicorp/hcl/v2=$TOFU_HCL" &&
    go get -tool "github.com/opentofu/opentofu/cmd/tofu@$TOFU_VERSION" >/dev/null 2>&1 &&
    mkdir -p "$CACHE_DIR/bin" && go build -o "$CACHE_DIR/bin/tofu" github.com/opentofu/opentofu/cmd/tofu)
  local status=$?
  rm -rf "$work"
  return $status
}

# The stripe/stripe provider for `tofu validate` / `tofu test`: the module proxy refuses its module, so its source is
# vendored next to the checkout (../shared/vendor/README.md); its dependencies come from the proxy. Laid out as a
# plugin dir for `tofu init -plugin-dir` under OpenTofu's default registry host.
install_stripe_provider() {
  local plugins="$CACHE_DIR/terraform-plugins"
  local bin="$plugins/registry.opentofu.org/stripe/stripe/$STRIPE_PROVIDER_VERSION/linux_amd64/terraform-provider-stripe_v$STRIPE_PROVIDER_VERSION"
  [[ -x "$bin" ]] && return 0
  local tarball="$REPO_ROOT/../shared/vendor/terraform-provider-stripe-$STRIPE_PROVIDER_VERSION.tar.gz"
  [[ -f "$tarball" ]] || die "the stripe/stripe provider's source is missing: $tarball (../shared/vendor next to the checkout)"
  if [[ "$(sha256sum "$tarball" | cut -d' ' -f1)" != "$STRIPE_PROVIDER_SHA256" ]]; then
    die "$tarball does not have the sha256 scripts/lib.sh pins ($STRIPE_PROVIDER_SHA256)"
  fi
  log "building the stripe/stripe Terraform provider $STRIPE_PROVIDER_VERSION from $tarball"
  local work; work="$(mktemp -d /tmp/stripe-provider-build-XXXXXX)"
  tar -xzf "$tarball" -C "$work" &&
    (cd "$work/terraform-provider-stripe-$STRIPE_PROVIDER_VERSION" && mkdir -p "$(dirname "$bin")" &&
      GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$STRIPE_PROVIDER_VERSION" \
        -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
  local status=$?
  rm -rf "$work"
  return $status
}

# A real Kubernetes API server for the k8s test: kube-apiserver, etcd and kubectl built through a wrapper module (k8s.io/kubernetes
# replaces its staging modules with ./staging paths, which a module download can't follow; the wrapper points each at
# its published version), cached by version under $CACHE_DIR/kubernetes-<version>.
install_kube_apiserver() {
  local dir="$CACHE_DIR/kubernetes-$KUBERNETES_VERSION"
  [[ -x "$dir/kube-apiserver" && -x "$dir/etcd" && -x "$dir/kubectl" ]] && return 0
  log "building kube-apiserver, etcd and kubectl $KUBERNETES_VERSION from the Go module proxy (about 12 minutes, once)"
  local work; work="$(mktemp -d /tmp/kube-build-XXXXXX)"
  local staging="v0.${KUBERNETES_VERSION#1.}"
  (
    set -e
    cd "$work"
    go mod init local/kube >/dev/null 2>&1
    local mod; mod="$(go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | python3 -c 'import json, sys; print(json.load(sys.stdin)["GoMod"])')"
    for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$mod"); do
      go mod edit -replace="$m=$m@$staging"
    done
    go mod edit -require="k8s.io/kubernetes@v$KUBERNETES_VERSION"
    mkdir -p apiserver etcd kubectl
    printf '%s\n' 'package main' 'import (' '  "k8s.io/component-base/cli"' '  "k8s.io/kubectl/pkg/cmd"' '  "k8s.io/kubectl/pkg/cmd/util"' ')' \
      'func main() { if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil { util.CheckErr(err) } }' > kubectl/main.go
    printf '%s\n' 'package main' 'import (' '  "os"' '  "k8s.io/component-base/cli"' '  "k8s.io/kubernetes/cmd/kube-apiserver/app"' ')' \
      'func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }' > apiserver/main.go
    printf '%s\n' 'package main' 'import (' '  "os"' '  "go.etcd.io/etcd/server/v3/etcdmain"' ')' 'func main() { etcdmain.Main(os.Args) }' > etcd/main.go
    go mod tidy >/dev/null 2>&1
    mkdir -p "$dir"
    local v="k8s.io/component-base/version" minor="${KUBERNETES_VERSION#1.}"
    CGO_ENABLED=0 go build -trimpath -o "$dir/kube-apiserver.tmp" \
      -ldflags "-s -w -X $v.gitVersion=v$KUBERNETES_VERSION -X $v.gitMajor=1 -X $v.gitMinor=${minor%%.*}" ./apiserver
    CGO_ENABLED=0 go build -trimpath -o "$dir/etcd.tmp" -ldflags "-s -w" ./etcd
    CGO_ENABLED=0 go build -trimpath -o "$dir/kubectl.tmp" \
      -ldflags "-s -w -X $v.gitVersion=v$KUBERNETES_VERSION -X $v.gitMajor=1 -X $v.gitMinor=${minor%%.*}" ./kubectl
    mv "$dir/kube-apiserver.tmp" "$dir/kube-apiserver" && mv "$dir/etcd.tmp" "$dir/etcd" && mv "$dir/kubectl.tmp" "$dir/kubectl"
  )
  local status=$?
  rm -rf "$work"
  return $status
}

# python-hcl2 for the Terraform structural checks, into the cache (not the system's site-packages).
install_python_hcl2() {
  [[ -f "$CACHE_DIR/python/.hcl2-$PYTHON_HCL2_VERSION" ]] && return 0
  log "installing python-hcl2 $PYTHON_HCL2_VERSION"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --break-system-packages --target "$CACHE_DIR/python" \
    "python-hcl2==$PYTHON_HCL2_VERSION" && touch "$CACHE_DIR/python/.hcl2-$PYTHON_HCL2_VERSION"
}

# The official stripe npm package, the reference for signature vectors.
install_stripe_node() {
  local dir="$REPO_ROOT/tests/sdk"
  [[ -d "$dir/node_modules/stripe" ]] && return 0
  log "installing npm stripe@$STRIPE_NODE_VERSION for signature vectors"
  (cd "$dir" && npm ci --silent --no-audit --no-fund)
}

# playwright-core (no browser download: the tests drive Debian's /usr/bin/chromium), for the billing page tests.
install_playwright() {
  local dir="$REPO_ROOT/tests/e2e"
  [[ -d "$dir/node_modules/playwright-core" ]] && return 0
  log "installing npm playwright-core for the browser tests"
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
}

install_apt
install_kafka
install_stripe_mock
install_stripe_node
install_playwright
install_helm
install_manifest_schemas
install_tofu
install_python_hcl2
# Only the deployment tests need these two (minutes of Go builds, once): scripts/test.sh asks for them.
if [[ "${1:-}" == "--deployment-tests" ]]; then
  install_stripe_provider
  install_kube_apiserver || die "building kube-apiserver/etcd failed (the k8s test needs them)"
fi
log "dependencies ready"

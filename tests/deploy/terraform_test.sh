#!/usr/bin/env bash
# terraform/, offline (terraform/README.md says what is and isn't checked): `tofu fmt -check`, structural checks of
# the HCL against the code (terraform_checks.py), and `tofu validate` + `tofu test` with the stripe/stripe provider
# that scripts/install-deps.sh builds from ../shared/vendor. Usage: terraform_test.sh BILLING_EXECUTABLE
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/lib.sh"
set +e
billing="$1"
tofu="$CACHE_DIR/bin/tofu"
plugins="$CACHE_DIR/terraform-plugins"
passed=0; failed=0
export TF_CLI_CONFIG_FILE="$(mktemp /tmp/billing-tofurc-XXXXXX)"  # no ~/.terraformrc needed (or read)
trap 'rm -f "$TF_CLI_CONFIG_FILE"' EXIT
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1"; fi; }

check "tofu is installed" '[[ -x "$tofu" ]]'
check "tofu fmt -check" '"$tofu" fmt -check -recursive -diff "$root/terraform"'
check "the configuration matches the code" \
  'PYTHONPATH="$CACHE_DIR/python" python3 "$root/tests/deploy/terraform_checks.py" "$billing" | tail -1; [[ ${PIPESTATUS[0]} -eq 0 ]]'
provider="$plugins/registry.opentofu.org/stripe/stripe/$STRIPE_PROVIDER_VERSION/linux_amd64/terraform-provider-stripe_v$STRIPE_PROVIDER_VERSION"
if [[ -x "$provider" ]]; then
  work="$(mktemp -d /tmp/billing-tofu-XXXXXX)"
  cp -r "$root/terraform/." "$work/"
  echo "running tofu init/validate/test with stripe/stripe $STRIPE_PROVIDER_VERSION built from ../shared/vendor ($provider)"
  check "tofu init (local provider)" '(cd "$work" && "$tofu" init -backend=false -plugin-dir="$plugins" -input=false -no-color >/dev/null)'
  # docs/deploy.md's "tofu init && tofu validate", as a user types them, in a fresh copy: the CLI configuration
  # installs stripe/stripe from a filesystem mirror (the built provider) where a user's would reach the registry.
  docs="$(mktemp -d /tmp/billing-tofu-docs-XXXXXX)"
  cp -r "$root/terraform/." "$docs/"
  printf 'provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n    include = ["registry.opentofu.org/stripe/stripe"]\n  }\n}\n' \
    "$plugins" > "$TF_CLI_CONFIG_FILE"
  check "docs/deploy.md: tofu init && tofu validate, as written (provider from a filesystem mirror)" \
    '(cd "$docs" && cp terraform.tfvars.example terraform.tfvars && STRIPE_API_KEY=sk_test_placeholder PATH="$(dirname "$tofu"):$PATH" NO_COLOR=1 bash -ec "tofu init && tofu validate" > docs.log 2>&1) || { cat "$docs/docs.log"; false; }'
  check "tofu init recorded the provider's checksum in .terraform.lock.hcl" \
    'grep -q "registry.opentofu.org/stripe/stripe" "$docs/.terraform.lock.hcl" && grep -q "version     = \"$STRIPE_PROVIDER_VERSION\"" "$docs/.terraform.lock.hcl"'
  : > "$TF_CLI_CONFIG_FILE"
  rm -rf "$docs"
  check "tofu validate" '(cd "$work" && "$tofu" validate -no-color)'
  check "tofu test (mock_provider: the whole plan, the API version upgrade in two applies, the refusals)" \
    '(cd "$work" && "$tofu" test -no-color)'
  # A real plan by the real provider, with terraform.tfvars made as docs/deploy.md says (cp of the example). A plan
  # of new objects makes no Stripe call (-refresh=false; the key is a placeholder), so it runs offline.
  cp "$work/terraform.tfvars.example" "$work/terraform.tfvars"
  planned() {  # tofu plan args: "type action" lines, sorted, with counts
    (cd "$work" && STRIPE_API_KEY=sk_test_placeholder "$tofu" plan -refresh=false -input=false -no-color -out plan.bin "$@" > plan.log 2>&1 &&
      "$tofu" show -json plan.bin) | python3 -c '
import collections, json, sys
changes = json.load(sys.stdin)["resource_changes"]
for (t, a), n in sorted(collections.Counter((r["type"], "+".join(r["change"]["actions"])) for r in changes).items()):
    print(n, t, a)'
  }
  expected_first='1 stripe_billing_meter create
1 stripe_billing_portal_configuration create
7 stripe_price create
4 stripe_product create
1 stripe_v2_core_event_destination create
1 stripe_webhook_endpoint create'
  check "tofu plan (real provider, terraform.tfvars from the example): the 15 objects of a first apply" \
    '[[ "$(planned)" == "$expected_first" ]] || { cat "$work/plan.log"; planned; false; }'
  check "tofu plan during an API version upgrade: an endpoint for each version" \
    '[[ "$(planned -var api_version=2026-10-28.endive -var previous_api_version=2026-07-29.dahlia | grep stripe_webhook_endpoint)" == "2 stripe_webhook_endpoint create" ]]'
  rm -rf "$work"
else
  # scripts/install-deps.sh --deployment-tests builds it (Go and ../shared/vendor's source): missing, that failed.
  echo "NOT RUN tofu validate / tofu test: no stripe/stripe $STRIPE_PROVIDER_VERSION build at $provider"
  if command -v go >/dev/null; then
    failed=$((failed + 1))
    echo "FAIL Go is here, so the provider should have been built: scripts/install-deps.sh --deployment-tests"
  fi
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

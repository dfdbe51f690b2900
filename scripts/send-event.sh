#!/usr/bin/env bash
# Signs an event file the way Stripe does and POSTs it to the local receiver; prints the HTTP status and body.
#   scripts/send-event.sh EVENT.json [URL]
# Secret: BILLING_WEBHOOK_SECRET, else the one scripts/run.sh generated in .state/webhook-secret.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

file="${1:?usage: send-event.sh EVENT.json [URL]}"
url="${2:-http://127.0.0.1:${BILLING_WEBHOOK_PORT:-8080}/webhooks/stripe}"
secret="${BILLING_WEBHOOK_SECRET:-$(cat "${BILLING_STATE_DIR:-$REPO_ROOT/.state}/webhook-secret" 2>/dev/null || true)}"
[[ -n "$secret" ]] || die "no secret: set BILLING_WEBHOOK_SECRET or start scripts/run.sh first"
t="$(date +%s)"
sig="$( (printf '%s.' "$t"; cat "$file") | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)"
curl -sS -w '\nHTTP %{http_code}\n' -X POST "$url" -H 'Content-Type: application/json' \
  -H "Stripe-Signature: t=$t,v1=$sig" --data-binary "@$file"

"""Structural checks of terraform/ that need no provider: it parses the HCL (python-hcl2) and compares it with the
code it configures Stripe for. Usage: terraform_checks.py BILLING_EXECUTABLE. Ends with "N passed, N failed"."""
import json
import pathlib
import re
import subprocess
import sys

import hcl2

root = pathlib.Path(__file__).resolve().parents[2]
tf = root / "terraform"
billing = sys.argv[1]
passed = failed = 0


def check(name, ok):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}")


def unquote(v):
    if isinstance(v, str) and len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return v[1:-1]
    if isinstance(v, list):
        return [unquote(x) for x in v]
    if isinstance(v, dict):
        return {unquote(k): unquote(x) for k, x in v.items() if k != "__is_block__"}
    return v


def first(v):
    return v[0] if isinstance(v, list) else v


def blocks(doc, kind):
    out = {}
    for entry in doc.get(kind, []):
        out.update(unquote(entry))
    return out


docs = {p.name: hcl2.load(open(p)) for p in tf.glob("*.tf")}
variables = {k: v for d in docs.values() for k, v in blocks(d, "variable").items()}
resources = {}
for d in docs.values():
    for entry in d.get("resource", []):
        for rtype, named in unquote(entry).items():
            for name, body in named.items():
                resources[(rtype, name)] = body
outputs = {k: v for d in docs.values() for k, v in blocks(d, "output").items()}

# The provider's resources this module may use (stripe/stripe 0.3.x).
known = {"stripe_product", "stripe_price", "stripe_billing_meter", "stripe_billing_portal_configuration",
         "stripe_webhook_endpoint", "stripe_v2_core_event_destination"}
check("only stripe/stripe resources", {t for t, _ in resources} <= known)
for rtype in known:
    check(f"a {rtype}", any(t == rtype for t, _ in resources))

pinned = re.search(r'kApiVersion = "([^"]+)"', (root / "stripe/api_version.h").read_text()).group(1)
check("the webhook endpoint's API version is the pinned one", variables["api_version"]["default"] == pinned)
endpoint = resources[("stripe_webhook_endpoint", "billing")]
check("an endpoint per API version in use (the pinned one, and the one retiring during an upgrade)",
      "var.api_version" in endpoint["for_each"] and "var.previous_api_version" in endpoint["for_each"] and
      endpoint["api_version"] == "${each.key}")
check("a replaced endpoint is created before the old one goes",
      first(endpoint["lifecycle"]).get("create_before_destroy") is True)
handled = subprocess.run([billing, "event-types"], capture_output=True, text=True, check=True).stdout.split()
check("subscribed to exactly the event types the workers handle (billing event-types)",
      variables["enabled_events"]["default"] == handled)
check("the webhook endpoint uses them", endpoint["enabled_events"] == "${var.enabled_events}")
thin = subprocess.run([billing, "event-types", "--thin"], capture_output=True, text=True, check=True).stdout.split()
destination = resources[("stripe_v2_core_event_destination", "meter_errors")]
check("the event destination sends exactly the thin event types the workers handle (billing event-types --thin)",
      variables["thin_event_types"]["default"] == thin and destination["enabled_events"] == "${var.thin_event_types}")
check("the event destination sends thin events to the receiver's URL",
      destination["event_payload"] == "thin" and first(destination["webhook_endpoint"])["url"] == "${var.webhook_url}")

example = json.loads((root / "api/portal.example.json").read_text())
features = resources[("stripe_billing_portal_configuration", "portal")]["features"]
features = first(features)
cancel = first(features["subscription_cancel"])
check("portal: cancellation at period end, as configure-portal's example",
      cancel["mode"] == example["features"]["subscription_cancel"]["mode"])
check("portal: the same cancellation reasons",
      variables["portal"]["default"]["cancellation_reasons"] ==
      example["features"]["subscription_cancel"]["cancellation_reason"]["options"])
update = first(features["subscription_update"])
check("portal: plan switching with the same proration",
      update["proration_behavior"] == example["features"]["subscription_update"]["proration_behavior"])
check("portal: plan switching between every plan's prices", "var.plans" in json.dumps(update["products"]))
check("portal: the same customer updates",
      first(features["customer_update"])["allowed_updates"] == example["features"]["customer_update"]["allowed_updates"])
for feature in ("invoice_history", "payment_method_update"):
    check(f"portal: {feature} on", first(features[feature])["enabled"] is True)

plan_product = resources[("stripe_product", "plan")]
metadata = json.dumps(plan_product["metadata"])
for key in ("plan_key", "plan_order", "features", "limit_"):
    check(f"product metadata carries {key} (the API reads it)", key in metadata)
for key, plan in variables["plans"]["default"].items():
    check(f"plan {key} has monthly and annual amounts", plan["monthly_amount"] > 0 and plan["annual_amount"] > 0)
usage_price = resources[("stripe_price", "usage")]
recurring = first(usage_price["recurring"])
check("the usage price is metered on the meter", recurring["usage_type"] == "metered" and
      "stripe_billing_meter.usage.id" in recurring["meter"])
meter = resources[("stripe_billing_meter", "usage")]
check("the meter sums the value by customer id", first(meter["default_aggregation"])["formula"] == "sum" and
      first(meter["customer_mapping"])["event_payload_key"] == "stripe_customer_id" and
      first(meter["value_settings"])["event_payload_key"] == "value")
check("the signing secrets are a sensitive output", outputs["webhook_secrets"].get("sensitive") is True)
check("price ids are an output", "price_ids" in outputs)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

#!/usr/bin/env python3
"""Drives every hot path of the running roles once or more, for the scale test's plans: the sample events (twice:
the second delivery is the duplicates path) through the webhook receiver to the worker, an event at another API
version (the refetch queue), every API route for a filled account and for the demo account (reads, a plan change,
cancel and resume), and usage for both. Prints what each request answered; exits 1 if a request that must succeed
did not.

   hot_paths.py --webhook PORT --api PORT --webhook-secret S --api-key K --filled-account A --demo-account D"""
import argparse
import glob
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failures = 0


def call(method, url, body=None, headers=None, must=True):
    global failures
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    ok = 200 <= status < 300
    if must and not ok:
        failures += 1
    print(f"{'ok  ' if ok or not must else 'FAIL'} {status} {method} {url.split('/', 3)[-1][:90]}")
    try:
        return json.loads(text)
    except ValueError:
        return {}


def signed(port, secret, payload):
    ts = str(int(time.time()))
    sig = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return call("POST", f"http://127.0.0.1:{port}/webhooks/stripe", payload,
                {"Stripe-Signature": f"t={ts},v1={sig}", "Content-Type": "application/json"})


def main():
    p = argparse.ArgumentParser()
    for name in ("webhook", "api"):
        p.add_argument(f"--{name}", type=int, required=True)
    for name in ("webhook-secret", "api-key", "filled-account", "demo-account", "demo-customer"):
        p.add_argument(f"--{name}", required=True)
    args = p.parse_args()

    events = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "stripe", "events", "*.json")))
    for _ in range(2):  # the second delivery of each is a duplicate
        for path in events:
            signed(args.webhook, args.webhook_secret, open(path, "rb").read())
    # Rendered at another API version: the worker queues a fetch at ours (the refetch queue's paths).
    other = json.load(open(os.path.join(ROOT, "tests", "fixtures", "stripe", "events", "customer.updated.json")))
    other["id"] = "evt_scale_other_version"
    other["api_version"] = "2025-03-31.basil"
    other["data"]["object"]["id"] = args.demo_customer
    signed(args.webhook, args.webhook_secret, json.dumps(other).encode())

    api = f"http://127.0.0.1:{args.api}/v1"
    auth = {"Authorization": f"Bearer {args.api_key}", "Content-Type": "application/json"}
    for account in (args.filled_account, args.demo_account):
        base = f"{api}/accounts/{account}"
        for route in ("plans", "subscription", "entitlements", "usage"):
            call("GET", f"{base}/{route}", headers=auth)
        page = call("GET", f"{base}/invoices?limit=1", headers=auth)
        if page.get("data"):
            call("GET", f"{base}/invoices?limit=1&starting_after={page['data'][-1]['id']}", headers=auth)
        call("POST", f"{api}/tokens", {"account_id": account}, auth)
        call("POST", f"{api}/usage", {"events": [
            {"identifier": f"scale-{account}-{i}", "account_id": account, "event_name": "api_requests", "value": 1}
            for i in range(10)]}, {**auth, "Idempotency-Key": f"scale-usage-{account}"}, must=account == args.demo_account)

    base = f"{api}/accounts/{args.demo_account}"
    preview = call("POST", f"{base}/subscription/preview", {"price_id": "price_demo_business_monthly"}, auth)
    if preview.get("preview_token"):
        call("POST", f"{base}/subscription/change", {"preview_token": preview["preview_token"]},
             {**auth, "Idempotency-Key": "scale-change"})
    call("POST", f"{base}/subscription/cancel", {}, auth)
    call("POST", f"{base}/subscription/resume", {}, auth)
    call("POST", f"{base}/portal_session", {"return_url": "https://example.com/billing"}, auth, must=False)
    print(f"{failures} request(s) that must succeed failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Bad input over every HTTP endpoint of the running roles (started by badinput_test.sh).

Each case is sent on a raw socket, so framing can be as wrong as an attacker makes it. A case passes when the answer
is the status it names (or any 4xx where the handler decides), in the one JSON error shape, the connection closed
where HTTP says so, and the role still healthy afterwards. Then: pipelining, a flood of connections, and 300 slow plus
2,000 idle connections per port while ordinary requests are timed (p99 printed). Prints the table as it runs and
"N passed, N failed" last; writes each role's /metrics to --metrics-dir for the secrets check.
"""
import argparse
import hashlib
import hmac
import json
import os
import random
import select
import socket
import sys
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
passed = 0
failed = 0


def record(ok, case, endpoint, status, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(f"{'ok  ' if ok else 'FAIL'} {status!s:>6}  {endpoint:<52} {case}{'  (' + detail + ')' if detail else ''}",
          flush=True)


class Answer:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""
        self.closed = False
        self.error = ""


class Reader:
    """Reads HTTP responses from a socket, keeping what follows one response for the next."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def more(self, deadline):
        left = deadline - time.time()
        if left <= 0:
            return False
        if not readable(self.sock, left):
            return False
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BlockingIOError):
            return False
        self.buffer += chunk
        return bool(chunk)

    def answer(self, deadline):
        answer = Answer()
        while True:
            while b"\r\n\r\n" not in self.buffer:
                if not self.more(deadline):
                    answer.error = "timeout" if time.time() >= deadline else "closed before an answer"
                    answer.closed = True
                    return answer
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 100 "):  # an interim 100 Continue: the answer follows
                break
        lines = head.decode("latin-1").split("\r\n")
        answer.status = int(lines[0].split(" ")[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            answer.headers[name.strip().lower()] = value.strip()
        length = int(answer.headers.get("content-length", "0"))
        while len(self.buffer) < length:
            if not self.more(deadline):
                answer.error = "body cut short"
                break
        answer.body, self.buffer = self.buffer[:length], self.buffer[length:]
        return answer


def readable(sock, seconds):
    poller = select.poll()  # not select(): the slow and idle clients push descriptors past 1024
    poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(max(0, int(seconds * 1000))))


def is_closed(sock, wait=1.0):
    if not readable(sock, wait):
        return False
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def exchange(port, raw, timeout=15.0, then_wait_close=True):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before all was sent: the answer may still be readable
        answer = Reader(sock).answer(time.time() + timeout)
        if answer.status is not None and then_wait_close:
            answer.closed = is_closed(sock, 0.5)
        return answer
    finally:
        sock.close()


def error_shaped(answer):
    try:
        body = json.loads(answer.body)
        return isinstance(body.get("error", {}).get("code"), str) and isinstance(body["error"].get("message"), str)
    except (ValueError, AttributeError):
        return False


def healthy(port):
    a = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", timeout=5)
    return a.status == 200


def request(method, path, headers=None, body=b"", version="HTTP/1.1", length=True):
    lines = [f"{method} {path} {version}", "Host: badinput"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if length and body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def sign(secret, body, at=None):
    at = int(at or time.time())
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


# --- the table --------------------------------------------------------------------------------------------------

def framing_cases(method, path, extra_headers):
    """HTTP-layer cases for one endpoint: the same on every port. (name, raw bytes, expected status, must close)."""
    h = "".join(f"{k}: {v}\r\n" for k, v in extra_headers.items())
    start = f"{method} {path} HTTP/1.1\r\nHost: badinput\r\n{h}"
    q = "&" if "?" in path else "?"
    return [
        ("two different Content-Length", start + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x", 400, True),
        ("two equal Content-Length", start + "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", 400, True),
        ("Content-Length and chunked", start + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400, True),
        ("Content-Length -1", start + "Content-Length: -1\r\n\r\n", 400, True),
        ("Content-Length past int64", start + "Content-Length: 99999999999999999999\r\n\r\n", 413, True),
        ("Content-Length not a number", start + "Content-Length: abc\r\n\r\n", 400, True),
        ("TE gzip, chunked", start + "Transfer-Encoding: gzip, chunked\r\n\r\n", 400, True),
        ("TE twice", start + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, True),
        ("broken chunk size", start + "Transfer-Encoding: chunked\r\n\r\nxyz\r\n{}\r\n0\r\n\r\n", 400, True),
        ("chunk longer than its size", start + "Transfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n", 400, True),
        ("header line without colon", start + "Garbage\r\nContent-Length: 0\r\n\r\n", 400, True),
        ("space before colon", start + "Content-Length : 0\r\n\r\n", 400, True),
        ("folded header", start + "X-A: 1\r\n folded\r\n\r\n", 400, True),
        ("NUL in a header", start + "X-A: a\x00b\r\n\r\n", 400, True),
        ("bare LF", f"{method} {path} HTTP/1.1\nHost: badinput\n\n", 400, True),
        ("HTTP/9.9", f"{method} {path} HTTP/9.9\r\nHost: badinput\r\n\r\n", 400, True),
        ("HTTP/0.9 style", f"{method} {path}\r\n\r\n", 400, True),
        ("no Host", f"{method} {path} HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400, True),
        ("two Host", start + "Host: other\r\nContent-Length: 0\r\n\r\n", 400, True),
        ("bad percent escape", f"{method} {path}{q}x=%zz HTTP/1.1\r\nHost: badinput\r\n{h}Content-Length: 0\r\n\r\n", 400, True),
        ("truncated percent escape", f"{method} {path}{q}x=%4 HTTP/1.1\r\nHost: badinput\r\n{h}Content-Length: 0\r\n\r\n", 400, True),
        ("non-ASCII in the path", f"{method} {path}\xe9 HTTP/1.1\r\nHost: badinput\r\n\r\n", 400, True),
        ("absolute-form target", f"{method} http://badinput{path} HTTP/1.1\r\nHost: badinput\r\n\r\n", 400, True),
        ("oversized URI (10 KiB)", f"{method} {path}{q}x={'a' * 10240} HTTP/1.1\r\nHost: badinput\r\n\r\n", 414, True),
        ("oversized header (40 KiB)", start + f"X-Big: {'a' * 40960}\r\n\r\n", 431, True),
        ("200 repeated headers", start + "".join(f"X-R: {i}\r\n" for i in range(200)) + "\r\n", 431, True),
        ("Expect: unknown", start + "Expect: teapot\r\nContent-Length: 0\r\n\r\n", 417, True),
        ("body over the role's limit", start + "Content-Length: 67108864\r\n\r\n", 413, True),
        ("Content-Length longer than the body (body timeout)", start + "Content-Length: 100\r\n\r\n{}", 408, True),
        ("chunk larger than its data (body timeout)", start + "Transfer-Encoding: chunked\r\n\r\n64\r\n{}", 408, True),
        ("head never finished (header timeout)", start + "X-Slow: 1\r\n", 408, True),
    ]


def run_framing(port, endpoint, method, path, headers):
    for name, raw, want, close in framing_cases(method, path, headers):
        a = exchange(port, raw.encode("latin-1"), timeout=20)
        ok = a.status == want and error_shaped(a) and (a.closed or not close)
        record(ok, name, endpoint, a.status or a.error,
               "" if ok else f"want {want}{' + close' if close else ''}, closed={a.closed}, body={a.body[:80]!r}")


JSON_BODIES = [
    ("malformed JSON", b"{"),
    ("truncated JSON", b'{"account_id": "acc'),
    ("array, not an object", b"[]"),
    ("a string, not an object", b'"x"'),
    ("wrong types", b'{"account_id": 123, "customer_id": [], "price_id": {}, "ttl_seconds": "x", "events": 5}'),
    ("numbers past int64", b'{"ttl_seconds": 99999999999999999999999, "quantity": -99999999999999999999999}'),
    ("a float where an integer goes", b'{"ttl_seconds": 1.5e308, "quantity": 1e400}'),
    ("deep nesting (100k)", b"[" * 100000 + b"]" * 100000),
    ("deep nesting in a field", b'{"account_id": ' + b"[" * 50000 + b"]" * 50000 + b"}"),
    ("invalid UTF-8", b'{"account_id": "\xff\xfe"}'),
    ("overlong UTF-8", b'{"account_id": "\xc0\xaf"}'),
    ("NUL escaped", b'{"account_id": "a\\u0000b", "customer_id": "cus_\\u0000"}'),
    ("raw NUL byte", b'{"account_id": "a\x00b"}'),
    ("lone surrogate", b'{"account_id": "\\ud800"}'),
    ("duplicated fields", b'{"account_id": "a", "account_id": "b", "customer_id": "cus_1", "customer_id": "cus_2"}'),
    ("missing fields", b"{}"),
    ("unknown fields", b'{"nonsense": true}'),
    ("SQL metacharacters", json.dumps({
        "account_id": "x' OR '1'='1", "customer_id": "cus_'; DROP TABLE customers; --", "price_id": "price_\\\"'--",
        "plan": "'; SELECT pg_sleep(10); --", "ttl_seconds": 60, "return_url": "http://x/'--",
        "events": [{"identifier": "'; --", "account_id": "a' --", "event_name": "x'); DROP TABLE usage_events; --",
                    "value": 1, "timestamp": 1}]}).encode()),
    ("empty string fields", b'{"account_id": "", "customer_id": "", "price_id": ""}'),
    ("huge string field (60 KiB)", json.dumps({"account_id": "a" * 61000}).encode()),
    ("oversized body (600 KiB)", json.dumps({"events": [{"identifier": "i" * 100}] * 5500}).encode()),
]


def api_routes():
    spec = yaml.safe_load(open(os.path.join(ROOT, "api", "openapi.yaml")))
    for path, item in spec["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path, "requestBody" in item[method]


def api_cases(port, api_key, account):
    auth = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    for method, template, takes_body in api_routes():
        path = template.replace("{account_id}", account)
        endpoint = f"api {method} {template}"
        for name, body in JSON_BODIES:
            a = exchange(port, request(method, path, auth, body), timeout=20)
            ok = a.status is not None and 400 <= a.status < 500 and error_shaped(a)
            if method == "GET" and a.status == 200:
                ok = True  # a GET ignores its body
            if method == "POST" and not takes_body and body == b"{}" and a.status in (200, 404, 409):
                ok = True  # a no-parameter POST takes {} (api/openapi.yaml: "an empty body or {}")
            if template == "/v1/usage" and a.status == 200:
                # A usage batch answers per event (api/openapi.yaml): acceptable only if nothing was accepted.
                try:
                    answer = json.loads(a.body)
                    ok = answer["accepted"] == 0 and all("error" in r for r in answer["results"])
                except (ValueError, KeyError, TypeError):
                    ok = False
            record(ok, name, endpoint, a.status or a.error, "" if ok else f"body={a.body[:100]!r}")
        # SQL metacharacters and odd bytes in the path parameter, percent-encoded as a client would.
        if "{account_id}" in template:
            for name, value in [("SQL in the path", "x'%20OR%20'1'%3D'1"), ("encoded NUL in the path", "a%00b"),
                                ("encoded slash in the path", "a%2Fb"), ("very long id", "a" * 4000),
                                ("invalid UTF-8 in the path", "%FF%FE")]:
                p = template.replace("{account_id}", value)
                a = exchange(port, request(method, p, auth, b"{}"), timeout=20)
                ok = a.status is not None and 400 <= a.status < 500 and error_shaped(a)
                record(ok, name, endpoint, a.status or a.error, "" if ok else f"body={a.body[:100]!r}")
    # Authentication headers that can be wrong.
    for name, value in [("no Authorization", None), ("empty Bearer", "Bearer "), ("wrong key", "Bearer bk_wrong"),
                        ("Basic auth", "Basic YTpi"), ("NUL-free junk token", "Bearer " + "x" * 4000),
                        ("forged account token", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")]:
        headers = {} if value is None else {"Authorization": value}
        a = exchange(port, request("GET", f"/v1/accounts/{account}/plans", headers), timeout=10)
        record(a.status == 401 and error_shaped(a), name, "api GET /v1/accounts/{account_id}/plans", a.status)
    a = exchange(port, request("GET", "/v1/accounts/" + account + "/plans",
                               {"Authorization": f"Bearer {api_key}", "Authorization ": "x"}), timeout=10)
    record(a.status == 400 and a.closed, "Authorization with space before colon", "api GET plans", a.status)


def webhook_cases(port, secret):
    path = "/webhooks/stripe"
    event = json.loads(open(os.path.join(ROOT, "tests", "fixtures", "stripe", "events", "customer.created.json")).read())
    bodies = [(name, body) for name, body in JSON_BODIES if not name.startswith("oversized")]
    shaped = [
        ("id a number", dict(event, id=123)),
        ("type missing", {k: v for k, v in event.items() if k != "type"}),
        ("object not event", dict(event, object="customer")),
        ("created past int64", json.dumps(event)[:-1].encode() + b', "created2": 1}'),
        ("data a string", dict(event, data="x")),
        ("SQL in id and type", dict(event, id="evt_'; DROP TABLE processed_events; --", type="x'--")),
        ("livemode a string", dict(event, livemode="yes")),
    ]
    for name, body in bodies + shaped:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        # Signed correctly: the parsers behind the signature are what is tried here.
        a = exchange(port, request("POST", path, {"Stripe-Signature": sign(secret, raw), "Content-Type": "application/json"}, raw))
        ok = a.status is not None and a.status in (200, 400) and error_shaped(a) if a.status != 200 else True
        record(ok, "signed: " + name, "webhook POST " + path, a.status or a.error, "" if ok else f"body={a.body[:100]!r}")
    # A member read twice is ambiguous (readers disagree on which value wins): refused, never half-read.
    raw = json.dumps(event)[:-1].encode() + b', "type": "invoice.paid"}'
    a = exchange(port, request("POST", path, {"Stripe-Signature": sign(secret, raw), "Content-Type": "application/json"}, raw))
    record(a.status == 400 and error_shaped(a), "signed: type twice", "webhook POST " + path, a.status)
    good = json.dumps(event).encode()
    for name, header in [("no signature", None), ("empty signature", ""), ("wrong secret", sign("whsec_wrong", good)),
                         ("stale timestamp", sign(secret, good, time.time() - 3600)),
                         ("t past int64", "t=99999999999999999999999,v1=" + "0" * 64),
                         ("v1 not hex", "t=1,v1=zz"), ("only v0", "t=1,v0=" + "0" * 64),
                         ("300 schemes", ",".join(["v1=" + "0" * 64] * 300)), ("NUL-free junk", "x" * 8000)]:
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers["Stripe-Signature"] = header
        a = exchange(port, request("POST", path, headers, good))
        record(a.status == 400 and error_shaped(a), name, "webhook POST " + path, a.status)
    # Stripe's libraries check only that a timestamp is not older than the tolerance (stripe-node's
    # validateComputedSignature, stripe-go's ValidatePayload: a negative age passes), so a future one is accepted.
    a = exchange(port, request("POST", path, {"Stripe-Signature": sign(secret, good, time.time() + 3600)}, good))
    record(a.status == 200, "future timestamp (accepted, as Stripe's libraries do)", "webhook POST " + path, a.status)
    a = exchange(port, request("POST", path, {"Stripe-Signature": sign(secret, good)}, b"", length=False))
    record(a.status == 400 and error_shaped(a), "POST without a length (empty body)", "webhook POST " + path, a.status)
    a = exchange(port, request("POST", path, {"Stripe-Signature": sign(secret, good)}, b"x" * (2 << 20)))
    record(a.status == 413 and error_shaped(a), "body over 1 MiB", "webhook POST " + path, a.status)
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"):
        a = exchange(port, request(method, path, {}, b""))
        record(a.status == 405 and error_shaped(a), method, "webhook " + method + " " + path, a.status)


def ops_cases(port, role, ops_only):
    for path in ("/healthz", "/readyz", "/metrics"):
        for method in ("POST", "PUT", "DELETE"):
            a = exchange(port, request(method, path, {}, b"{}"))
            record(a.status == 405 and error_shaped(a), method, f"{role} {method} {path}", a.status)
    a = exchange(port, request("GET", "/nope", {}, b""))
    record(a.status == 404 and error_shaped(a), "unknown path", f"{role} GET /nope", a.status)
    a = exchange(port, request("GET", "/healthz", {}, b"x" * 100000))
    if ops_only:  # an ops-only port takes bodies of 64 KiB at most
        record(a.status == 413 and error_shaped(a) and a.closed, "body over the ops limit", f"{role} GET /healthz", a.status)
    else:  # within the role's body limit: read whole by the server (framing intact), ignored, the connection reusable
        record(a.status == 200, "100 KB body on a GET (ignored)", f"{role} GET /healthz", a.status)


def pipelining(port, role, count=51):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    raw = b"".join(b"GET /healthz HTTP/1.1\r\nHost: p\r\n\r\n" for _ in range(count))
    sock.sendall(raw)
    got, reader, deadline = 0, Reader(sock), time.time() + 15
    while got < count:
        a = reader.answer(deadline)
        if a.status != 200:
            break
        got += 1
    sock.close()
    record(got == count, f"{count} pipelined requests answered in order", f"{role} GET /healthz", f"{got}/{count}")


def flood(port, role, count=3000):
    opened = 0
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.close()
            opened += 1
        except OSError:
            pass
    record(opened == count and healthy(port), f"{count} connections opened and dropped", f"{role} port", opened)


def ordinary_latencies(port, raw, want, count, deadline):
    times, bad = [], 0
    for _ in range(count):
        if time.time() > deadline:
            break
        started = time.time()
        a = exchange(port, raw, timeout=15, then_wait_close=False)
        times.append(time.time() - started)
        if a.status != want:
            bad += 1
    return times, bad


def slow_and_idle(ports, ordinary, slow_per_port=300, idle_per_port=2000, seconds=25):
    """Attackers: per port, slow clients (one header byte a second, reconnecting when closed) and idle connections
    (reconnecting when closed); meanwhile ordinary requests on every port are timed."""
    import threading
    stop = threading.Event()
    counts = {"slow_closed": 0, "idle_closed": 0, "open_failures": 0}

    def attacker():
        conns = []  # (socket, kind, port, bytes sent)
        def open_one(kind, port):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.setblocking(False)
                conns.append([s, kind, port, 0])
            except OSError:
                counts["open_failures"] += 1
        for port in ports:
            for _ in range(slow_per_port):
                open_one("slow", port)
            for _ in range(idle_per_port):
                open_one("idle", port)
        head = b"POST /webhooks/stripe HTTP/1.1\r\nHost: slow\r\nX-Pad: " + b"a" * 10000
        while not stop.is_set():
            for c in list(conns):
                s, kind, port, sent = c
                closed = False
                try:
                    if s.recv(65536) == b"":
                        closed = True
                except BlockingIOError:
                    pass
                except OSError:
                    closed = True
                if not closed and kind == "slow":
                    try:
                        s.send(head[sent % len(head):sent % len(head) + 1])
                        c[3] += 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed = True
                if closed:
                    counts[kind + "_closed"] += 1
                    s.close()
                    conns.remove(c)
                    open_one(kind, port)
            stop.wait(1.0)
        for c in conns:
            c[0].close()

    t = threading.Thread(target=attacker, daemon=True)
    t.start()
    time.sleep(3)  # let the attackers connect
    results = {}
    deadline = time.time() + seconds
    while time.time() < deadline:
        for role, (port, raw, want) in ordinary.items():
            times, bad = ordinary_latencies(port, raw, want, 10, deadline + 5)
            r = results.setdefault(role, ([], 0))
            results[role] = (r[0] + times, r[1] + bad)
    stop.set()
    t.join()
    for role, (times, bad) in results.items():
        times.sort()
        p99 = times[max(0, int(len(times) * 0.99) - 1)] if times else float("inf")
        p50 = times[len(times) // 2] if times else float("inf")
        ok = bad == 0 and len(times) >= 50 and p99 < 2.0
        record(ok, f"ordinary requests under {slow_per_port} slow + {idle_per_port} idle connections per port",
               role, f"{len(times) - bad}/{len(times)}",
               f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; attackers closed: slow {counts['slow_closed']}, "
               f"idle {counts['idle_closed']}, failed to connect {counts['open_failures']}")
        print(f"LATENCY {role} requests={len(times)} failed={bad} p50_ms={p50 * 1000:.1f} p99_ms={p99 * 1000:.1f}",
              flush=True)
    record(counts["slow_closed"] > 0, "slow clients are closed by the header timeout", "all ports", counts["slow_closed"])


def fetch_metrics(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
    a = Reader(sock).answer(time.time() + 10)
    sock.close()
    return a.body.decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--webhook", type=int, required=True)
    ap.add_argument("--api", type=int, required=True)
    ap.add_argument("--worker", type=int, required=True)
    ap.add_argument("--reporter", type=int, required=True)
    ap.add_argument("--webhook-secret", required=True)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--account", required=True)
    ap.add_argument("--metrics-dir", required=True)
    ap.add_argument("--slow", type=int, default=300)
    ap.add_argument("--idle", type=int, default=2000)
    args = ap.parse_args()
    roles = {"webhook": args.webhook, "api": args.api, "worker": args.worker, "usage-reporter": args.reporter}
    sig = {"Stripe-Signature": "t=1,v1=00"}

    print(f"{'':4} {'status':>6}  {'endpoint':<52} case", flush=True)
    run_framing(args.webhook, "webhook POST /webhooks/stripe", "POST", "/webhooks/stripe", sig)
    run_framing(args.api, "api POST /v1/accounts", "POST", "/v1/accounts", {"Authorization": f"Bearer {args.api_key}"})
    run_framing(args.api, "api GET /v1/accounts/{account_id}/plans", "GET", f"/v1/accounts/{args.account}/plans",
                {"Authorization": f"Bearer {args.api_key}"})
    run_framing(args.worker, "worker GET /healthz", "GET", "/healthz", {})
    run_framing(args.reporter, "usage-reporter GET /readyz", "GET", "/readyz", {})
    webhook_cases(args.webhook, args.webhook_secret)
    api_cases(args.api, args.api_key, args.account)
    for role, port in roles.items():
        ops_cases(port, role, role in ("worker", "usage-reporter"))
        pipelining(port, role)
        flood(port, role)
        record(healthy(port), "healthy after the table", f"{role} GET /healthz", "")

    event = open(os.path.join(ROOT, "tests", "fixtures", "stripe", "events", "customer.created.json"), "rb").read()
    ordinary = {
        "webhook": (args.webhook, request("POST", "/webhooks/stripe", {"Stripe-Signature": sign(args.webhook_secret, event)},
                                          event), 200),
        "api": (args.api, request("GET", f"/v1/accounts/{args.account}/plans", {"Authorization": f"Bearer {args.api_key}"}),
                200),
    }
    slow_and_idle([args.webhook, args.api], ordinary, args.slow, args.idle)
    for role, port in roles.items():
        record(healthy(port), "healthy after the slow and idle clients", f"{role} GET /healthz", "")
        text = fetch_metrics(port)
        open(os.path.join(args.metrics_dir, role + ".metrics"), "w").write(text)
        refused = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                      if line.startswith("billing_http_requests_refused_total{"))
        record(refused > 0, "refusals counted in billing_http_requests_refused_total", f"{role} /metrics", int(refused))
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

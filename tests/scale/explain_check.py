#!/usr/bin/env python3
"""Reads the plans PostgreSQL's auto_explain logged for every statement the roles ran (JSON format) and checks that
none reads a big table with a sequential scan, and that every hot path named below ran at least once.

   explain_check.py POSTGRES_LOG --big-tables customers,subscriptions,... [--rows N]

Prints one line per distinct statement (ok/FAIL, calls, slowest run, how each table was read, the statement's start),
then the hot paths covered, and as its last line the counts."""
import argparse
import json
import re
import sys

# Each hot path the issue names, as the statements it must have produced (a regex over the statement's text). A path
# with no statement means the test didn't exercise it: a failure, not a pass.
HOT_PATHS = [
    ("worker: duplicates check", r"FROM processed_events"),
    ("worker: event recorded", r"INSERT INTO processed_events"),
    ("worker: subscription written", r"INSERT INTO subscriptions"),
    ("worker: subscription items replaced", r"subscription_items"),
    ("worker: invoice written", r"INSERT INTO invoices"),
    ("worker: customer written", r"INSERT INTO customers"),
    ("refetch queue: enqueued", r"INSERT INTO refetch_queue"),
    ("refetch queue: claimed", r"UPDATE refetch_queue"),
    ("refetch queue: settled", r"DELETE FROM refetch_queue"),
    ("API: account resolved", r"FROM accounts"),
    ("API: subscription read", r"FROM (subscriptions|current_subscriptions)"),
    ("API: invoices listed", r"FROM invoices"),
    ("API: usage read", r"FROM usage_(events|aggregates)"),
    ("usage: events recorded", r"INSERT INTO usage_events"),
    ("usage: aggregates sealed", r"UPDATE usage_aggregates"),
]

PLAN_START = re.compile(r"app=(\S*) .*LOG:\s+duration: ([0-9.]+) ms\s+plan:\s*$")


def plans(log_path):
    """Yields (duration_ms, plan dict) for every auto_explain entry of the roles' sessions (not the test's psql);
    continuation lines start with a tab."""
    with open(log_path, encoding="utf-8", errors="replace") as log:
        lines = log.read().split("\n")
    i = 0
    while i < len(lines):
        m = PLAN_START.search(lines[i])
        i += 1
        if not m:
            continue
        body = []
        while i < len(lines) and lines[i].startswith("\t"):
            body.append(lines[i][1:])
            i += 1
        if m.group(1) == "psql":
            continue
        try:
            yield float(m.group(2)), json.loads("\n".join(body))
        except ValueError:
            yield float(m.group(2)), None


def scans(node, found):
    """Collects (relation, node type) for every node that reads a table, in the plan and its subplans."""
    relation = node.get("Relation Name")
    if relation:
        found.add((relation, node["Node Type"]))
    for child in node.get("Plans", []):
        scans(child, found)
    return found


def normalized(text):
    return re.sub(r"\s+", " ", text).strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--big-tables", required=True)
    parser.add_argument("--rows", default="?")
    args = parser.parse_args()
    big = set(t for t in args.big_tables.split(",") if t)

    statements = {}  # text -> {calls, slowest, scans}
    unreadable = 0
    for duration, plan in plans(args.log):
        if plan is None:
            unreadable += 1
            continue
        text = normalized(plan.get("Query Text", ""))
        entry = statements.setdefault(text, {"calls": 0, "slowest": 0.0, "scans": set()})
        entry["calls"] += 1
        entry["slowest"] = max(entry["slowest"], duration)
        scans(plan["Plan"], entry["scans"])

    failed = 0
    for text, entry in sorted(statements.items(), key=lambda kv: -kv[1]["slowest"]):
        bad = sorted(r for r, kind in entry["scans"] if kind == "Seq Scan" and r in big)
        failed += bool(bad)
        how = ", ".join(f"{r}:{kind}" for r, kind in sorted(entry["scans"])) or "no table"
        print(f"{'FAIL' if bad else 'ok  '} {entry['calls']:6d} calls  {entry['slowest']:9.2f} ms  [{how}]  {text[:160]}")
        if bad:
            print(f"     a sequential scan over {', '.join(bad)} ({args.rows} subscriptions): {text}")

    print()
    uncovered = 0
    for name, pattern in HOT_PATHS:
        hits = [t for t in statements if re.search(pattern, t)]
        uncovered += not hits
        print(f"{'ok  ' if hits else 'FAIL'} hot path {name}: {len(hits)} statement(s)")
    if unreadable:
        print(f"FAIL {unreadable} plan(s) in the log could not be read")
    print(f"{len(statements)} statements checked against {args.rows} subscriptions, {failed} with a sequential scan "
          f"over a big table, {len(HOT_PATHS) - uncovered} of {len(HOT_PATHS)} hot paths covered")
    return 1 if failed or uncovered or unreadable or not statements else 0


if __name__ == "__main__":
    sys.exit(main())

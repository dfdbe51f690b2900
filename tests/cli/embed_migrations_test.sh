#!/usr/bin/env bash
# schema/embed_migrations.cmake: SQL files become C++ string literals byte for byte; bad names and duplicate
# versions fail the build. Prints "N passed, N failed".
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1"; fi; }
embed() { cmake -DOUTPUT="$tmp/out.cpp" -DMIGRATIONS_DIR="$1" -P "$root/schema/embed_migrations.cmake" >"$tmp/log" 2>&1; }

mkdir -p "$tmp/good"
printf 'CREATE TABLE a (x text DEFAULT E'"'"'q\\\\"'"'"');\n-- "quotes" and \\backslashes\n' > "$tmp/good/0001_first.sql"
printf 'SELECT 2;\n' > "$tmp/good/0002_second_step.sql"
embed "$tmp/good"
check "embeds" '[[ $? -eq 0 ]] && grep -q "{1, \"0001_first\", R\"billing_sql(" "$tmp/out.cpp" && grep -q "{2, \"0002_second_step\"" "$tmp/out.cpp"'
check "keeps bytes" 'grep -qF -- "-- \"quotes\" and \\backslashes" "$tmp/out.cpp"'

mkdir -p "$tmp/badname" && echo "SELECT 1;" > "$tmp/badname/1_first.sql"
embed "$tmp/badname"; rc=$?
check "bad name fails" '[[ $rc -ne 0 ]] && grep -q "NNNN_lowercase_words.sql" "$tmp/log"'

mkdir -p "$tmp/dup" && echo "SELECT 1;" > "$tmp/dup/0001_a.sql" && echo "SELECT 1;" > "$tmp/dup/0001_b.sql"
embed "$tmp/dup"; rc=$?
check "duplicate version fails" '[[ $rc -ne 0 ]] && grep -q "used twice" "$tmp/log"'

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

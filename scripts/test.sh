#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every test under CTest.
#   unit        Catch2, no services (librdkafka's in-process mock at most)
#   integration real Apache Kafka 4.1 (and PostgreSQL 15) started and stopped by the tests themselves
#   sdk         the committed signature vectors are the official stripe npm package's verdicts
#   cli         the billing executable's command-line contract
#   badinput    every endpoint of every role under malformed, ambiguous, slow and flooding clients
#   scale       the plan of every hot-path statement against 1,000,000 subscriptions
#   fuzz        libFuzzer targets (clang) over the parsers of outside bytes, 20 s each
# The unit tests also run once under ASan+UBSan (set BILLING_SKIP_SANITIZE=1 to skip).
# Extra arguments go to ctest (e.g. scripts/test.sh -L unit).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/install-deps.sh" --deployment-tests

if [[ "${BILLING_SKIP_SANITIZE:-0}" != "1" && $# -eq 0 ]]; then
  BILLING_SANITIZE=1 "$REPO_ROOT/scripts/build.sh" unit_tests
  log "unit tests under ASan+UBSan"
  (cd "$REPO_ROOT/build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest -L unit --output-on-failure -j "$(nproc)" --timeout 300)
fi

"$REPO_ROOT/scripts/build.sh"
# The fuzz targets (clang, a few minutes): for the fuzz label, so not when only other labels were asked for.
if [[ $# -eq 0 || "$*" == *fuzz* ]]; then
  "$REPO_ROOT/scripts/fuzz.sh" build
fi
log "all tests"
cd "$BUILD_DIR"
status=0
ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@" || status=$?
# CTest shows the output of failed tests only: say here, for every test that counts its checks, what it counted,
# and every NOT RUN anywhere (a test that could not run what it names must not pass unnoticed).
if [[ -f Testing/Temporary/LastTest.log ]]; then
  log "what the script tests counted (NOT RUN lines included)"
  awk '/^[0-9]+\/[0-9]+ Testing: / { sub(/^[0-9]+\/[0-9]+ Testing: /, ""); name = $0 }
       /NOT RUN/ { print "  " name ": " $0 }
       /^chaos( usage)?: [0-9]/ { print "  " name ": " $0 }
       /^[0-9]+ passed, [0-9]+ failed$/ { if (!(name in last)) order[++n] = name; last[name] = $0 }
       END { for (i = 1; i <= n; i++) print "  " order[i] ": " last[order[i]] }' Testing/Temporary/LastTest.log
fi
exit "$status"

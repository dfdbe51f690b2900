#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (Debian's clang 14, ASan + UBSan), built into $BILLING_FUZZ_DIR (build-fuzz/).
#   scripts/fuzz.sh build                              configure and build the targets
#   scripts/fuzz.sh run [--seconds N] [TARGET...]      replay fuzz/regressions, then fuzz each target for N s (20)
#                      [--prebuilt]                    don't build: NOT RUN if the targets are missing (the CTest test)
# The working corpus grows in build-fuzz/corpus/TARGET between runs, seeded from fuzz/seeds/TARGET (and the sample
# events for the event target). A crash or broken property leaves its input in
# build-fuzz/crashes/TARGET-*: copy it into fuzz/regressions/TARGET/ with the fix. The last line counts targets,
# executions and crashes. Long run: scripts/fuzz.sh run --seconds 300, or longer (README lists what it gave).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FUZZ_DIR="${BILLING_FUZZ_DIR:-$REPO_ROOT/build-fuzz}"
TARGETS=(signature event stripe_form api_input request_reader usage_batch config)

build() {
  command -v clang++-14 >/dev/null || die "clang++-14 is missing: run scripts/install-deps.sh"
  if [[ ! -f "$FUZZ_DIR/CMakeCache.txt" ]]; then
    local generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
    CXX=clang++-14 cmake -S "$REPO_ROOT" -B "$FUZZ_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DBILLING_FUZZ=ON -DBILLING_TESTS=OFF >/dev/null
  fi
  log "building the fuzz targets in $FUZZ_DIR"
  cmake --build "$FUZZ_DIR" --parallel "$(nproc)"
}

run() {
  local seconds=20 prebuilt=0 chosen=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --seconds) seconds="$2"; shift 2 ;;
      --prebuilt) prebuilt=1; shift ;;
      *) chosen+=("$1"); shift ;;
    esac
  done
  [[ ${#chosen[@]} -gt 0 ]] || chosen=("${TARGETS[@]}")
  if [[ $prebuilt == 1 ]]; then
    local t
    for t in "${chosen[@]}"; do
      [[ -x "$FUZZ_DIR/fuzz/${t}_fuzz" ]] || { echo "NOT RUN: $FUZZ_DIR/fuzz/${t}_fuzz is not built (scripts/fuzz.sh build)"; exit 1; }
    done
  else
    build
  fi
  local total_execs=0 total_crashes=0 target
  for target in "${chosen[@]}"; do
    local bin="$FUZZ_DIR/fuzz/${target}_fuzz" corpus="$FUZZ_DIR/corpus/$target" crashes="$FUZZ_DIR/crashes"
    local seeds=("$REPO_ROOT/fuzz/seeds/$target")
    case "$target" in
      event) seeds+=("$REPO_ROOT/tests/fixtures/stripe/events") ;;
    esac
    mkdir -p "$corpus" "$crashes"
    local existing=()
    for dir in "${seeds[@]}"; do [[ -d "$dir" ]] && existing+=("$dir"); done
    local crashed=0 out="$FUZZ_DIR/$target.log"
    # Every past finding first: each must now run clean.
    if compgen -G "$REPO_ROOT/fuzz/regressions/$target/*" >/dev/null; then
      if ! "$bin" -runs=0 "$REPO_ROOT/fuzz/regressions/$target"/* > "$FUZZ_DIR/$target.regressions.log" 2>&1; then
        tail -30 "$FUZZ_DIR/$target.regressions.log"
        echo "FAIL $target: a regression input crashes again"
        crashed=1
      fi
    fi
    local rc=0
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$crashes/$target-" "$corpus" "${existing[@]}" > "$out" 2>&1 || rc=$?
    local execs; execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)"
    execs="${execs:-0}"
    if [[ $rc -ne 0 ]]; then
      crashed=1
      grep -E "ERROR|property failed|SUMMARY|Test unit written" "$out" | head -10 || true
    fi
    total_execs=$((total_execs + execs)); total_crashes=$((total_crashes + crashed))
    printf '%-4s %-16s %10s executions in %ss, corpus %s inputs%s\n' "$([[ $crashed == 0 ]] && echo ok || echo FAIL)" \
      "$target" "$execs" "$seconds" "$(find "$corpus" -type f | wc -l)" "$([[ $crashed == 0 ]] || echo ", crash kept in $crashes")"
  done
  echo "${#chosen[@]} targets, $total_execs executions, $total_crashes crashes"
  [[ $total_crashes -eq 0 ]]
}

case "${1:-}" in
  build) build ;;
  run) shift; run "$@" ;;
  *) die "usage: fuzz.sh build | run [--seconds N] [--prebuilt] [TARGET...]" ;;
esac

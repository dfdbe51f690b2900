#!/usr/bin/env bash
# Configures and builds into $BILLING_BUILD_DIR (default: build/): everything, or the CMake targets given as arguments.
# Warnings are errors when CI=true. BILLING_SANITIZE=1 builds with ASan+UBSan (into build-asan/ by default).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

werror=OFF; [[ "${CI:-}" == "true" ]] && werror=ON
sanitize=OFF
flags=()
if [[ "${BILLING_SANITIZE:-0}" == "1" ]]; then
  sanitize=ON
  BUILD_DIR="${BILLING_BUILD_DIR:-$REPO_ROOT/build-asan}"
  # -O1 and line tables only: what ASan's own docs suggest for speed, and the stack traces keep file:line; it
  # compiles faster than -O2 -g, which matters because this build exists only for the unit tests.
  flags=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG")
fi
generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S "$REPO_ROOT" -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBILLING_WERROR="$werror" -DBILLING_SANITIZE="$sanitize" "${flags[@]}" >/dev/null
else
  cmake -S "$REPO_ROOT" -B "$BUILD_DIR" -DBILLING_WERROR="$werror" -DBILLING_SANITIZE="$sanitize" "${flags[@]}" >/dev/null
fi
log "building in $BUILD_DIR (werror=$werror sanitize=$sanitize)"
targets=(); for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$BUILD_DIR" --parallel "$(nproc)" "${targets[@]}"

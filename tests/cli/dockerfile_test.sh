#!/usr/bin/env bash
# What can be checked of the Dockerfile without a Docker daemon: every runtime package of the final stage exists in
# Debian 12; every shared library the built `billing` needs directly (its NEEDED entries) comes from one of those
# packages or from the base image's libc/libstdc++; every source folder CMake adds is copied into the build stage;
# the final stage runs as a non-root user. Usage: dockerfile_test.sh BILLING_EXECUTABLE
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
billing="$1"
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1"; fi; }

final_stage="$(awk '/^FROM /{n++} n==2' "$root/Dockerfile")"
runtime_packages="$(grep -A3 'apt-get install' <<<"$final_stage" | tr ' \\' '\n\n' | grep -E '^lib|^ca-certificates$' | sort -u)"
check "the final stage installs runtime packages" '[[ -n "$runtime_packages" ]]'
for p in $runtime_packages; do
  check "package $p exists in Debian 12" 'apt-cache show "$p" >/dev/null 2>&1'
done
base_packages="libc6 libgcc-s1 libstdc++6"
for lib in $(readelf -d "$billing" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'); do
  owner="$(dpkg -S "*/$lib" 2>/dev/null | head -1 | cut -d: -f1)"
  check "$lib (from ${owner:-nowhere}) is in the final stage" \
    '[[ -n "$owner" ]] && grep -qx -- "$owner" <<<"$runtime_packages"$'"'"'\n'"'"'"${base_packages// /$'"'"'\n'"'"'}"'
done
for dir in $(sed -n 's/^add_subdirectory(\([a-z_]*\).*/\1/p' "$root/CMakeLists.txt"); do
  check "source folder $dir is copied" 'grep -q "^COPY $dir $dir" "$root/Dockerfile"'
done
check "runs as a non-root user" 'grep -qE "^USER [1-9][0-9]*" <<<"$final_stage"'
check "only the executable comes from the build stage" '[[ $(grep -c "^COPY --from=build" <<<"$final_stage") == 1 ]]'
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

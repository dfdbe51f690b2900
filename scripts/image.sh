#!/usr/bin/env bash
# Builds the Dockerfile into an OCI image without a Docker daemon or a registry (Debian's buildah), from a Debian 12
# base made from Debian's own packages (mmdebstrap), so `FROM debian:12-slim` resolves offline.
#   scripts/image.sh build [NAME]     build NAME (default localhost/stripe-billing:<version>); prints NAME
#   scripts/image.sh buildah ARGS...  buildah on the same storage (run, from, inspect, push, rm...)
# The base is cached under $CACHE_DIR/images by Debian snapshot (the Date lines of the apt InRelease files this
# machine uses), and the image store under $CACHE_DIR/buildah. Reproducible timestamps: SOURCE_DATE_EPOCH (default:
# the last commit's time) is the image's creation time and every layer file's mtime (`buildah bud --timestamp`).
# Push it: scripts/image.sh buildah push NAME docker://registry.example.com/stripe-billing:0.1.0
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

store="$CACHE_DIR/buildah"
b() { buildah --storage-driver overlay --root "$store/root" --runroot "$store/run" "$@"; }

# The base: Debian 12 minbase from the apt sources this machine uses, under the name debian:12-slim expands to.
base_name="docker.io/library/debian:12-slim"
ensure_base() {
  command -v mmdebstrap >/dev/null && command -v buildah >/dev/null || die "buildah and mmdebstrap are missing: run scripts/install-deps.sh"
  local snapshot
  snapshot="$(cat /var/lib/apt/lists/*_InRelease 2>/dev/null | grep '^Date:' | sort | sha256sum | cut -c1-16)"
  [[ -n "$snapshot" ]] || die "no apt InRelease files: run apt-get update first"
  local tar="$CACHE_DIR/images/debian-12-$snapshot.tar" marker="$store/base-$snapshot"
  [[ -f "$marker" ]] && b inspect --type image "$base_name" >/dev/null 2>&1 && return 0
  mkdir -p "$CACHE_DIR/images" "$store"
  if [[ ! -f "$tar" ]]; then
    log "making the Debian 12 base image (mmdebstrap, snapshot $snapshot)"
    local sources=/etc/apt/sources.list.d/debian.sources
    [[ -f $sources ]] || sources=/etc/apt/sources.list
    SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-0}" mmdebstrap --quiet --variant=minbase --format=tar bookworm "$tar.tmp" "$sources" \
      && mv "$tar.tmp" "$tar" || { rm -f "$tar.tmp"; die "mmdebstrap failed"; }
  fi
  log "importing the base image as $base_name"
  local c; c="$(b from scratch)" || die "buildah from scratch failed"
  b add "$c" "$tar" / >/dev/null && b config --cmd /bin/bash "$c" && b commit --quiet --rm "$c" "$base_name" >/dev/null \
    || die "importing the base image failed"
  rm -f "$store"/base-* && touch "$marker"
}

case "${1:-}" in
  build)
    name="${2:-localhost/stripe-billing:$(sed -n 's/.*billing \([0-9][0-9.]*\).*/\1/p' "$REPO_ROOT/app/commands.cpp" | head -1)}"
    ensure_base
    epoch="${SOURCE_DATE_EPOCH:-$(git -C "$REPO_ROOT" log -1 --format=%ct 2>/dev/null || echo 0)}"
    log "building $name from Dockerfile (buildah, SOURCE_DATE_EPOCH=$epoch)"
    b bud --quiet --isolation chroot --pull=never --timestamp "$epoch" --layers=false -t "$name" \
      -f "$REPO_ROOT/Dockerfile" "$REPO_ROOT" >&2 || die "the image build failed"
    echo "$name"
    ;;
  buildah)
    shift
    b "$@"
    ;;
  *)
    die "usage: image.sh build [NAME] | image.sh buildah ARGS..."
    ;;
esac

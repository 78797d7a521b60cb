#!/usr/bin/env bash
# The Debian trixie chroot with GIMP 3 that the real-GIMP tests and the screenshots run in (docs/gimp.md).
#
#   gimp-chroot.sh [build]       build it when missing (idempotent; a finished chroot is reused as is)
#   gimp-chroot.sh run CMD...    run CMD inside it with proc, dev, dev/shm and sys mounted (in a private mount
#                                namespace: they go away with CMD)
#   gimp-chroot.sh path          print where it lives
#
# Location: ${CHROMASEG_GIMP_CHROOT:-/var/cache/chromaseg/gimp-trixie}. Needs root and debootstrap (installed with
# apt-get when missing). The network is shared with the host, so GIMP inside reaches a daemon on tcp://127.0.0.1.
set -euo pipefail

ROOT="${CHROMASEG_GIMP_CHROOT:-/var/cache/chromaseg/gimp-trixie}"
MIRROR="${CHROMASEG_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
STAMP="$ROOT/.chromaseg-ready"
# GIMP with its Python, the bridge client's pyzmq, and what the screenshots need (a virtual screen, a capture tool,
# a key sender, fonts).
PACKAGES=(gimp python3-gi gir1.2-gimp-3.0 python3-zmq python3-numpy
          xvfb xauth imagemagick xdotool fonts-dejavu-core)
MOUNTED=()

unmount_all() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" || true
    done
    MOUNTED=()
}

# Mounts what GIMP needs, only where nothing is mounted yet, and remembers it so the trap undoes exactly that.
mount_all() {
    local dir="$1"
    mkdir -p "$dir/proc" "$dir/dev" "$dir/sys"
    if ! mountpoint -q "$dir/proc"; then mount -t proc proc "$dir/proc"; MOUNTED+=("$dir/proc"); fi
    if ! mountpoint -q "$dir/dev"; then mount --bind /dev "$dir/dev"; MOUNTED+=("$dir/dev"); fi
    if [ -d /dev/shm ] && ! mountpoint -q "$dir/dev/shm"; then
        mount --bind /dev/shm "$dir/dev/shm"; MOUNTED+=("$dir/dev/shm")
    fi
    if ! mountpoint -q "$dir/sys"; then mount -t sysfs sys "$dir/sys"; MOUNTED+=("$dir/sys"); fi
}

build() {
    if [ -e "$STAMP" ]; then
        echo "gimp-chroot: ready at $ROOT"
        return 0
    fi
    [ "$(id -u)" -eq 0 ] || { echo "gimp-chroot: building the chroot needs root" >&2; exit 1; }
    command -v debootstrap >/dev/null || {
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap >/dev/null
    }
    # Built beside its final place and renamed at the end, so an interrupted build never looks finished.
    local work="$ROOT.partial"
    [ -d "$work" ] && { cleanup_partial "$work"; }
    mkdir -p "$(dirname "$ROOT")"
    echo "gimp-chroot: debootstrap trixie into $work (about 1.5 min, 1 GB)"
    debootstrap --variant=minbase trixie "$work" "$MIRROR" >/dev/null
    trap unmount_all EXIT
    mount_all "$work"
    cp /etc/resolv.conf "$work/etc/resolv.conf" 2>/dev/null || true
    chroot "$work" apt-get -o DPkg::Lock::Timeout=600 update -qq
    chroot "$work" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${PACKAGES[@]}" >/dev/null
    chroot "$work" apt-get clean
    unmount_all
    trap - EXIT
    [ -d "$ROOT" ] && rm -rf --one-file-system "$ROOT"
    mv "$work" "$ROOT"
    date -u +%FT%TZ > "$STAMP"
    echo "gimp-chroot: ready at $ROOT"
}

# A partial tree may still have mounts from a killed build: unmount before deleting anything.
cleanup_partial() {
    local dir="$1" m
    for m in sys dev/shm dev proc; do
        mountpoint -q "$dir/$m" && { umount "$dir/$m" || umount -l "$dir/$m"; }
    done
    rm -rf --one-file-system "$dir"
}

# Each run gets its own mount namespace: its proc/dev/sys mounts are private to it and vanish with it, so runs side
# by side (tests, screenshots) never unmount each other's.
run() {
    [ -e "$STAMP" ] || { echo "gimp-chroot: no chroot at $ROOT (run: $0 build)" >&2; exit 2; }
    exec unshare --mount --propagation private -- "$0" run-private "$@"
}

run_private() {
    mount_all "$ROOT"
    exec chroot "$ROOT" env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "$@"
}

case "${1:-build}" in
    build) build ;;
    run) shift; run "$@" ;;
    run-private) shift; run_private "$@" ;;
    path) echo "$ROOT" ;;
    *) echo "usage: $0 [build | run CMD... | path]" >&2; exit 2 ;;
esac

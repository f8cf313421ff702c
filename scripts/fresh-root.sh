#!/usr/bin/env bash
# fresh-root.sh: proves that scripts/deps.sh alone makes every command the
# tests look up available on a fresh Debian 12 machine.
#
# Usage (root):  scripts/fresh-root.sh [--rebuild]
#
# A pristine Debian 12 minbase root is made once with debootstrap and kept
# as a tarball in /var/cache/ocfkit-fresh-root (--rebuild makes it again).
# Every run unpacks a copy into a scratch directory, runs
#   scripts/deps.sh && tests/deps-check.sh
# in it (chroot, in private mount and PID namespaces: whatever is mounted
# there, and every process started there, goes when the run ends), and
# deletes the copy. The project is mounted read-only at /src; Go and the
# Go module cache of this machine are mounted read-only (Go is a
# prerequisite, as on a fresh machine: "with Go installed"), and the
# modules come from that cache (GOPROXY=off). The root gets this machine's
# apt sources and resolv.conf, nothing else; the .deb files apt downloads
# are kept in the cache directory for the next run.
#
# Nothing outside the cache directory is written, no service is started
# (deps.sh installs with a policy-rc.d that forbids it, and no init runs in
# the root). Prints the time of each step; exit status is that of the check.
set -euo pipefail
umask 022
cd "$(dirname "$0")/.."
SRC=$PWD
CACHE=/var/cache/ocfkit-fresh-root
SUITE=bookworm
ARCH=$(dpkg --print-architecture)
TARBALL=$CACHE/$SUITE-minbase-$ARCH.tar.zst
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
GOROOT_HOST=${GOROOT_HOST:-/usr/local/go}

[ "$(id -u)" -eq 0 ] || { echo "fresh-root: needs root (chroot, namespaces)" >&2; exit 1; }
for c in debootstrap zstd unshare chroot tar; do
  command -v "$c" >/dev/null || { echo "fresh-root: $c is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
[ -x "$GOROOT_HOST/bin/go" ] || { echo "fresh-root: no Go at $GOROOT_HOST" >&2; exit 1; }

elapsed() { echo $(($(date +%s) - $1)); }

# mirror prints the first Debian archive URI this machine's apt uses.
mirror() {
  local u
  u=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -v security | sed -E 's/^URIs:[[:space:]]*//; s/^deb (\[[^]]*\] )?//' | awk '{print $1; exit}')
  echo "${u:-http://deb.debian.org/debian}"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

if [ "${1:-}" = --rebuild ] || [ ! -s "$TARBALL" ]; then
  t0=$(date +%s)
  build=$(mktemp -d "$CACHE/build.XXXXXX")
  trap 'rm -rf --one-file-system "$build"' EXIT
  echo "fresh-root: debootstrap --variant=minbase $SUITE (once; log $CACHE/debootstrap.log)"
  # In a private mount namespace: what debootstrap mounts cannot stay.
  if ! unshare --mount --propagation private debootstrap --variant=minbase --keyring="$KEYRING" \
      "$SUITE" "$build/root" "$(mirror)" >"$CACHE/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE/debootstrap.log" >&2
    exit 1
  fi
  rm -rf "$build/root/var/lib/apt/lists/"* "$build/root/var/cache/apt/archives/"*.deb
  tar -C "$build/root" --one-file-system --numeric-owner -cpf - . | zstd -q -T0 -3 -o "$TARBALL.tmp"
  mv -f "$TARBALL.tmp" "$TARBALL"
  rm -rf --one-file-system "$build"
  trap - EXIT
  echo "fresh-root: pristine root made and cached in $(elapsed "$t0") s ($(du -h "$TARBALL" | cut -f1))"
fi

t0=$(date +%s)
run=$(mktemp -d "$CACHE/run.XXXXXX")
trap 'rm -rf --one-file-system "$run"' EXIT
root=$run/root
mkdir "$root"
zstd -q -dc "$TARBALL" | tar -C "$root" --numeric-owner -xpf -
echo "fresh-root: pristine copy unpacked in $(elapsed "$t0") s"

# This machine's apt sources (Debian's, not third-party ones), the apt
# settings that make them reachable (Acquire:: lines), and DNS.
rm -f "$root/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] && grep -qs 'debian.org\|debian/' "$f" && cp "$f" "$root$f"
done
for f in /etc/apt/apt.conf.d/*; do
  [ -f "$f" ] && grep -qs '^Acquire::' "$f" && cp "$f" "$root$f"
done
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/src" "$root/usr/local/go" "$root/opt/gomodcache" "$CACHE/apt-archives/partial"
modcache=$(GOFLAGS= "$GOROOT_HOST/bin/go" env GOMODCACHE)

# The run: private mount and PID namespaces, so the bind mounts and every
# process of the run end with it; then chroot with a clean environment.
t1=$(date +%s)
set +e
unshare --mount --propagation private --pid --fork --kill-child -- bash -euc '
  root=$1 src=$2 goroot=$3 modcache=$4 cache=$5
  mount --bind -o ro "$src" "$root/src"
  mount --bind -o ro "$goroot" "$root/usr/local/go"
  mount --bind -o ro "$modcache" "$root/opt/gomodcache"
  mount -t proc proc "$root/proc"
  mount --bind /dev "$root/dev"
  mount --bind /dev/pts "$root/dev/pts"
  mount -t tmpfs tmpfs "$root/tmp"
  # Downloaded packages are kept between runs (what apt fetches is checked
  # against the archive signatures each time).
  mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
  exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GOMODCACHE=/opt/gomodcache GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local \
    /bin/bash -c "cd /src && t=\$(date +%s) && scripts/deps.sh && echo \"fresh-root: scripts/deps.sh took \$((\$(date +%s) - t)) s\" && tests/deps-check.sh"
' fresh-root "$root" "$SRC" "$GOROOT_HOST" "$modcache" "$CACHE"
rc=$?
set -e
echo "fresh-root: deps.sh and deps-check in the fresh root: $(elapsed "$t1") s, exit $rc"
echo "fresh-root: total $(elapsed "$t0") s"
exit $rc

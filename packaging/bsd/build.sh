#!/bin/sh
# build.sh VERSION OUTDIR: build carp-hook archives for FreeBSD and OpenBSD,
# OUTDIR/carp-hook-VERSION-{freebsd,openbsd}-amd64.tar.gz, each holding one
# directory laid out like /usr/local:
#
#   sbin/carp-hook                      the static binary (CGO_ENABLED=0)
#   man/man8/carp-hook.8.gz, man/man5/carp-hook.toml.5.gz
#   share/examples/carp-hook/           carp-hook.toml and the devd(8)
#                                       (FreeBSD) or ifstated(8) (OpenBSD)
#                                       configuration that calls carp-hook
#   share/doc/carp-hook/LICENSE, CHANGELOG.md, COPYRIGHT (every Go module
#                                       linked in, with its license)
#
# No rc.d script: carp-hook is not a daemon. devd or ifstated, each started
# by the system's own rc.d script, run it on every CARP state change.
# Needs the man pages in $MAN (build/man: make man). Prints the archives'
# paths.
set -eu
version=$1 out=$2
GO=${GO:-go}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
MAN=$(cd "${MAN:-$repo/build/man}" && pwd)
cd "$repo"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
umask 022
mtime=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)

for os in freebsd openbsd; do
	name=carp-hook-$version-$os-amd64
	d=$stage/$name
	install -d "$d/sbin" "$d/man/man8" "$d/man/man5" "$d/share/examples/carp-hook" "$d/share/doc/carp-hook"
	GOOS=$os GOARCH=amd64 CGO_ENABLED=0 GOFLAGS=-tags=$(cat build.tags) $GO build -trimpath \
		-ldflags "-s -w -X github.com/ocfkit/ocfkit/agents/ocf.Version=$version" -o "$d/sbin/carp-hook" ./cmd/carp-hook
	gzip -9n -c "$MAN/carp-hook.8" > "$d/man/man8/carp-hook.8.gz"
	gzip -9n -c "$MAN/carp-hook.toml.5" > "$d/man/man5/carp-hook.toml.5.gz"
	install -m 0644 dist/examples/carp-hook.toml "$d/share/examples/carp-hook/"
	case $os in
	freebsd) install -m 0644 dist/bsd/devd-carp-hook.conf "$d/share/examples/carp-hook/devd-carp-hook.conf" ;;
	openbsd) install -m 0644 dist/bsd/ifstated.conf "$d/share/examples/carp-hook/ifstated.conf" ;;
	esac
	install -m 0644 LICENSE CHANGELOG.md "$d/share/doc/carp-hook/"
	GOOS=$os GOARCH=amd64 PKGS=./cmd/carp-hook GO=$GO "$repo/packaging/deb/copyright.sh" > "$d/share/doc/carp-hook/COPYRIGHT"
	# Sorted, root-owned, one modification time: the same tree gives the
	# same archive.
	(cd "$stage" && find "$name" -print | LC_ALL=C sort |
		tar --no-recursion --owner=0 --group=0 --numeric-owner --mtime="$mtime" -cf - -T - |
		gzip -9n > "$out/$name.tar.gz")
	echo "$out/$name.tar.gz"
done

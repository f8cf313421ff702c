#!/bin/sh
# build.sh VERSION OUTDIR: build OUTDIR/ocfkit_DEBVERSION_ARCH.deb with
# dpkg-deb from what make has built: $BIN (bin/, the programs), $MAN
# (build/man) and $COMPLETION (build/completion), both from tools/docgen.
# It prints the package's path. The layout is described in docs/install.md;
# tests/package checks it.
set -eu
version=$1
GO=${GO:-go}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
abs() { mkdir -p "$1" && cd "$1" && pwd; }
out=$(abs "$2")
BIN=$(abs "${BIN:-$repo/bin}")
MAN=$(abs "${MAN:-$repo/build/man}")
COMPLETION=$(abs "${COMPLETION:-$repo/build/completion}")
cd "$repo"

# Debian version: v1.2.3 -> 1.2.3-1; v1.2.3-4-gHASH -> 1.2.3+git4.HASH-1;
# v1.2.3-rc1 -> 1.2.3~rc1-1;
# an untagged tree (a bare hash) -> 0.0~gitCOUNT.HASH-1; -dirty -> +dirty.
debversion() {
	v=${1#v}
	dirty=
	case $v in *-dirty) v=${v%-dirty}; dirty=+dirty ;; esac
	case $v in
	[0-9]*.*-[0-9]*-g*) # 1.2.3-4-gHASH
		base=${v%-*-g*}; rest=${v#"$base"-}; n=${rest%%-g*}; h=${rest#*-g}
		v=$(echo "$base" | tr - '~')+git$n.$h ;;
	[0-9]*.*) v=$(echo "$v" | tr - '~') ;; # 1.0.0-rc1 sorts before 1.0.0
	*) v=0.0~git$(git rev-list --count HEAD 2>/dev/null || echo 0).$v ;;
	esac
	echo "$v$dirty-1"
}
deb_version=$(debversion "$version")
arch=$(dpkg --print-architecture)
case $($GO env GOARCH) in "$arch") ;; *) echo "build.sh: Go builds for $($GO env GOARCH), dpkg is $arch" >&2; exit 1 ;; esac

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"
umask 022
doc=$root/usr/share/doc/ocfkit

# Programs in /usr/sbin; OCF agents as relative links to them, where
# resource-agents puts its agents (the agent list comes from docgen).
install -d "$root/usr/sbin"
for c in "$BIN"/*; do install -m 0755 "$c" "$root/usr/sbin/"; done
GOFLAGS= $GO run ./tools/docgen agents | while IFS='=' read -r agent program; do
	install -d "$root/usr/lib/ocf/resource.d/${agent%/*}"
	ln -s "../../../../sbin/$program" "$root/usr/lib/ocf/resource.d/$agent"
done

# Man pages, gzip -9n (no name, no time: reproducible).
for page in "$MAN"/*; do
	section=${page##*.}
	install -d "$root/usr/share/man/man$section"
	gzip -9n -c "$page" > "$root/usr/share/man/man$section/$(basename "$page").gz"
	chmod 0644 "$root/usr/share/man/man$section/$(basename "$page").gz"
done

# Shell completion.
install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions"
install -m 0644 "$COMPLETION"/bash/* "$root/usr/share/bash-completion/completions/"
install -m 0644 "$COMPLETION"/zsh/* "$root/usr/share/zsh/vendor-completions/"

# Documentation: copyright, changelogs, README, examples.
install -d "$doc/examples"
GO=$GO "$here/copyright.sh" > "$doc/copyright"
chmod 0644 "$doc/copyright"
gzip -9n -c CHANGELOG.md > "$doc/changelog.gz"
gzip -9n -c README.md > "$doc/README.md.gz"
gzip -9n -c docs/cli.md > "$doc/cli.md.gz"
date=$(git log -1 --format=%aD 2>/dev/null || date -R)
cat > "$root/changelog.Debian" <<CHANGES
ocfkit ($deb_version) unstable; urgency=medium

  * Built from ocfkit $version; see changelog.gz for the changes.

 -- ocfkit maintainers <ocfkit@users.noreply.github.com>  $date
CHANGES
gzip -9n -c "$root/changelog.Debian" > "$doc/changelog.Debian.gz"
rm "$root/changelog.Debian"
chmod 0644 "$doc"/*.gz
install -m 0644 dist/examples/*.toml "$doc/examples/"

# systemd units of the daemons (dist/systemd/, see its README.md), where
# Debian 12 keeps packaged units.
for unit in dist/systemd/*.service dist/systemd/*.socket dist/systemd/*.timer; do
	[ -f "$unit" ] || continue
	install -d "$root/lib/systemd/system"
	install -m 0644 "$unit" "$root/lib/systemd/system/"
done

# Lintian overrides, each with its reason (see the file).
install -d "$root/usr/share/lintian/overrides"
install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/ocfkit"

# Control files.
install -d "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$deb_version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	"$here/control.in" > "$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
	xargs md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

deb=$out/ocfkit_${deb_version}_$arch.deb
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s) \
	dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"

#!/usr/bin/env bash
# pkgroot.sh: extracts the syslog daemons the tests run, syslog-ng and
# rsyslog, into /var/cache/ocfkit-test/pkgroot/NAME without installing
# them. As Debian packages, syslog-ng-core and rsyslog conflict (both
# provide system-log-daemon): installing one removes the other and would
# change the host's logging. So each .deb is fetched with apt-get download
# and unpacked with dpkg -x (no maintainer script, no unit, nothing in
# /etc); their plain library dependencies are in scripts/packages.txt.
# The tests run them from there (internal/testenv/syslogd.go).
# Called by scripts/deps.sh; does nothing when both are already unpacked.
set -euo pipefail
root=${OCFKIT_PKGROOT:-/var/cache/ocfkit-test/pkgroot}
declare -A debs=([syslog-ng]=syslog-ng-core [rsyslog]=rsyslog)
declare -A marks=([syslog-ng]=usr/sbin/syslog-ng [rsyslog]=usr/sbin/rsyslogd)
for name in "${!debs[@]}"; do
  [ -x "$root/$name/${marks[$name]}" ] && continue
  if [ "$(id -u)" -ne 0 ]; then
    echo "pkgroot: $root/$name missing (run as root to unpack ${debs[$name]})" >&2
    exit 1
  fi
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq "${debs[$name]}" >/dev/null)
  rm -rf "$root/$name.new"
  mkdir -p "$root/$name.new"
  dpkg -x "$tmp"/*.deb "$root/$name.new"
  rm -rf "$tmp" "$root/$name"
  mv "$root/$name.new" "$root/$name"
  echo "pkgroot: ${debs[$name]} unpacked in $root/$name"
done

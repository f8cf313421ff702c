#!/usr/bin/env bash
# Installs what building, testing and the demo need on Debian: the real
# components the tests drive (Dante, Pacemaker, Corosync, pcs,
# resource-agents, ucarp, keepalived, systemd, nftables ...) and the Go
# modules. Packages already present are not touched.
#
# Services are never started or stopped here: while apt-get runs, a
# policy-rc.d that answers 101 keeps Debian's maintainer scripts from
# starting the daemons it installs (an existing policy-rc.d is left as it
# is), and no service of the host is ever stopped. The tests start their
# own daemons inside namespaces they make.
set -euo pipefail
cd "$(dirname "$0")/.."
# The package list is shared with tests/deps-check.sh, which proves that
# every command the harness looks up comes from one of these packages.
mapfile -t packages < <(grep -v '^#' scripts/packages.txt | awk 'NF {print $1}')
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  policy=/usr/sbin/policy-rc.d
  ours=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# ocfkit scripts/deps.sh: no service starts while packages install.\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    ours=1
  fi
  cleanup() { if [ -n "$ours" ]; then rm -f "$policy"; fi; }
  trap cleanup EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# syslog-ng and rsyslog conflict as packages: unpacked, not installed.
scripts/pkgroot.sh
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
"$GO" mod download

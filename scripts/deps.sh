#!/usr/bin/env bash
# Installs what building, testing and the demo need on Debian: the real
# components the tests drive (Dante, Pacemaker, Corosync, pcs,
# resource-agents, ucarp, keepalived, systemd, nftables ...) and the Go
# modules. Packages already present are not touched.
set -euo pipefail
packages=(dante-server pacemaker corosync pcs resource-agents libxml2-utils
  ucarp keepalived systemd dbus nftables iproute2 iputils-ping tcpdump curl
  python3 procps psmisc util-linux libcap2-bin passwd)
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
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian enables these services on install; the tests start their own.
for s in corosync pacemaker pcsd keepalived danted; do
  if command -v systemctl >/dev/null && systemctl is-active -q "$s" 2>/dev/null; then
    systemctl stop "$s" || true
  fi
done
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
cd "$(dirname "$0")/.."
"$GO" mod download

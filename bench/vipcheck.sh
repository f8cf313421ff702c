#!/bin/sh
# vipcheck.sh - benchmarks of the LVS-DR raw probe (ocf-vipcheck), as root:
# one real server against the veth round trip measured by ping in the same
# run, 256 real servers in one call (goal < 0.5 s), and the command as
# keepalived runs it (against check_tcp_raw when installed). Ratios appear
# as metrics: syn-rtt/ping, call/ping, of-0.5s-goal, ocf-vipcheck/ping.
set -e
cd "$(dirname "$0")/.."
exec env CGO_ENABLED=0 "${GO:-go}" test -run '^$' -bench . -benchtime "${BENCHTIME:-200x}" ./bench/vipcheck/

#!/bin/sh
# vipcheck.sh - benchmarks of the LVS-DR checks (ocf-vipcheck), as root:
#   BenchmarkProbeOne     one real server against the veth round trip
#                         measured by ping in the same run
#   BenchmarkProbe256     256 real servers in one call (goal < 0.5 s)
#   BenchmarkProbe10000   10,000 real servers in one call, all up, within
#                         the 1 s limit plus 10 %
#   BenchmarkCommand      the tcp command as keepalived runs it, against
#                         check_tcp_raw when it is on PATH: median
#                         whole-process wall times, the two alternating
#   BenchmarkHTTPCommand  the http command (small body, 1 MiB) against the
#                         tcp command: wall time and peak memory
#   BenchmarkHTTP64       http and tcp checks of 64 real-server addresses
#                         in one call
# Ratios appear as metrics: syn-rtt/ping, call/ping, of-0.5s-goal, of-1.1s-goal,
# ocf-vipcheck/ping, http/tcp, http/tcp-rss.
# The start-up ratio is printed again at the end, as
#   tcp one real server: ours X ms, check_tcp_raw Y ms, ratio Z
set -e
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
env CGO_ENABLED=0 "${GO:-go}" test -run '^$' -bench "${BENCH:-.}" -benchtime "${BENCHTIME:-200x}" ./bench/vipcheck/ 2>&1 | tee "$out" || status=1
grep -q '^FAIL' "$out" && status=1
echo
grep -ho 'tcp one real server: .*' "$out" | tail -n 1 | grep . || echo "tcp one real server: no ratio (check_tcp_raw not on PATH, or BenchmarkCommand not run)"
exit $status

#!/bin/sh
# realserver.sh - benchmarks of ocf-realserver, as root, against the vendors'
# shell scripts written in bench/realserver (ifup-lo: one `ip address add
# VIP/32 dev lo` per address; ifdown-lo; a status with one listing), in the
# same run, in a namespace:
#   BenchmarkStart1024    start and stop of 1,024 addresses (four /24s)
#                         (goal: start < 0.5 s)
#   BenchmarkMonitor1024  monitor of the same, depth 0 and 10 (goal < 50 ms)
# Ratios appear as metrics: ifup-lo/start, ifdown-lo/stop, shell/monitor,
# start-of-0.5s-goal, monitor-of-50ms-goal.
set -e
cd "$(dirname "$0")/.."
exec env CGO_ENABLED=0 "${GO:-go}" test -run '^$' -bench . -benchtime "${BENCHTIME:-10x}" ./bench/realserver/

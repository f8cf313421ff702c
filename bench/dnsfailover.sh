#!/bin/sh
# dnsfailover.sh - benchmarks of dns-failover, as root, in namespaces:
#   BenchmarkThousandMembers  1,000 members checked every second against one
#                             BIND primary: %cpu-of-core and MiB-peak-rss
#                             (goal < 20 % of one core, < 40 MiB)
#   BenchmarkVersusPowerDNS   the same member killed under dns-failover (BIND,
#                             1 s checks; fall 1 or fall 2 with fast_interval
#                             250ms; polling only or with watch = true) and
#                             PowerDNS 4.7 Lua ifportup
#                             (lua-health-checks-interval=1): seconds until dig
#                             stops returning it, mean and max for each, and
#                             the ratio ours/PowerDNS
set -e
cd "$(dirname "$0")/.."
exec env CGO_ENABLED=0 "${GO:-go}" test -run '^$' -bench . -benchtime "${BENCHTIME:-1x}" ./bench/dnsfailover/

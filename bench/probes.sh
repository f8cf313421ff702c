#!/bin/sh
# probes.sh - benchmarks of the anycast service probes, as root, each
# against the command-line check a script would run, in the same run, in
# namespaces with the real servers (goal: ours at most 0.2x, wall and CPU):
#   probe/radius  BenchmarkStatusServer  Status-Server vs radclient
#   probe/syslog  BenchmarkRelay         UDP relay via syslog-ng vs logger + nc
#   probe/proxy   BenchmarkGet           GET through squid vs curl -x
#   bench/socks   BenchmarkConnect       CONNECT + HTTP through Dante vs curl --socks5
# Ratios appear as metrics (wall-ratio, cpu-ratio: ours over the tool's)
# and in one line per benchmark. Ours is measured in-process (our CPU
# includes the in-process origin servers the tests run, so it is an
# upper bound).
set -e
cd "$(dirname "$0")/.."
exec env CGO_ENABLED=0 "${GO:-go}" test -run '^$' -bench . -benchtime "${BENCHTIME:-50x}" \
  ./probe/radius/ ./probe/syslog/ ./probe/proxy/ ./bench/socks/

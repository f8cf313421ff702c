#!/bin/sh
# anycast.sh - benchmarks of anycast-probe, as root (see bench/anycast):
#   BenchmarkWithdraw  failure -> route withdrawn on the router: ours (FRR,
#                      BIRD) and anycast-healthchecker + BIRD when AHC_SRC
#                      names its source tree (never fetched; with Debian's
#                      python3-docopt, python3-pythonjsonlogger,
#                      python3-prometheus-client it runs from source)
#   BenchmarkThousand  CPU and peak RSS with 1,000 services at 1 s
# The lines 'withdrawal ...' and '1000 services at 1 s: ...' are printed
# again at the end.
set -e
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
env CGO_ENABLED=0 GOFLAGS=-tags=urfave_cli_no_docs "${GO:-go}" test -timeout 30m -run '^$' -bench "${BENCH:-.}" -benchtime 1x ./bench/anycast/ 2>&1 | tee "$out" || status=1
grep -q '^FAIL' "$out" && status=1
echo
grep -hE '^(withdrawal|1000 services|anycast-healthchecker:)' "$out" || true
exit $status

#!/bin/sh
# size.sh - the stripped size of each binary as `make build` makes it, as
# a ratio of the 12 MiB goal (`make test` fails a binary over it). Needs
# only Go.
set -e
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
out=$(mktemp -d /tmp/ocfkit-size.XXXXXX)
trap 'rm -rf "$out"' EXIT
CGO_ENABLED=0 "$GO" build -tags "$(cat build.tags)" -trimpath -ldflags '-s -w' -o "$out/" ./cmd/...
goal=$((12 * 1024 * 1024))
for b in "$out"/*; do
  size=$(stat -c %s "$b")
  awk -v n="$(basename "$b")" -v s="$size" -v g="$goal" \
    'BEGIN { printf "%-14s %6.2f MiB  %.3f of the 12 MiB goal\n", n, s / 1048576, s / g }'
done

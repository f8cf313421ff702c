#!/usr/bin/env bash
# Runs every test of ocfkit (`make test`): vet, build and install, the
# meta-data against the resource-agents DTD and pcs' OCF 1.1 schema, the
# Go unit and integration tests (integration tests drive real danted,
# Pacemaker, ucarp, keepalived and systemd in network namespaces they make,
# and need root; tests/snippets runs every README snippet), every fuzz
# target (one check each), ocft against the installed agents, and the
# dependency check (tests/deps-check.sh) here and in a fresh Debian 12 root
# (scripts/fresh-root.sh). It ends with one line:
# "tests: N passed, N failed".
#
# Nothing may pass by skipping: OCFKIT_TEST_STRICT=1 makes a test whose
# program or privilege is missing fail (naming the package to install), and
# any skip left is a failure, except the kernel limits of
# testenv.NotApplicable (no IPVS, no netem), listed as "not applicable:".
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
export CGO_ENABLED=0
export OCFKIT_TEST_STRICT=1
# A count, not a duration: with -fuzztime DURATION, go 1.26 can fail a
# target with "context deadline exceeded" when the deadline races a worker
# (golang/go#75804, fixed in go 1.27); 10000 runs take 0.1-3 s per target.
FUZZTIME=${FUZZTIME:-10000x}
log=$(mktemp -d /tmp/ocfkit-test.XXXXXX)
passed=0
failed=0

# check NAME CMD...: one counted check whose output goes to the log.
check() {
  local name=$1; shift
  local start=$SECONDS
  if "$@" >"$log/$name.log" 2>&1; then
    passed=$((passed + 1)); echo "PASS: $name ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1)); echo "FAIL: $name ($((SECONDS - start)) s)"; tail -n 40 "$log/$name.log"
  fi
}

check deps-check tests/deps-check.sh
check gofmt bash -c "test -z \"\$(gofmt -l \$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))\""
check go-vet "$GO" vet ./...
check install make -s install VERSION=test
# The size goal: every stripped binary at most 12 MiB (bench/size.sh has ratios).
check binary-size bash -c 'for b in bin/*; do s=$(stat -c %s "$b"); echo "$b: $s bytes";
  [ "$s" -le $((12 << 20)) ] || { echo "$b is over 12 MiB"; exit 1; }; done'
for os in freebsd openbsd; do
  [ -d cmd/carp-hook ] && check "build-carp-hook-$os" env GOOS=$os "$GO" build -o /dev/null ./cmd/carp-hook
done
for xml in metadata/*.xml; do
  name=$(basename "$xml" .xml)
  check "metadata-$name-dtd" xmllint --noout --valid --path /usr/share/resource-agents "$xml"
  check "metadata-$name-pcs-rng" xmllint --noout --relaxng /usr/share/pcs/data/ocf-1.1.rng "$xml"
done

# Go tests: every package, integration tests included. Top-level tests
# are counted one by one.
echo "go test: unit and integration tests (log: $log/go-test.log)"
# The safe temporary directories tests make (filesafetest.SafeDir) that
# exist now: any other one left after the tests is a leak.
safedirs() { ls -d /run/ocfkit-test-* /var/lib/ocfkit-test-* 2>/dev/null | sort; }
safedirs >"$log/safedirs-before"
start=$SECONDS
"$GO" test -count=1 -timeout 30m -v ./... >"$log/go-test.log" 2>&1
gorc=$?
safedirs | comm -13 "$log/safedirs-before" - >"$log/safedirs-left"
check go-test-cleanup bash -c "if test -s '$log/safedirs-left'; then echo 'left behind by the tests:'; cat '$log/safedirs-left'; false; fi"
gopass=$(grep -c '^--- PASS' "$log/go-test.log")
gofail=$(grep -c '^--- FAIL' "$log/go-test.log")
goskip=$(grep -cE '^ *--- SKIP' "$log/go-test.log")
grep -E '^(ok|FAIL|---|panic)' "$log/go-test.log" | grep -v '^--- PASS'
if [ $gorc -ne 0 ] && [ "$gofail" -eq 0 ]; then gofail=1; grep -B5 -A30 -E '^(panic|FAIL)' "$log/go-test.log" | head -80; fi
[ "$gofail" -gt 0 ] && grep -B2 -A25 -- '--- FAIL' "$log/go-test.log" | head -200
# Skips: only testenv.NotApplicable's kernel limits are allowed; every other
# skip (at any depth) is a failure.
napp=$(grep -cE '^ +[^ ]+\.go:[0-9]+: not applicable: ' "$log/go-test.log")
grep -oE '^ +[^ ]+\.go:[0-9]+: not applicable: .*' "$log/go-test.log" | sed -E 's/^ +[^ ]+: //' | sort | uniq -c |
  while read -r n reason; do echo "$reason ($n test(s))"; done
unexplained=$((goskip - napp))
if [ "$unexplained" -gt 0 ]; then
  echo "go test: $unexplained test(s) skipped for a reason other than a kernel limit; make test allows no skip:"
  awk '/^ *--- SKIP/ { if (last !~ /not applicable: /) { print last; print } next }
       !/^=== / { last = $0 }' "$log/go-test.log" | head -60
  gofail=$((gofail + unexplained))
fi
echo "go test: $gopass passed, $gofail failed, $goskip skipped ($napp not applicable) ($((SECONDS - start)) s)"
passed=$((passed + gopass)); failed=$((failed + gofail))

# Fuzz: every fuzz target for $FUZZTIME on its seed corpus and what it finds
# (bounded by -timeout too); go test -fuzz takes one target of one package
# per run.
while IFS=: read -r file target; do
  pkg=./$(dirname "$file") name=fuzz-$(dirname "$file")-$target
  check "${name//\//-}" "$GO" test -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" -timeout 2m "$pkg"
done < <(grep -roE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed -E 's|^\./||; s/func //' | sort)

# A fresh Debian 12 root: scripts/deps.sh alone makes every command of
# deps-check available (the pristine root is cached in /var/cache).
check fresh-root scripts/fresh-root.sh

# ocft: every config in tests/ocft runs against the installed agent, inside
# a namespace run.sh makes and removes (no danted starts on the host).
if [ -x tests/ocft/run.sh ]; then
  start=$SECONDS
  tests/ocft/run.sh -n "ocfkit-ocft-$$" >"$log/ocft.log" 2>&1
  ocftrc=$?
  line=$(grep -E '^ocft: [0-9]+ passed, [0-9]+ failed' "$log/ocft.log" | tail -1)
  echo "${line:-ocft: no summary} ($((SECONDS - start)) s)"
  op=$(sed -E 's/^ocft: ([0-9]+) passed.*/\1/' <<<"$line"); of=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  [ -z "$line" ] && { op=0; of=1; }
  [ $ocftrc -ne 0 ] && [ "$of" -eq 0 ] && of=1
  [ "$of" -gt 0 ] && tail -n 60 "$log/ocft.log"
  passed=$((passed + op)); failed=$((failed + of))
fi

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

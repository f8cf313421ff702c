#!/bin/bash
# run.sh - run the ocft test cases of every agent and print one summary line.
#
# Usage (root):  tests/ocft/run.sh [-n NETNS] [-d DIR] [AGENT...]
#   -d DIR    directory of ocft configs, one file per agent, named after the agent
#             (default: the directory of this script)
#   -n NETNS  run the cases inside `ip netns exec NETNS` (agents that start danted
#             must run in a network namespace). A namespace that does not exist is
#             created with only `lo` up, and at the end any process left in it is
#             killed (and reported) and the namespace is deleted.
#   AGENT...  only these configs (default: every config file in DIR)
#
# For each agent: `ocft clean AGENT`, `ocft make -d DIR AGENT`, `ocft test AGENT`,
# `ocft clean AGENT`. ocft compiles the cases into the machine-wide
# /var/lib/resource-agents/ocft/cases, so runs are serialised with a lock file.
#
# Counting: before `ocft test`, every compiled case gets a `.retest` mark; ocft
# removes the mark of each case that passes (the bookkeeping of its `-i` mode), so
# the marks left afterwards are the failed cases, including cases that never ran
# because SETUP-AGENT or a core function failed. A config that does not compile
# counts as one failed case.
#
# Output: ocft's case lines (colours stripped) on stderr; on stdout exactly one
# line `ocft: N passed, N failed`. Exit status 0 when nothing failed, else 1.
# Needs: resource-agents (ocft), iproute2 (with -n), util-linux (flock).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$HERE
NETNS=
CASES=/var/lib/resource-agents/ocft/cases
LOCK=/run/lock/ocfkit-ocft.lock

while getopts 'd:n:h' opt; do
    case $opt in
        d) DIR=$(cd "$OPTARG" && pwd) || exit 2 ;;
        n) NETNS=$OPTARG ;;
        *) sed -n '2,/^set -uo/p' "$0" | sed '$d' >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

if [ $# -gt 0 ]; then
    agents=("$@")
else
    agents=()
    for f in "$DIR"/*; do
        name=${f##*/}
        # configs are plain files named after their agent: no scripts, no docs
        [ -f "$f" ] && [ ! -x "$f" ] || continue
        case $name in *.*|README*) continue ;; esac
        agents+=("$name")
    done
fi

mkdir -p /run/lock
exec 9>"$LOCK"
if ! flock -w 600 9; then
    echo "run.sh: $LOCK held by another ocft run for 10 minutes" >&2
    exit 1
fi

if [ -n "$NETNS" ] && [ ! -e "/run/netns/$NETNS" ]; then
    ip netns add "$NETNS" || exit 1
    ip -n "$NETNS" link set lo up
    drop_netns() {
        local p
        for p in $(ip netns pids "$NETNS" 2>/dev/null); do
            echo "run.sh: killing process $p left in $NETNS: $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)" >&2
            kill -KILL "$p" 2>/dev/null
        done
        ip netns del "$NETNS"
    }
    trap drop_netns EXIT
fi

run() {
    if [ -n "$NETNS" ]; then ip netns exec "$NETNS" "$@"; else "$@"; fi
}

passed=0 failed=0
for agent in "${agents[@]}"; do
    ocft clean "$agent" >/dev/null 2>&1
    if ! out=$(ocft make -d "$DIR" "$agent" 2>&1); then
        echo "ocft make -d $DIR $agent failed:" >&2
        echo "$out" | sed 's/^/    /' >&2
        failed=$((failed + 1))
        continue
    fi
    shopt -s nullglob
    cases=("$CASES"/[0-9]*_"$agent".sh)
    shopt -u nullglob
    if [ ${#cases[@]} -eq 0 ]; then
        echo "ocft make $agent produced no case" >&2
        failed=$((failed + 1))
        continue
    fi
    for c in "${cases[@]}"; do touch "${c%.sh}.retest"; done
    t0=$(date +%s)
    run ocft test "$agent" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2
    shopt -s nullglob
    left=("$CASES"/[0-9]*_"$agent".retest)
    shopt -u nullglob
    f=${#left[@]} p=$(( ${#cases[@]} - ${#left[@]} ))
    echo "ocft $agent: $p passed, $f failed ($(( $(date +%s) - t0 )) s)" >&2
    passed=$((passed + p)) failed=$((failed + f))
    ocft clean "$agent" >/dev/null 2>&1
    rm -f "$CASES/logs/$agent.log"
done

echo "ocft: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# make demo: a throwaway Dante in a network namespace, run through ocf-sockd.
# Shows validate-all, start, every monitor depth with per-stage timings,
# then SIGSTOPs Dante's io children: the PID check still passes while the
# depth-20 check names the hung stage. Everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/dante.sh
. scripts/lib/dante.sh
AGENT=$PWD/bin/ocf-sockd
[ -x "$AGENT" ] || { echo "build first: make build" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "the demo needs root (network namespaces)" >&2; exit 1; }
DANTED=$(command -v danted || echo /usr/sbin/danted)

NS=ocfkit-demo-$$
DIR=$(mktemp -d /tmp/ocfkit-demo.XXXXXX)
chmod 755 "$DIR"
cleanup() {
  set +e
  # ocf-sockd stop ends every process of the instance, stopped ones included.
  [ -f "$DIR/danted.conf" ] && agent stop >/dev/null 2>&1
  ip netns del "$NS" 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# A demo killed before its cleanup left its namespace: remove those whose
# shell (the PID in the name) is gone, with the processes in them. Only
# namespaces of this script are touched.
for ns in $(ip netns list | awk '/^ocfkit-demo-[0-9]+( |$)/ {print $1}'); do
  pid=${ns#ocfkit-demo-}
  [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(cat /proc/$$/comm)" ] && continue
  echo "removing namespace $ns left by an earlier demo"
  ip netns pids "$ns" | xargs -r kill -KILL
  ip netns del "$ns"
done

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# agent ACTION [VAR=value ...]: run one OCF action in the namespace and
# show its exit code.
agent() {
  local action=$1; shift
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=demo \
    OCF_RESKEY_sockd="$DANTED" OCF_RESKEY_sockd_config="$DIR/danted.conf" \
    OCF_RESKEY_sockd_pidfile="$DIR/danted.pid" "$@" \
    ip netns exec "$NS" "$AGENT" "$action"
}
show() {
  local label=$1; shift
  local rc=0 start end
  start=$(date +%s%N)
  "$@" 2>"$DIR/err" || rc=$?
  end=$(date +%s%N)
  printf '%-44s exit %d  (%d ms)\n' "$label" "$rc" $(( (end - start) / 1000000 ))
  grep -h 'ocf-exit-reason' "$DIR/err" | sed 's/^/    /' || true
}

ip netns add "$NS"
ip -n "$NS" link set lo up
danted_conf "$DIR/danted.conf" "$DIR/danted.log" 127.0.0.1 127.0.0.1

bold "A throwaway Dante ($($DANTED -v 2>&1 | head -1 | cut -d' ' -f1-2)) in namespace $NS, config $DIR/danted.conf"
show "probe (monitor, no interval) before start" agent monitor
show "validate-all (includes danted -V)" agent validate-all
show "start (returns when SOCKS5 answers)" agent start
ip netns exec "$NS" ps -o pid,pgid,stat,cmd -g "$(cat "$DIR/danted.pid")" | head -6
echo "    ..."

bold "Every monitor depth (recurring, 10 s timeout)"
for depth in 0 10 20; do
  show "monitor OCF_CHECK_LEVEL=$depth check_udp=true" agent monitor OCF_RESKEY_CRM_meta_interval=10000 \
    OCF_RESKEY_CRM_meta_timeout=10000 OCF_CHECK_LEVEL=$depth OCF_RESKEY_check_udp=true
done
bold "The same checks with per-stage timings (ocf-sockd check, Nagios style)"
for depth in 10 20; do
  ip netns exec "$NS" "$AGENT" check --exit-style nagios --depth $depth --udp 127.0.0.1:1080 || true
done

bold "Inject a hang: SIGSTOP every io-child of this Dante"
pids=$(ip netns exec "$NS" ps -o pid=,cmd= -g "$(cat "$DIR/danted.pid")" | awk '/io-child/ {print $1}')
echo "kill -STOP $(echo $pids)"
kill -STOP $pids
show "monitor depth 0 (processes: still passes)" agent monitor OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_CRM_meta_timeout=3000
show "monitor depth 10 (negotiation: still passes)" agent monitor OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_CRM_meta_timeout=3000 OCF_CHECK_LEVEL=10
show "monitor depth 20 (data path: caught)" agent monitor OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_CRM_meta_timeout=3000 OCF_CHECK_LEVEL=20
if [ -x /usr/lib/ocf/resource.d/heartbeat/anything ]; then
  show "ocf:heartbeat:anything monitor (PID only)" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin OCF_ROOT=/usr/lib/ocf \
    OCF_RESKEY_binfile="$DANTED" OCF_RESKEY_pidfile="$DIR/danted.pid" OCF_RESKEY_CRM_meta_interval=10000 \
    /usr/lib/ocf/resource.d/heartbeat/anything monitor
fi

bold "Recovery as Pacemaker would do it: stop (stopped children included), start"
show "stop" agent stop
# Only this Dante runs in the namespace (its children retitle themselves).
left=$(ip netns pids "$NS" | xargs -r ps -o pid=,cmd= -p || true)
echo "    processes left: ${left:-none}"
show "start" agent start
show "monitor depth 20" agent monitor OCF_RESKEY_CRM_meta_interval=10000 OCF_CHECK_LEVEL=20 OCF_RESKEY_check_udp=true
show "stop" agent stop
bold "Done; namespace and files removed."

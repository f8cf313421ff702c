#!/usr/bin/env bash
# deps-check.sh: proves that every external command the tests, the harness
# and the scripts look up is installed and comes from a package of
# scripts/packages.txt (the list scripts/deps.sh installs), so that a fresh
# machine gets all of them from `make deps`.
#
# The commands are collected from:
#   - the Go sources: RequireCommand, LookPath, exec.Command, ns.Command,
#     MustRun, Node.Run/Output and the like, with a literal program name;
#   - testenv.CommandPackages (internal/testenv/packages.go), whose package
#     for each command must also be the one that really provides it;
#   - the shell scripts (scripts/, tests/, bench/): the first word of every
#     simple command, less builtins, keywords and the scripts' functions.
# Each is resolved on Debian's default PATH and its owner found with dpkg -S
# (both halves of merged /usr, and the alternatives it may point to). A
# command is accepted when its owner is in scripts/packages.txt or is a
# package every Debian has (Essential or Priority required). Go itself is a
# prerequisite installed by hand (/usr/local/go), reported as such.
#
# A word of a shell script counts when it is a program on PATH or in the
# table (so a program only the scripts use must be in the table to be
# reported missing). A few names the Go sources use are exempt, with the
# reason printed.
#
# Output: one line per command, `ok`, `MISSING` or `UNLISTED`, then
# `deps-check: N commands, N missing, N not from a listed package`.
# Exit status 0 when every command is fine.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/go/bin
export LC_ALL=C

mapfile -t listed < <(grep -v '^#' scripts/packages.txt | awk 'NF {print $1}')
declare -A is_listed=()
for p in "${listed[@]}"; do is_listed[$p]=1; done

# table: command -> package from testenv.CommandPackages.
declare -A table=()
while read -r c p; do table[$c]=$p; done < <(
  sed -nE 's/^[[:space:]]*"([^"]+)":[[:space:]]*"([^"]+)",.*/\1 \2/p' internal/testenv/packages.go)

# go_commands prints the literal program names the Go sources run or look up.
go_commands() {
  git ls-files '*.go' 2>/dev/null | grep -q . && files=$(git ls-files '*.go') || files=$(find . -name '*.go')
  # shellcheck disable=SC2086
  grep -hoE '(exec\.Command(Context)?\((ctx, )?|[A-Za-z.]*[Nn][Ss]\.Command(Context)?\((ctx, )?|MustRun\([tb], |[a-z]\.(Run|Output)\(|RequireCommand\([tb], |LookPath\(|LookCommand\()"[^"]+"' $files |
    grep -vE '^[tb]\.Run\(' | sed -E 's/.*"([^"]+)"$/\1/'
}

# shell_commands prints the first word of every simple command of the
# scripts, less heredoc bodies, comments and the scripts' own functions.
shell_commands() {
  local f
  for f in scripts/*.sh scripts/lib/*.sh tests/*.sh tests/ocft/run.sh bench/*.sh; do
    [ -f "$f" ] || continue
    awk '
      heredoc != "" { if ($0 ~ "^[[:space:]]*" heredoc "[[:space:]]*$") heredoc = ""; next }
      {
        line = $0
        if (match(line, /<<-?[[:space:]]*'"'"'?[A-Za-z0-9_]+'"'"'?/)) {
          tag = substr(line, RSTART, RLENGTH); gsub(/[<\-'"'"'[:space:]]/, "", tag); heredoc = tag
        }
        sub(/^[[:space:]]*#.*/, "", line); sub(/[[:space:]]#[^'"'"'"]*$/, "", line)
        gsub(/\$\(/, ";", line); gsub(/`/, ";", line)
        gsub(/\|\||&&|\||;|\(|\)|\{|\}|!/, ";", line)
        n = split(line, parts, ";")
        for (i = 1; i <= n; i++) {
          m = split(parts[i], w, /[[:space:]]+/)
          for (j = 1; j <= m; j++) {
            if (w[j] == "") continue
            if (w[j] ~ /^[A-Za-z_][A-Za-z0-9_]*=/) continue   # VAR=value prefix
            if (w[j] ~ /^(then|do|else|elif|if|while|until|exec|time|command|nohup|sudo)$/) continue
            if (w[j] ~ /^[a-z][a-z0-9_.+-]*$/) print w[j]
            break
          }
        }
      }' "$f"
    # functions of the script, to leave out
    sed -nE 's/^[[:space:]]*([a-z_][a-z0-9_]*)[[:space:]]*\(\)[[:space:]]*\{?.*/-\1/p' "$f"
  done
}

# not_commands: shell builtins and keywords, and words the crude split above
# takes for commands (case labels, awk and sed program text).
not_commands=" alias bg break builtin caller cd continue declare dirs disown echo enable eval exit export
  false fc fg getopts hash help history jobs kill let local logout mapfile popd printf pushd pwd read
  readarray readonly return set shift shopt source suspend test times trap true type typeset ulimit
  umask unalias unset wait case esac fi done in for function select coproc "

# Programs the Go sources name that are not installed from a package, and why.
declare -A exempt=(
  [check_tcp_raw]="optional peer of bench/vipcheck (raw-socket-checkers is not in Debian)"
  [ocfkit-no-such-program]="testenv's own test of a missing program"
  [exe]="/proc/self/exe"
)
# This project's own programs are built, not installed from a package.
for d in cmd/*/; do exempt[$(basename "$d")]="built from this tree (cmd/)"; done

# base_package reports whether every Debian system has the package.
base_package() {
  local f
  f=$(dpkg-query -W -f='${Essential} ${Priority}' "$1" 2>/dev/null) || return 1
  case $f in yes*|*required) return 0 ;; esac
  return 1
}

declare -A from_go=() seen=() skip=()
while read -r c; do from_go[$c]=1; done < <(go_commands | sed 's|.*/||')
while read -r c; do
  case $c in -*) skip[${c#-}]=1; continue ;; esac
  seen[$c]=1
done < <({ go_commands; printf '%s\n' "${!table[@]}"; shell_commands; } | sed 's|.*/||')

# Resolve every candidate; a word of a shell script that is neither a
# program on PATH nor in the table is not a command (a case label, awk
# text); a program the Go sources or the table name must exist.
declare -A path=()
names=()
for c in $(printf '%s\n' "${!seen[@]}" | sort); do
  [ -n "${skip[$c]:-}" ] && continue
  case $not_commands in *" $c "*) continue ;; esac
  p=$(type -P "$c") || p=
  if [ -z "$p" ] && [ -z "${from_go[$c]:-}" ] && [ -z "${table[$c]:-}" ]; then continue; fi
  [ -n "${exempt[$c]:-}" ] && { printf 'exempt    %-22s %s\n' "$c" "${exempt[$c]}"; continue; }
  names+=("$c"); path[$c]=$p
done

# One dpkg -S for every path (both halves of merged /usr, symlinks
# followed): path -> owners.
declare -A owner=()
cands=()
for c in "${names[@]}"; do
  p=${path[$c]}; [ -n "$p" ] || continue
  for q in "$p" "$(readlink -f "$p")"; do cands+=("$q" "/usr${q#/usr}" "${q#/usr}"); done
done
while IFS= read -r line; do
  case $line in diversion*) continue ;; esac
  pk=${line%%: *}; f=${line#*: }
  owner[$f]="${owner[$f]:-} ${pk//,/}"
done < <(printf '%s\n' "${cands[@]}" | sort -u | xargs -r dpkg -S 2>/dev/null)

owners_of() {
  local p=$1 q o=
  for q in "$p" "$(readlink -f "$p")"; do
    o="$o ${owner[$q]:-} ${owner[/usr${q#/usr}]:-} ${owner[${q#/usr}]:-}"
  done
  if [ "${2:-}" = alternatives ]; then  # awk: gawk here, mawk on another machine
    for q in $(update-alternatives --list "${p##*/}" 2>/dev/null); do
      o="$o $(dpkg -S "$q" "/usr${q#/usr}" "${q#/usr}" 2>/dev/null | sed -E 's/: .*//; s/,//g' | tr '\n' ' ')"
    done
  fi
  printf '%s\n' $o | sort -u
}

total=0 missing=0 unlisted=0
for c in "${names[@]}"; do
  total=$((total + 1))
  p=${path[$c]}
  if [ -z "$p" ]; then
    missing=$((missing + 1))
    printf 'MISSING   %-22s not installed%s\n' "$c" "${table[$c]:+ (Debian package ${table[$c]})}"
    continue
  fi
  case $p in /usr/local/go/*)
    printf 'ok        %-22s %-32s the Go toolchain (a prerequisite, not a package)\n' "$c" "$p"; continue ;;
  esac
  mapfile -t own < <(owners_of "$p")
  good=
  for o in "${own[@]}"; do
    [ -n "$o" ] || continue
    if [ -n "${is_listed[$o]:-}" ] || base_package "$o"; then good=$o; break; fi
  done
  if [ -z "$good" ]; then
    for o in $(owners_of "$p" alternatives); do
      if [ -n "${is_listed[$o]:-}" ] || base_package "$o"; then good="$o (an alternative for it)"; break; fi
    done
  fi
  if [ -n "${table[$c]:-}" ] && ! printf '%s\n' "${own[@]}" | grep -qx "${table[$c]}"; then
    unlisted=$((unlisted + 1))
    printf 'UNLISTED  %-22s %-32s from %s, but testenv.CommandPackages says %s\n' "$c" "$p" "${own[*]:-no package}" "${table[$c]}"
  elif [ -z "$good" ]; then
    unlisted=$((unlisted + 1))
    printf 'UNLISTED  %-22s %-32s from %s, not in scripts/packages.txt\n' "$c" "$p" "${own[*]:-no package}"
  else
    printf 'ok        %-22s %-32s %s\n' "$c" "$p" "$good"
  fi
done
# Programs the tests run unpacked by scripts/pkgroot.sh (syslog-ng-core and
# rsyslog conflict as packages, so neither is installed): each must be
# there, and every library it and the modules the tests load need must be
# found (their packages are the library lines of scripts/packages.txt).
pkgroot=/var/cache/ocfkit-test/pkgroot
declare -A unpacked=(
  [syslog-ng]="syslog-ng/usr/sbin/syslog-ng syslog-ng/usr/lib/syslog-ng/3.38/libafsocket.so syslog-ng/usr/lib/syslog-ng/3.38/libaffile.so syslog-ng/usr/lib/syslog-ng/3.38/libsyslogformat.so"
  [rsyslogd]="rsyslog/usr/sbin/rsyslogd rsyslog/usr/lib/x86_64-linux-gnu/rsyslog/imudp.so rsyslog/usr/lib/x86_64-linux-gnu/rsyslog/imtcp.so"
)
for c in $(printf '%s\n' "${!unpacked[@]}" | sort); do
  total=$((total + 1))
  read -r bin _ <<<"${unpacked[$c]}"
  if [ ! -x "$pkgroot/$bin" ]; then
    missing=$((missing + 1))
    printf 'MISSING   %-22s not unpacked in %s (run scripts/pkgroot.sh)\n' "$c" "$pkgroot"
    continue
  fi
  lost=
  for f in ${unpacked[$c]}; do
    lost="$lost $(LD_LIBRARY_PATH="$pkgroot/syslog-ng/usr/lib/syslog-ng" ldd "$pkgroot/$f" 2>&1 | awk '/not found/ {printf "%s ", $1}')"
  done
  if [ -n "${lost// /}" ]; then
    missing=$((missing + 1))
    printf 'MISSING   %-22s %-32s libraries not found:%s\n' "$c" "$pkgroot/$bin" "$lost"
  else
    printf 'ok        %-22s %-32s unpacked by scripts/pkgroot.sh\n' "$c" "$pkgroot/$bin"
  fi
done
echo "deps-check: $total commands, $missing missing, $unlisted not from a listed package"
[ "$missing" -eq 0 ] && [ "$unlisted" -eq 0 ]

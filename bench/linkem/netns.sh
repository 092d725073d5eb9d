#!/usr/bin/env bash
# Sets up and tears down two network namespaces joined by linkem (the userspace WAN emulator) for benchmarks and tests.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="$HERE/bin/linkem"
SRC="$HERE/linkem.c"
STATE_ROOT="${LINKEM_STATE_DIR:-/tmp/udt-linkem}"

usage() {
  cat <<'EOF'
usage: netns.sh check
       netns.sh build
       netns.sh up [--name PREFIX] [--addr-a IP] [--addr-b IP] [--cc cubic|bbr|reno] [--buf BYTES] [--] [linkem flags]
       netns.sh down [--name PREFIX]
       netns.sh status [--name PREFIX]
       netns.sh gc

Namespaces are PREFIXA and PREFIXB (default udtA, udtB), joined by TUN devices lk0 with A=10.77.0.1 and
B=10.77.0.2 (point to point, MTU from linkem --dev-mtu, default 1500). linkem flags (see bin/linkem --help)
follow, e.g. --rate 100mbit --delay 50ms --loss 1% --seed 7 --stats-ms 1000.
--cc sets net.ipv4.tcp_congestion_control inside both namespaces (a per-namespace sysctl).
--buf BYTES raises the TCP autotuning maxima inside both namespaces (per-namespace) and, only when lower,
  the global net.core.rmem_max/wmem_max (restored by 'down' unless something else changed them meanwhile).
Without root, /dev/net/tun or 'ip netns', check/up print "UNAVAILABLE: reason" and exit 0 (LINKEM_STRICT=1: exit 3).
'down' removes what 'up' created, stops only the linkem PID it started, and prints linkem's final counters.
LINKEM_WATCH_PID=PID makes linkem exit when PID does; 'gc' (also run by 'up') then tears down every link whose
linkem is gone, so a killed harness leaves nothing behind for long.
EOF
}

say() { echo "netns.sh: $*" >&2; }

unavailable_reason() {
  if [ "$(id -u)" != "0" ]; then echo "needs root (running as uid $(id -u))"; return; fi
  if [ ! -c /dev/net/tun ]; then echo "/dev/net/tun is missing"; return; fi
  if ! command -v ip >/dev/null 2>&1; then echo "the 'ip' command (iproute2) is missing"; return; fi
  if ! ip netns list >/dev/null 2>&1; then echo "'ip netns' does not work here"; return; fi
  if [ ! -x "$BIN" ] && ! command -v cc >/dev/null 2>&1; then echo "no C compiler (cc) to build linkem"; return; fi
  echo ""
}

require_available() {
  local reason
  reason="$(unavailable_reason)"
  if [ -n "$reason" ]; then
    echo "UNAVAILABLE: $reason"
    [ "${LINKEM_STRICT:-0}" = "1" ] && exit 3
    exit 0
  fi
}

build() {
  if [ -x "$BIN" ] && [ "$BIN" -nt "$SRC" ]; then return; fi
  mkdir -p "$HERE/bin"
  cc -std=c11 -O2 -Wall -Wextra -o "$BIN.tmp.$$" "$SRC" -lpthread -lm
  mv -f "$BIN.tmp.$$" "$BIN"
}

NAME=udt
ADDR_A=10.77.0.1
ADDR_B=10.77.0.2
CC=""
BUF=""
LINKEM_ARGS=()

parse_common() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) NAME="$2"; shift 2 ;;
      --addr-a) ADDR_A="$2"; shift 2 ;;
      --addr-b) ADDR_B="$2"; shift 2 ;;
      --cc) CC="$2"; shift 2 ;;
      --buf) BUF="$2"; shift 2 ;;
      --) shift; LINKEM_ARGS+=("$@"); break ;;
      *) LINKEM_ARGS+=("$1"); shift ;;
    esac
  done
  case "$NAME" in *[!A-Za-z0-9_-]*|"") say "bad --name '$NAME'"; exit 2 ;; esac
  NS_A="${NAME}A"
  NS_B="${NAME}B"
  STATE="$STATE_ROOT/$NAME"
}

linkem_pid_alive() {
  local pid="$1"
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "linkem" ]
}

sysctl_set_global() {
  local key="$1" want="$2" cur
  cur="$(sysctl -n "$key")"
  sysctl -qw "$key=$want"
  printf '%s\t%s\t%s\n' "$key" "$cur" "$(sysctl -n "$key")" >>"$STATE/sysctl-restore"
  say "set $key from '$cur' to '$want' (restored by down)"
}

sysctl_raise_global() {
  if [ "$(sysctl -n "$1")" -lt "$2" ]; then sysctl_set_global "$1" "$2"; fi
}

ns_set_cc() {
  local ns="$1" allowed
  if ip netns exec "$ns" sysctl -qw "net.ipv4.tcp_congestion_control=$CC" 2>/dev/null; then return; fi
  allowed="$(sysctl -n net.ipv4.tcp_allowed_congestion_control)"
  case " $allowed " in
    *" $CC "*) say "cannot set $CC as the default in $ns"; return 1 ;;
  esac
  # A namespace may only default to an algorithm in the global allowed list.
  sysctl_set_global net.ipv4.tcp_allowed_congestion_control "$allowed $CC"
  ip netns exec "$ns" sysctl -qw "net.ipv4.tcp_congestion_control=$CC"
}

ns_raise_tcp_buf() {
  local ns="$1" key="$2" want="$3" min def max
  read -r min def max < <(ip netns exec "$ns" sysctl -n "$key")
  if [ "$max" -lt "$want" ]; then ip netns exec "$ns" sysctl -qw "$key=$min $def $want"; fi
}

down() {
  [ -d "$STATE" ] || { say "nothing to tear down for '$NAME'"; return 0; }
  local pid=""
  [ -f "$STATE/linkem.pid" ] && pid="$(cat "$STATE/linkem.pid")"
  if linkem_pid_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do linkem_pid_alive "$pid" || break; sleep 0.1; done
    if linkem_pid_alive "$pid"; then say "linkem $pid did not stop; killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  if [ -f "$STATE/linkem.log" ]; then grep '"event":"final"' "$STATE/linkem.log" | tail -n 1 || true; fi
  if [ -f "$STATE/created-ns" ]; then
    while read -r ns; do ip netns del "$ns" 2>/dev/null || say "could not delete namespace $ns"; done <"$STATE/created-ns"
  fi
  if [ -f "$STATE/sysctl-restore" ]; then
    tac "$STATE/sysctl-restore" | while IFS=$'\t' read -r key old set; do
      if [ "$(sysctl -n "$key")" = "$set" ]; then sysctl -qw "$key=$old"; else say "$key changed meanwhile; left as is"; fi
    done
  fi
  rm -rf "$STATE"
}

# Tears down links (ours, under $STATE_ROOT) whose linkem has exited.
gc() {
  local dir pid
  for dir in "$STATE_ROOT"/*/; do
    [ -f "$dir/linkem.pid" ] || continue
    pid="$(cat "$dir/linkem.pid")"
    linkem_pid_alive "$pid" && continue
    say "removing stale link '$(basename "$dir")' (linkem $pid is gone)"
    (parse_common --name "$(basename "$dir")" && down >/dev/null) || true
  done
}

up() {
  require_available
  build
  gc
  if [ -d "$STATE" ]; then say "stale state for '$NAME' found; tearing it down first"; down >/dev/null; fi
  for ns in "$NS_A" "$NS_B"; do
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then say "namespace $ns exists and is not ours; pick another --name"; exit 1; fi
  done
  mkdir -p "$STATE"
  trap 'say "set-up failed; tearing down"; down >/dev/null' ERR
  for ns in "$NS_A" "$NS_B"; do
    ip netns add "$ns"
    echo "$ns" >>"$STATE/created-ns"
    ip -n "$ns" link set lo up
  done
  local watch=()
  if [ -n "${LINKEM_WATCH_PID:-}" ]; then watch=(--watch-pid "$LINKEM_WATCH_PID"); fi
  "$BIN" --ns-a "$NS_A" --ns-b "$NS_B" "${watch[@]}" "${LINKEM_ARGS[@]}" </dev/null >"$STATE/linkem.log" 2>"$STATE/linkem.err" &
  echo $! >"$STATE/linkem.pid"
  local pid=$!
  for _ in $(seq 1 100); do
    grep -q '"event":"ready"' "$STATE/linkem.log" 2>/dev/null && break
    if ! kill -0 "$pid" 2>/dev/null; then say "linkem exited: $(cat "$STATE/linkem.err")"; false; fi
    sleep 0.05
  done
  grep -q '"event":"ready"' "$STATE/linkem.log" || { say "linkem did not become ready"; false; }
  for side in A B; do
    local ns addr peer
    if [ "$side" = A ]; then ns="$NS_A" addr="$ADDR_A" peer="$ADDR_B"; else ns="$NS_B" addr="$ADDR_B" peer="$ADDR_A"; fi
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.lk0.disable_ipv6=1 2>/dev/null || true
    ip -n "$ns" addr add "$addr" peer "$peer" dev lk0
    ip -n "$ns" link set lk0 up
    if [ -n "$CC" ]; then
      grep -qw "$CC" /proc/sys/net/ipv4/tcp_available_congestion_control || modprobe "tcp_$CC" 2>/dev/null || true
      ns_set_cc "$ns"
    fi
    if [ -n "$BUF" ]; then
      ns_raise_tcp_buf "$ns" net.ipv4.tcp_rmem "$BUF"
      ns_raise_tcp_buf "$ns" net.ipv4.tcp_wmem "$BUF"
    fi
  done
  if [ -n "$BUF" ]; then
    sysctl_raise_global net.core.rmem_max "$BUF"
    sysctl_raise_global net.core.wmem_max "$BUF"
  fi
  trap - ERR
  echo "up: $NS_A ($ADDR_A) <-> $NS_B ($ADDR_B) via lk0; linkem pid $pid; log $STATE/linkem.log"
}

status() {
  if [ ! -d "$STATE" ]; then echo "down"; return; fi
  local pid
  pid="$(cat "$STATE/linkem.pid" 2>/dev/null || true)"
  if linkem_pid_alive "$pid"; then
    kill -USR1 "$pid"
    sleep 0.2
    grep '"event":"snapshot"' "$STATE/linkem.log" | tail -n 1
  else
    echo "state present but linkem is not running (run down)"
  fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  check) require_available; echo "OK" ;;
  build) build; echo "$BIN" ;;
  up) parse_common "$@"; up ;;
  down) parse_common "$@"; down ;;
  status) parse_common "$@"; status ;;
  gc) require_available; gc ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac

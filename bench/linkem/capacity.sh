#!/usr/bin/env bash
# Measures linkem's own ceiling and CPU cost: iperf3 UDP (1500-byte IP packets) and TCP through linkem, per offered rate.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAME="${LINKEM_CAP_NAME:-lkcap$$}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-5}"
RATES="${RATES:-100M 500M 1G 2G}"
LINKEM_FLAGS=(${LINKEM_FLAGS:---rt-prio 10})

reason="$(bash "$HERE/netns.sh" check)"
if [ "$reason" != "OK" ]; then echo "capacity: skipped: ${reason#UNAVAILABLE: }"; exit 0; fi
command -v iperf3 >/dev/null || { echo "capacity: skipped: iperf3 not found (apt-get install iperf3)"; exit 0; }
command -v python3 >/dev/null || { echo "capacity: skipped: python3 not found"; exit 0; }

SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  bash "$HERE/netns.sh" down --name "$NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

summarize() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
label, client, final = sys.argv[1], json.load(open(sys.argv[2])), None
for line in open(sys.argv[3]):
    if line.startswith('{'):
        final = json.loads(line)
end = client.get('end', {})
if 'error' in client:
    print(f"{label}: iperf3 error: {client['error']}"); sys.exit()
if 'sum_received' in end:
    got = end['sum_received']['bits_per_second']
else:
    got = end['sum']['bits_per_second'] * (1 - end['sum'].get('lost_percent', 0) / 100)
ab, cpu = final['ab'], final['cpu']
secs = final['t']
pps = ab['out'] / secs if secs else 0
busy = ab['cpu_s'] + final['ba']['cpu_s']
print(f"{label}: delivered {got/1e6:8.1f} Mbit/s | linkem a->b in {ab['in']} out {ab['out']} dropped "
      f"{ab['dropped_queue'] + ab['dropped_pool']} | late p99 {ab['late_p99_us']} us max {ab['late_max_us']:.0f} us | "
      f"linkem CPU {100 * busy / secs:5.1f}% of a core ({1e6 * busy / max(ab['out'] + final['ba']['out'], 1):.2f} us/packet)")
PY
}

run() {
  local label="$1"; shift
  local link_flags=("$@")
  bash "$HERE/netns.sh" up --name "$NAME" --buf 33554432 -- "${LINKEM_FLAGS[@]}" "${link_flags[@]}" >/dev/null
  ip netns exec "${NAME}B" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
  SERVER_PID=$!
  sleep 0.5
  ip netns exec "${NAME}A" timeout $((SECONDS_PER_RUN + 20)) iperf3 -c 10.77.0.2 -p 5201 -t "$SECONDS_PER_RUN" \
    "${CLIENT_FLAGS[@]}" --json >"/tmp/$NAME.client.json" || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  bash "$HERE/netns.sh" down --name "$NAME" >"/tmp/$NAME.final.json"
  summarize "$label" "/tmp/$NAME.client.json" "/tmp/$NAME.final.json"
  rm -f "/tmp/$NAME.client.json" "/tmp/$NAME.final.json"
}

echo "capacity: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), ${SECONDS_PER_RUN} s per run, linkem ${LINKEM_FLAGS[*]}"
for rate in $RATES; do
  CLIENT_FLAGS=(-u -b "$rate" -l 1472)
  run "UDP offered $rate, link unlimited" --delay 0ms
done
CLIENT_FLAGS=(-C cubic)
run "TCP CUBIC, link unlimited, no delay" --delay 0ms
run "TCP CUBIC, 100 Mbit/s 100 ms RTT" --rate 100mbit --delay 50ms
CLIENT_FLAGS=(-C bbr)
run "TCP BBR, 1 Gbit/s 2 ms RTT" --rate 1gbit --delay 1ms

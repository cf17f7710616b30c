#!/usr/bin/env bash
# Measures the reference bridge on this machine: simulator → bridge → loadgen, all release builds,
# loopback only. Usage: scripts/measure-bridge.sh CLIENTS RATE DURATION [KIND] [OUT]
#   RATE is the simulator's total .scid records/s over NQ, ES, VX (0: no writer, idle clients).
# Prints the loadgen summary, the bridge's CPU (% of one core) and peak memory, and the bridge's
# detection-to-queued histogram. Reports go to OUT (default reports/measure-CLIENTS-RATE).
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-100}; rate=${2:-300}; duration=${3:-15}; kind=${4:-ws}
out=${5:-reports/measure-$clients-$rate}
port=$((18200 + RANDOM % 500))
swift build -c release --product simulator >/dev/null
swift build -c release --product bridge >/dev/null
swift build -c release --product loadgen >/dev/null
bin=.build/release
data=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$data"' EXIT
if [ "$rate" != 0 ]; then
    "$bin/simulator" --data-dir "$data" --symbols NQ,ES,VX --rate "$rate" --flush-ms 0 --duration $((duration + 10)) -q &
else
    "$bin/simulator" --data-dir "$data" --symbols NQ,ES,VX --rate 100 --duration 1 -q
fi
sleep 0.5
"$bin/bridge" --data-dir "$data" --port "$port" --max-connections 20000 --log-level warning &
bridge=$!
sleep 1.5
before=$(awk '{print $14 + $15}' /proc/$bridge/stat)
start=$(date +%s.%N)
"$bin/loadgen" --url "ws://127.0.0.1:$port" --clients "$clients" --kind "$kind" --symbols NQ,ES,VX ${LOADGEN_ARGS:-} \
    --duration "$duration" --data-dir "$data" --out "$out" --no-progress
after=$(awk '{print $14 + $15}' /proc/$bridge/stat)
end=$(date +%s.%N)
echo "bridge: $(echo "scale=1; ($after - $before) / ($end - $start)" | bc)% of one core during the run; $(grep VmHWM /proc/$bridge/status | tr -s ' ')"
curl -s "http://127.0.0.1:$port/metrics" | grep '^bridge_detect_to_send_seconds' > "$out/bridge-detect-to-send.prom" || true
echo "bridge detect-to-queued histogram: $out/bridge-detect-to-send.prom"

#!/usr/bin/env bash
# Starts N qlora4j trainer nodes on this machine (127.0.0.1, Artery ports BASE..BASE+N-1; the first is the seed),
# waits until each is Up, and prints the command that submits a job to them. Logs and pids: runs/local-cluster/.
#   deploy/local-cluster.sh 2                 # two trainer nodes on 2552, 2553
#   deploy/local-cluster.sh 2 --base-port 2600
#   deploy/local-cluster.sh stop              # stops the nodes this script started (by their recorded pids)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="$root/runs/local-cluster"

if [[ "${1:-}" == "stop" ]]; then
  for pidfile in "$state"/node-*.pid; do
    [[ -f "$pidfile" ]] || continue
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null && echo "stopped node pid $pid ($(basename "$pidfile" .pid))"
    rm -f "$pidfile"
  done
  exit 0
fi

count="${1:?usage: deploy/local-cluster.sh N [--base-port P] | stop}"
[[ "$count" =~ ^[1-9][0-9]*$ ]] || { echo "local-cluster.sh: N must be a positive number, got '$count'" >&2; exit 2; }
base=2552
if [[ "${2:-}" == "--base-port" ]]; then base="${3:?--base-port needs a port}"; fi
seed="127.0.0.1:$base"
mkdir -p "$state"

# build once here, not in N launchers at the same time
"$root/qlora4j" --version >/dev/null

for ((i = 0; i < count; i++)); do
  port=$((base + i))
  if [[ -f "$state/node-$port.pid" ]] && kill -0 "$(cat "$state/node-$port.pid")" 2>/dev/null; then
    echo "node on port $port already runs (pid $(cat "$state/node-$port.pid"))"; continue
  fi
  "$root/qlora4j" node --port "$port" --seed-nodes "$seed" --role trainer --config "$root/deploy/local-cluster.conf" \
    --work-dir "$state/node-$port" >"$state/node-$port.log" 2>&1 &
  echo $! >"$state/node-$port.pid"
  echo "node on port $port: pid $!, log $state/node-$port.log"
done

for ((i = 0; i < count; i++)); do
  port=$((base + i))
  for _ in $(seq 1 120); do
    grep -q "is Up" "$state/node-$port.log" 2>/dev/null && break
    kill -0 "$(cat "$state/node-$port.pid")" 2>/dev/null || { echo "node on port $port exited:" >&2; tail -5 "$state/node-$port.log" >&2; exit 1; }
    sleep 0.5
  done
  grep -q "is Up" "$state/node-$port.log" || { echo "node on port $port is not Up after 60 s: see $state/node-$port.log" >&2; exit 1; }
done
echo "$count trainer node(s) Up; submit a job (this process trains too, so --nodes $((count + 1))):"
echo "  ./qlora4j finetune --cluster $seed --nodes $((count + 1)) --model PATH --data FILE|grpc://HOST:PORT/NAME --out runs/cluster-job"
echo "stop them with: deploy/local-cluster.sh stop"

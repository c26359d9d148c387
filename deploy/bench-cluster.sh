#!/usr/bin/env bash
# Gradient-exchange cost of data-parallel training: the same stories260K + Guanaco-1k QLoRA job (r=64 on all seven
# projections) on one node and on NODES nodes of a local cluster (this machine, 127.0.0.1), then per optimizer step:
# median step seconds (steps 3.., after JIT warm-up), bytes all replicas sent for the all-reduce, chunk messages,
# the largest chunk, and the median all-reduce wall time.
#   deploy/bench-cluster.sh [NODES=3] [STEPS=20]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nodes="${1:-3}"
steps="${2:-20}"
model="$root/../shared/data/models/stories260K/stories260K.bin"
data="$root/../shared/data/datasets/guanaco-1k/guanaco-1k.train.guanacofmt.jsonl"
[[ -f "$model" && -f "$data" ]] || { echo "bench-cluster.sh: needs $model and $data (../shared/data)" >&2; exit 2; }
out="$root/runs/bench-cluster"
rm -rf "$out"
job=(--model "$model" --data "$data" --steps "$steps" --batch 4 --grad-accum "$nodes" --max-len 256 --eval-every 0
     --eval-batches 2 --save-every 0 --threads 1 --no-progress)

"$root/qlora4j" finetune "${job[@]}" --out "$out/single" >"$out.single.log" 2>&1 || { tail "$out.single.log"; exit 1; }
"$root/deploy/local-cluster.sh" $((nodes - 1)) --base-port 2652 >/dev/null
trap '"$root/deploy/local-cluster.sh" stop >/dev/null' EXIT
"$root/qlora4j" finetune "${job[@]}" --cluster 127.0.0.1:2652 --nodes "$nodes" --out "$out/cluster" >"$out.cluster.log" 2>&1 \
  || { tail "$out.cluster.log"; exit 1; }

# the value of "key" in every step line of a metrics.jsonl, from step 3 on
values() { grep '"loss"' "$1/metrics.jsonl" | tail -n +3 | grep -o "\"$2\":[0-9.e+-]*" | cut -d: -f2; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2)}'; }
single_s="$(values "$out/single" seconds | median)"
cluster_s="$(values "$out/cluster" seconds | median)"
printf 'nodes %d, global batch 4 x %d, %d steps, threads 1 per node, on %s\n' "$nodes" "$nodes" "$steps" "$(nproc) cores"
printf 'median step seconds: single node %.3f, %d nodes %.3f (x%.2f)\n' "$single_s" "$nodes" "$cluster_s" \
  "$(awk -v a="$cluster_s" -v b="$single_s" 'BEGIN {print a / b}')"
printf 'all-reduce per step: %s bytes sent in %s chunks (largest %s bytes), median %.3f s\n' \
  "$(values "$out/cluster" exchange_bytes | median)" "$(values "$out/cluster" exchange_chunks | median)" \
  "$(values "$out/cluster" max_chunk_bytes | sort -g | tail -1)" "$(values "$out/cluster" exchange_seconds | median)"
cmp -s "$out/single/offsets.jsonl" <(sed 's/,"replicas".*}$/}/' "$out/cluster/offsets.jsonl") \
  && echo "offsets ledger: the same examples in every step as the single node"

#!/usr/bin/env bash
# CPU inference tables at other batch sizes (issue 16): for MogaNet-XT/T,
# FasterViT-0/1 and DGMN2-T/S, eager vs channels_last vs torch.compile, and
# for DGMN2 the grid_sample (auto) vs dcn vs compiled paths, one benchmark.py
# --compare run per model and batch (interleaved rounds: each row a ratio
# measured side by side in one process). 2 threads, fp32, 224, random weights.
#
#   bash tools/analysis_tools/cpu_benchmark_batches.sh [OUT_DIR] [BATCH ...]
#       (defaults: work_dirs/cpu_benchmark 8 32; about 40 minutes on 2 cores)
#
# JSON per table under OUT_DIR (<model>_b<batch>_infer.json).
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
OUT=${1:-work_dirs/cpu_benchmark}
shift || true
BATCHES=("$@")
[[ ${#BATCHES[@]} -gt 0 ]] || BATCHES=(8 32)
mkdir -p "$OUT"
status=0
step() { echo; echo "== $*"; "$@" || status=1; }
for B in "${BATCHES[@]}"; do
  INF=(--device cpu --threads 2 --batch-size "$B" --warmup 2 --iters 3 --rounds 3)
  for cfg in moganet/moganet-xtiny_8xb128_in1k moganet/moganet-tiny_8xb128_in1k \
      fastervit/fastervit-0_32xb128_in1k fastervit/fastervit-1_32xb128_in1k; do
    name=$(basename "$cfg" | cut -d_ -f1)
    step "$PY" tools/analysis_tools/benchmark.py "configs/$cfg.py" "${INF[@]}" \
      --json "$OUT/${name}_b${B}_infer.json" \
      --compare "eager: eager" "channels_last: channels_last" "compile: compile"
  done
  for cfg in dgmn2/dgmn2-tiny_8xb128_in1k dgmn2/dgmn2-small_8xb128_in1k; do
    name=$(basename "$cfg" | cut -d_ -f1)
    step "$PY" tools/analysis_tools/benchmark.py "configs/$cfg.py" "${INF[@]}" \
      --json "$OUT/${name}_b${B}_infer.json" \
      --compare "grid_sample (auto): model.backbone.sampler=grid_sample" \
      "dcn: model.backbone.sampler=dcn" \
      "grid_sample+compile: model.backbone.sampler=grid_sample compile" \
      "auto+compile (fused): compile"
  done
done
exit $status

#!/usr/bin/env bash
# The GPU half of the speed tables (issue 16), one command, about 6-8 minutes
# on one GPU (none of it has run yet: this session had no GPU):
#
#   bash tools/analysis_tools/gpu_benchmark.sh [OUT_DIR]   (default: work_dirs/gpu_benchmark)
#
# 1. tests/test_cuda.py (mmcv's CUDA kernels, the samplers, AMP);
# 2. benchmark.py --compare at batch 128, fp32 and AMP, eager / channels_last /
#    torch.compile for MogaNet-T, FasterViT-0 and DGMN2-T (every DGMN2 path),
#    inference and training; DGMN2-S/M/L inference on every path. Each table is
#    one --compare run (interleaved rounds: ratios are side by side), written
#    as JSON under OUT_DIR and printed. FasterViT-0 AMP inference is the row to
#    set against the published 5,802 img/s (A100).
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
OUT=${1:-work_dirs/gpu_benchmark}
mkdir -p "$OUT"
BM="$PY tools/analysis_tools/benchmark.py"
COMMON="--device cuda --batch-size 128 --warmup 5 --iters 20 --rounds 3"
status=0
step() { echo; echo "== $*"; "$@" || status=1; }

step "$PY" -m pytest -q tests/test_cuda.py
for amp in "" "amp"; do
  tag=${amp:-fp32}
  step $BM configs/moganet/moganet-tiny_8xb128_in1k.py $COMMON --json "$OUT/moganet-t_$tag.json" \
    --compare "eager: eager $amp" "channels_last: channels_last $amp" "compile: compile $amp"
  step $BM configs/fastervit/fastervit-0_32xb128_in1k.py $COMMON --json "$OUT/fastervit-0_$tag.json" \
    --compare "eager: eager $amp" "deploy: deploy $amp" "compile: compile $amp" "deploy+compile: deploy compile $amp"
  step $BM configs/dgmn2/dgmn2-tiny_8xb128_in1k.py $COMMON --json "$OUT/dgmn2-t_$tag.json" \
    --compare "grid_sample: model.backbone.sampler=grid_sample $amp" \
    "dcn: model.backbone.sampler=dcn $amp" "pytorch: model.backbone.sampler=pytorch $amp" \
    "grid_sample+compile: model.backbone.sampler=grid_sample compile $amp" \
    "fused+compile: model.backbone.sampler=fused compile $amp" \
    "dcn+compile: model.backbone.sampler=dcn compile $amp"
done
for cfg in moganet/moganet-tiny_8xb128_in1k fastervit/fastervit-0_32xb128_in1k dgmn2/dgmn2-tiny_8xb128_in1k; do
  name=$(basename "$cfg")
  step $BM configs/$cfg.py $COMMON --iters 5 --train --json "$OUT/${name}_train.json" \
    --compare "eager: eager" "amp: amp" "compile+amp: compile amp"
done
for arch in small medium large; do
  step $BM configs/dgmn2/dgmn2-${arch}_8xb128_in1k.py $COMMON --iters 10 --json "$OUT/dgmn2-${arch}.json" \
    --compare "grid_sample: model.backbone.sampler=grid_sample" "dcn: model.backbone.sampler=dcn" \
    "pytorch: model.backbone.sampler=pytorch"
done
exit $status

#!/usr/bin/env bash
# The CPU speed tables of the configs READMEs (issue 16), one command:
#
#   bash tools/analysis_tools/cpu_benchmark.sh [OUT_DIR] [BATCH]   (defaults: work_dirs/cpu_benchmark 16)
#
# 2 threads, fp32, one benchmark.py --compare run per table (interleaved
# rounds, so each row is a ratio measured side by side in one process);
# inference and training for MogaNet-T, FasterViT-0 and DGMN2-T, eager vs
# channels_last vs torch.compile, and the DGMN2 sampling paths. JSON under
# OUT_DIR; about 30 minutes on 2 cores (torch.compile compiles in the warm-up).
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
OUT=${1:-work_dirs/cpu_benchmark}
B=${2:-16}
mkdir -p "$OUT"
BM="$PY tools/analysis_tools/benchmark.py"
INF="--device cpu --threads 2 --batch-size $B --warmup 2 --iters 3 --rounds 3"
TRN="--device cpu --threads 2 --batch-size $B --warmup 2 --iters 2 --rounds 3 --train"
status=0
step() { echo; echo "== $*"; "$@" || status=1; }

step $BM configs/moganet/moganet-tiny_8xb128_in1k.py $INF --json "$OUT/moganet-t_infer.json" \
  --compare "eager: eager" "channels_last: channels_last" "compile: compile"
step $BM configs/fastervit/fastervit-0_32xb128_in1k.py $INF --json "$OUT/fastervit-0_infer.json" \
  --compare "eager: eager" "channels_last: channels_last" "compile: compile" "deploy+compile: deploy compile"
step $BM configs/dgmn2/dgmn2-tiny_8xb128_in1k.py $INF --json "$OUT/dgmn2-t_infer.json" \
  --compare "grid_sample (auto): model.backbone.sampler=grid_sample" \
  "dcn: model.backbone.sampler=dcn" "pytorch: model.backbone.sampler=pytorch" \
  "fused: model.backbone.sampler=fused" \
  "grid_sample+compile: model.backbone.sampler=grid_sample compile" \
  "auto+compile (fused): compile" \
  "dcn+compile: model.backbone.sampler=dcn compile"
step $BM configs/moganet/moganet-tiny_8xb128_in1k.py $TRN --json "$OUT/moganet-t_train.json" \
  --compare "eager: eager" "compile: compile"
step $BM configs/fastervit/fastervit-0_32xb128_in1k.py $TRN --json "$OUT/fastervit-0_train.json" \
  --compare "eager: eager" "compile: compile"
step $BM configs/dgmn2/dgmn2-tiny_8xb128_in1k.py $TRN --json "$OUT/dgmn2-t_train.json" \
  --compare "grid_sample (auto): model.backbone.sampler=grid_sample" \
  "dcn: model.backbone.sampler=dcn" \
  "grid_sample+compile: model.backbone.sampler=grid_sample compile" \
  "fused+compile (auto+compile): compile"
exit $status

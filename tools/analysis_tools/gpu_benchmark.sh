#!/usr/bin/env bash
# The GPU half of the speed tables on a machine that already has the stack
# (make setup with CUDA): tests/test_cuda.py, then the tables of
# tools/analysis_tools/gpu_kit.py (TABLES: fp32 and AMP inference at batch
# 128, eager / channels_last / deploy / torch.compile for MogaNet-T,
# FasterViT-0 and every DGMN2-T path, training steps, DGMN2-S/M/L), each one
# interleaved --compare run written as JSON under OUT_DIR.
#
#   bash tools/analysis_tools/gpu_benchmark.sh [OUT_DIR]   (default: work_dirs/gpu_benchmark)
#
# On a bare lent GPU machine (no OpenMMLab packages, no network) use the kit:
#   python3 tools/analysis_tools/gpu_kit.py run --out OUT_DIR
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
OUT=${1:-work_dirs/gpu_benchmark}
status=0
"$PY" -m pytest -q tests/test_cuda.py || status=1
"$PY" tools/analysis_tools/gpu_kit.py tables --out "$OUT" --time-box "${TIME_BOX:-3600}" || status=1
exit $status

#!/usr/bin/env bash
# Distributed training: tools/dist_train.sh CONFIG GPUS [train.py args]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT (default 29500; one in use
# stops the launch with a free one to set). Without a GPU each process
# trains on the CPU over gloo, so `tools/dist_train.sh CONFIG 2` works anywhere.
if [ $# -lt 2 ]; then
  echo "usage: $0 CONFIG GPUS [train.py args...]" >&2; exit 2
fi
exec bash "$(dirname "$0")/dist_launch.sh" "$(dirname "$0")/train.py" "$2" "$1" "${@:3}"

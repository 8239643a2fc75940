#!/usr/bin/env bash
# Distributed testing: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT (default 29500; one in use
# stops the launch with a free one to set).
if [ $# -lt 3 ]; then
  echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py args...]" >&2; exit 2
fi
exec bash "$(dirname "$0")/dist_launch.sh" "$(dirname "$0")/test.py" "$3" "$1" "$2" "${@:4}"

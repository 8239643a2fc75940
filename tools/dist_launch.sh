#!/usr/bin/env bash
# torchrun launcher shared by dist_train.sh and dist_test.sh:
#   tools/dist_launch.sh SCRIPT NPROC [SCRIPT args...]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT. The interpreter: PYTHON,
# else the project's .venv (MOGAZOO_VENV), else python (tools/python_for_tools.sh).
# On the master node (NODE_RANK 0) a PORT that is already in use stops the
# launch at once with a message naming PORT and a free port to use instead.
set -e
SCRIPT=$1
NPROC=$2
. "$(dirname "$0")/python_for_tools.sh"
ADDR="${MASTER_ADDR:-127.0.0.1}"
PORT="${PORT:-29500}"
LAUNCHER="$(dirname "$0")/dist_$(basename "$SCRIPT" .py).sh"

if [ "${NODE_RANK:-0}" = 0 ]; then
  # torchrun's rendezvous store listens on PORT on every interface of the
  # master, so the port must be free for a wildcard bind (with SO_REUSEADDR,
  # as the store binds, so that connections of an ended run do not count).
  "$PY" - "$PORT" "$ADDR" "$LAUNCHER" <<'EOF' || exit 1
import errno
import socket
import sys

port, addr, launcher = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def busy(p):
    """True if ``p`` is in use, None if that cannot be told."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(('', p))
        except OSError as exc:
            return True if exc.errno == errno.EADDRINUSE else None
    return False


if busy(port) is not True:
    sys.exit(0)  # free, or not to be told here (torchrun decides)
free = next((p for p in range(port + 1, min(port + 200, 65536))
             if busy(p) is False), None)
sys.exit(f'{launcher}: error: port {port} is in use on {addr} (the master '
         f'port of torchrun at MASTER_ADDR; another run or program holds '
         f'it): set PORT=<free one> (e.g. PORT={free or 29501} {launcher} '
         '... with the same arguments)')
EOF
fi

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
exec "$PY" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="$ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$SCRIPT" "${@:3}" --launcher pytorch

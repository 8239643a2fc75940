# Sourced by the launch scripts: PY is the interpreter they run.
# PYTHON wins; else the project's venv (MOGAZOO_VENV, default <repo>/.venv,
# what tools/setup_env.sh makes); else `python` on PATH.
_TOOLS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_VENV="${MOGAZOO_VENV:-$_TOOLS_ROOT/.venv}"
if [ -n "${PYTHON:-}" ]; then
  PY="$PYTHON"
elif [ -x "$_VENV/bin/python" ]; then
  PY="$_VENV/bin/python"
else
  PY=python
fi

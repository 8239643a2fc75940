#!/usr/bin/env bash
# One idempotent set-up for mogazoo: creates .venv in the repo root and installs the pinned
# OpenMMLab stack into it (versions pinned in requirements/mminstall.txt), building mmcv from
# source with its compiled ops once and caching the wheel outside the repo, keyed by mmcv,
# torch and Python versions.
#
#   tools/setup_env.sh            # used by `make demo` and `make test`
#
# Environment:
#   PYTHON               interpreter used to create .venv (default: python3.11, else python3)
#   MOGAZOO_VENV         venv location (default: <repo>/.venv)
#   MOGAZOO_CACHE        wheel cache root (default: ~/.cache/mogazoo/wheels)
#   MOGAZOO_WHEELHOUSE   extra folder of prebuilt wheels (e.g. ../shared/wheels); an mmcv wheel
#                        found there is used only if its compiled ops import with this torch.
#   MOGAZOO_FORCE=1      redo every step even if the stamp says nothing changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MOGAZOO_VENV:-$ROOT/.venv}"
CACHE_ROOT="${MOGAZOO_CACHE:-$HOME/.cache/mogazoo/wheels}"
# the one pin of mmcv (tools/check_env.py reads the same file)
MMCV_VERSION="$(sed -n 's/^mmcv==\([^ #;]*\).*/\1/p' "$ROOT/requirements/mminstall.txt")"
[[ -n "$MMCV_VERSION" ]] || { echo "[setup] ERROR: no mmcv==X pin in requirements/mminstall.txt" >&2; exit 1; }
T_ALL=$SECONDS

step_start() { STEP_NAME="$1"; STEP_T0=$SECONDS; echo "[setup] $STEP_NAME ..."; }
step_end() { echo "[setup] $STEP_NAME done in $((SECONDS - STEP_T0)) s"; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

if [[ -z "${PYTHON:-}" ]]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi

# ---------------------------------------------------------------- 1. venv
step_start "virtual environment ($VENV)"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV" || die "could not create a venv with $PYTHON"
fi
PY="$VENV/bin/python"
# pip, minus the "Location ... is ignored" chatter of local index mirrors
pip_q() {
  "$PY" -m pip --disable-pip-version-check "$@" 2> >(grep -v 'is ignored: it is neither' >&2)
}
PIP=(pip_q)
step_end

# ---------------------------------------------------------------- headless Chromium
# For the web demo's browser test (tests/test_web_demo.py): Debian's chromium and
# chromium-driver, installed with apt-get where this runs as root; elsewhere the test
# skips and says why. MOGAZOO_NO_APT=1 skips this step.
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  :
elif [[ "${MOGAZOO_NO_APT:-0}" != 1 && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  step_start "headless Chromium (apt-get install chromium chromium-driver)"
  if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
       chromium chromium-driver; } >"$VENV/.apt.log" 2>&1; then
    step_end
  else
    echo "[setup] warning: chromium not installed (see $VENV/.apt.log): the browser test skips"
  fi
else
  echo "[setup] note: no /usr/bin/chromium + /usr/bin/chromedriver and no root apt-get:" \
    "the web demo's browser test skips (apt-get install chromium chromium-driver)"
fi

# A stamp of every input that decides what gets installed: a second run with nothing
# changed only verifies the imports and returns in seconds.
stamp_inputs() {
  cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/tools/setup_env.sh"
  "$PY" -c 'import sys; print(sys.version)'
}
STAMP="$VENV/.mogazoo-setup-stamp"
ORIGIN="$VENV/.mmcv-origin"  # where the installed mmcv wheel came from
say_mmcv_origin() {  # one line: the mmcv in the venv and its origin
  local origin
  origin="$(cat "$ORIGIN" 2>/dev/null || echo 'installed before mogazoo recorded origins')"
  echo "[setup]   mmcv: $origin"
  if [[ -n "${MOGAZOO_WHEELHOUSE:-}" ]]; then
    echo "[setup]   MOGAZOO_WHEELHOUSE=$MOGAZOO_WHEELHOUSE not used: mmcv with working ops is already installed"
  fi
}
want_stamp="$(stamp_inputs | sha256sum | cut -d' ' -f1)"
if [[ "${MOGAZOO_FORCE:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]]; then
  step_start "verify installed stack (stamp matches)"
  if "$PY" "$ROOT/tools/check_env.py" --quiet; then
    say_mmcv_origin
    step_end
    echo "[setup] ready in $((SECONDS - T_ALL)) s (python: $PY)"
    exit 0
  fi
  echo "[setup] installed stack is broken; reinstalling"
fi

# ---------------------------------------------------------------- 2. build tools + torch
step_start "build tools (setuptools>=77,<81, wheel, ninja)"
"${PIP[@]}" install -q --upgrade pip >/dev/null
"${PIP[@]}" install -q -r "$ROOT/requirements/build.txt"
step_end

step_start "torch, torchvision, numpy, mmengine and runtime requirements"
# mmengine comes first: importing mmcv (and so checking its ops) needs it.
"${PIP[@]}" install -q -r "$ROOT/requirements/runtime.txt" \
  "$(grep -E '^mmengine==' "$ROOT/requirements/mminstall.txt")"
step_end

TORCH_VERSION="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')"
PY_TAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
WITH_CUDA="$("$PY" -c 'import torch, shutil; print(int(torch.cuda.is_available() and shutil.which("nvcc") is not None))')"
FLAVOUR=$([[ "$WITH_CUDA" == 1 ]] && echo cuda || echo cpu)
CACHE_DIR="$CACHE_ROOT/mmcv-$MMCV_VERSION/torch-$TORCH_VERSION/$PY_TAG-$FLAVOUR"

mmcv_ops_ok() {  # prints why when it fails
  MMCV_VERSION="$MMCV_VERSION" "$PY" - <<'EOF' >/dev/null 2>"$VENV/.mmcv-check.log" || { tail -n 1 "$VENV/.mmcv-check.log" | sed 's/^/[setup]   mmcv check: /'; return 1; }
import os, mmcv, torch
from mmcv.ops import modulated_deform_conv2d, nms  # imports mmcv._ext
assert mmcv.__version__ == os.environ['MMCV_VERSION'], mmcv.__version__
x = torch.rand(1, 2, 5, 5)
off = torch.zeros(1, 18, 5, 5)
mask = torch.ones(1, 9, 5, 5)
w = torch.rand(3, 2, 3, 3)
modulated_deform_conv2d(x, off, mask, w, None, 1, 1, 1, 1, 1)
EOF
}

install_mmcv_wheel() {  # $1 = wheel path; returns 0 if its ops work with this torch
  "${PIP[@]}" install -q --no-deps --force-reinstall "$1" && mmcv_ops_ok
}

# ---------------------------------------------------------------- 3. mmcv with compiled ops
step_start "mmcv $MMCV_VERSION with compiled ops (cache: $CACHE_DIR)"
if "$PY" -c 'import mmcv' 2>/dev/null && mmcv_ops_ok; then
  echo "[setup]   already installed and its ops run"
  say_mmcv_origin
else
  done_mmcv=0
  shopt -s nullglob
  for whl in "$CACHE_DIR"/mmcv-$MMCV_VERSION-*.whl; do
    echo "[setup]   from cache: $whl"
    if install_mmcv_wheel "$whl"; then
      echo "the cached wheel $whl" > "$ORIGIN"
      done_mmcv=1
      if [[ -n "${MOGAZOO_WHEELHOUSE:-}" ]]; then
        echo "[setup]   MOGAZOO_WHEELHOUSE=$MOGAZOO_WHEELHOUSE not used: the cache already holds a working wheel"
      fi
      break
    fi
    echo "[setup]   cached wheel does not work with torch $TORCH_VERSION; ignoring it"
  done
  if [[ $done_mmcv == 0 && -n "${MOGAZOO_WHEELHOUSE:-}" ]]; then
    wheels=("$MOGAZOO_WHEELHOUSE"/mmcv-$MMCV_VERSION-$PY_TAG-*.whl)
    if [[ ${#wheels[@]} == 0 ]]; then
      echo "[setup]   MOGAZOO_WHEELHOUSE=$MOGAZOO_WHEELHOUSE not used: it holds no mmcv-$MMCV_VERSION-$PY_TAG-*.whl"
    fi
    for whl in "${wheels[@]}"; do
      echo "[setup]   from wheelhouse: $whl"
      if install_mmcv_wheel "$whl"; then
        mkdir -p "$CACHE_DIR" && cp "$whl" "$CACHE_DIR/"
        echo "the wheelhouse wheel $whl (MOGAZOO_WHEELHOUSE)" > "$ORIGIN"
        done_mmcv=1; break
      fi
      echo "[setup]   wheelhouse wheel does not work with torch $TORCH_VERSION; ignoring it"
    done
  fi
  if [[ $done_mmcv == 0 ]]; then
    echo "[setup]   building mmcv $MMCV_VERSION from source (about 20 min on 2 cores)"
    BUILD="$(mktemp -d)"
    trap 'rm -rf "$BUILD"' EXIT
    # --no-build-isolation: mmcv's setup.py imports torch and pkg_resources.
    "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation \
      -d "$BUILD" "mmcv==$MMCV_VERSION"
    tar -xzf "$BUILD"/mmcv-$MMCV_VERSION.tar.gz -C "$BUILD"
    SRC="$BUILD/mmcv-$MMCV_VERSION"
    # torch >= 2.10 headers need C++20; mmcv 2.1.0 hard-codes -std=c++17 (mmcv issue #3341).
    if "$PY" -c 'import torch,sys; v=tuple(map(int,torch.__version__.split("+")[0].split(".")[:2])); sys.exit(0 if v>=(2,10) else 1)'; then
      sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
    fi
    # the compiler's and setuptools' chatter (deprecation boxes of mmcv's setup.py) goes to a
    # log, shown only if the build fails
    BUILD_LOG="$VENV/.mmcv-build.log"
    echo "[setup]   compiler output: $BUILD_LOG"
    (cd "$SRC" && MMCV_WITH_OPS=1 FORCE_CUDA="$WITH_CUDA" MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$BUILD/dist" .) \
      > "$BUILD_LOG" 2>&1 || { tail -n 40 "$BUILD_LOG" >&2; die "mmcv $MMCV_VERSION did not build (log: $BUILD_LOG)"; }
    mkdir -p "$CACHE_DIR"
    cp "$BUILD"/dist/mmcv-$MMCV_VERSION-*.whl "$CACHE_DIR/"
    install_mmcv_wheel "$CACHE_DIR"/mmcv-$MMCV_VERSION-*.whl || die "freshly built mmcv ops do not run"
    echo "built here from the PyPI sdist (kept in $CACHE_DIR)" > "$ORIGIN"
  fi
fi
step_end

# ---------------------------------------------------------------- 4. OpenMMLab + mogazoo
step_start "mmengine, mmpretrain, mmdet, mmsegmentation, tests and mogazoo (editable)"
# mmcv is already installed from our wheel; the constraint stops pip from replacing it.
CONSTRAINT="$(mktemp)"
echo "mmcv==$MMCV_VERSION" > "$CONSTRAINT"
"${PIP[@]}" install -q -c "$CONSTRAINT" -r "$ROOT/requirements/mminstall.txt" \
  -r "$ROOT/requirements/optional.txt" -r "$ROOT/requirements/tests.txt"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"
# openmim is optional (tests that need it skip without it): its pins would downgrade the
# stack, so it goes in with --no-deps and requirements/mim.txt lists what it imports.
grep -v '^openmim' "$ROOT/requirements/mim.txt" > "$CONSTRAINT.mim"
"${PIP[@]}" install -q -c "$CONSTRAINT" -r "$CONSTRAINT.mim" \
  && "${PIP[@]}" install -q --no-deps "$(grep '^openmim' "$ROOT/requirements/mim.txt")" \
  || echo "[setup] warning: openmim not installed (optional: mim search/train mogazoo)"
rm -f "$CONSTRAINT" "$CONSTRAINT.mim"
step_end

step_start "verify installed stack"
"$PY" "$ROOT/tools/check_env.py"
step_end
echo "$want_stamp" > "$STAMP"
echo "[setup] ready in $((SECONDS - T_ALL)) s (python: $PY)"

# The README's commands. Each runs the idempotent set-up first
# (creates .venv and installs the pinned stack; seconds when already done).
#   make demo      train + test MogaNet-XT on the bundled digits
#   make test      the quick suite: every test not marked slow
#   make test-all  everything, what CI (.ci/run) runs
#   make lint      flake8, isort, yapf and import-linter (setup.cfg)
PY := .venv/bin/python

.PHONY: setup demo test test-all lint
setup:
	bash tools/setup_env.sh

demo: setup
	$(PY) tools/run_demo.py

test: setup
	$(PY) -m pytest tests -m "not slow"

test-all: setup
	$(PY) -m pytest tests

LINT_PATHS := mogazoo tools tests configs demo setup.py
lint: setup
	$(PY) -m flake8 .
	$(PY) -m isort --check-only --diff $(LINT_PATHS)
	$(PY) -m yapf --recursive --diff $(LINT_PATHS)
	.venv/bin/lint-imports

# The README's two commands. Each runs the idempotent set-up first
# (creates .venv and installs the pinned stack; seconds when already done).
PY := .venv/bin/python

.PHONY: setup demo test
setup:
	bash tools/setup_env.sh

demo: setup
	$(PY) tools/run_demo.py

test: setup
	$(PY) -m pytest tests

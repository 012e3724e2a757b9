# The two set-up commands of the README: `make demo` and `make test`.
# Each creates (or reuses) the virtual environment in $(VENV) and installs
# the package with what it needs first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pytest workers: CI has 2 cores.
WORKERS ?= 2

.PHONY: demo test lint bench parity clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m keras_optim_zoo compare --seeds 0 1 2

# The tune tests use a real PostgreSQL server (127.0.0.1:5432 on CI):
# tools/test_database.py creates their database, or stops with why not.
# The suite runs as three pytest sessions, each with fresh workers:
# TensorFlow and Keras keep about 0.4 MB per optimizer created for the
# life of a process (measured, Keras's own Adam included); in one session
# of the whole suite a worker grew past 8 GB and died, and with two
# sessions a worker of the second crashed (a segmentation fault inside
# TensorFlow's model.fit, late in the session, not reproduced alone).
# All run even if one fails; `make test` fails if any does. Work stealing
# (`--dist worksteal`) keeps both workers busy to the end of each session.
# Each session's slowest test first: xdist hands each worker a contiguous
# block of the list, so a long test at the end of a block keeps the other
# worker idle at the end (the save/resume test: 107 s, measured).
FIRST := tests/test_save_resume.py tests/test_optimizer_contract.py \
	tests/test_reference_trajectories.py
SECOND := tests/test_base_features.py tests/test_keras_features.py \
	tests/test_keras_upstream.py
# Then the suite every backend must pass runs on JAX and on torch too
# (KERAS_BACKEND): the contract suite (Keras's built-ins, config, compile
# by string, bad input), the stored reference trajectories (optimizers
# and wrappers), save -> load in a new process -> resume, the callbacks
# inside fit, and the backend checks. The rest (compare, tune, examples,
# TFDS data) is TensorFlow's: it reads tf.data pipelines.
BACKEND_SUITE := tests/test_save_resume.py tests/test_optimizer_contract.py \
	tests/test_reference_trajectories.py \
	tests/test_callbacks.py tests/test_backends.py \
	tests/test_wrappers.py::test_matches_stored_reference
PYTEST := $(PY) -m pytest -n $(WORKERS) --dist worksteal --timeout 1200 --durations=15
test: $(STAMP) lint
	$(PY) -m tools.test_database
	status=0; \
	$(PYTEST) $(FIRST) || status=1; \
	$(PYTEST) $(SECOND) || status=1; \
	$(PYTEST) $(addprefix --ignore=,$(FIRST) $(SECOND)) || status=1; \
	for backend in jax torch; do \
		KERAS_BACKEND=$$backend $(PYTEST) $(BACKEND_SUITE) || status=1; \
	done; \
	exit $$status

lint: $(STAMP)
	$(VENV)/bin/ruff check keras_optim_zoo tests benchmarks tools examples

bench: $(STAMP)
	$(PY) benchmarks/step_time.py

parity: $(STAMP)
	$(PY) -m tests.reference.keras_parity

clean:
	rm -rf $(VENV) runs .pytest_cache

# The two commands of the README. Both create the virtual environment when it is missing.
PYTHON ?= python3
VENV := .venv
CORES ?= all

.PHONY: run test lint setup

# Every package at the version and hashes of requirements.lock (generated from pyproject.toml's pins,
# regenerate it with the command in its header), then iadbench itself without resolving anything again.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

# Main job: the embedded default, end to end (results/benchmark.parquet, results/report/).
run: setup
	$(VENV)/bin/snakemake --cores $(CORES)

# Every test, the slow end-to-end Snakemake runs included; also lints.
# pytest's exit code 5 (no test collected) is a failure, never a success. Two workers (pytest-xdist); the
# tests sharing an end-to-end run form one group on one worker (tests/conftest.py); --durations shows the
# slowest tests.
test: setup lint
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup --durations=20; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks workflow/scripts
	$(VENV)/bin/snakemake --lint --cores 1

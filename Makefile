# Every target creates/uses .venv by itself: a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tradai-installed
PYTEST_WORKERS ?= 2

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tradai demo

lint: $(STAMP)
	$(BIN)/ruff check src tests user_data benchmarks
	$(BIN)/ruff format --check src tests user_data benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run_bench.py

clean:
	rm -rf demo_output .pytest_cache .mypy_cache .ruff_cache

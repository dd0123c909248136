# Every target creates/uses .venv by itself: a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tradai-installed
PYTEST_WORKERS ?= 2

.PHONY: demo test lint bench clean browser

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
	$(BIN)/lint-imports --no-cache

# The report test drives Debian's Chromium; install it when missing and we may (root + apt).
# Without it that test skips and says why.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the browser test"; \
		(apt-get install -y -q chromium >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) || \
		echo "could not install chromium: the browser test will skip"; \
	fi

test: lint browser
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run_bench.py

clean:
	rm -rf demo_output .pytest_cache .mypy_cache .ruff_cache

# One venv in .venv; torch is pinned to the CPU build that installs from local disk in seconds
# (an unpinned torch pulls a multi-GB CUDA build).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
OUT ?= out/demo

.PHONY: install demo test test-fast bench lint clean

install: $(BIN)/avsb-robust

$(BIN)/avsb-robust: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[torch,test,authors,plot]"
	touch $@

# The main job on the embedded synthetic dataset (no download): see README.
demo: install
	OUT=$(OUT) BIN=$(BIN) bash scripts/demo.sh

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

bench: install
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: install
	$(BIN)/pip install -q ruff
	$(BIN)/ruff check avsbench_robust tests benchmarks

clean:
	rm -rf $(OUT) .pytest_cache

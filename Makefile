# One venv for everything: `make test` and `make demo` create it from the project's own files.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo bench bench-quick bench-agents bench-instructions clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

test: lint
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

bench-agents: $(STAMP)
	$(BIN)/python benchmarks/agent_runs.py

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run.py --quick

bench-instructions: $(STAMP)
	$(BIN)/python benchmarks/instructions.py

clean:
	rm -rf $(VENV) benchmarks/.venvs .pytest_cache .ruff_cache .hypothesis

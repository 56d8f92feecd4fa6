# One venv for everything: `make test` and `make demo` create it from the project's own files.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint compat demo bench bench-quick bench-agents bench-instructions bench-startup clean

# `make demo` shows pip at work (INSTALL_QUIET empty for it and, through make's target-specific variables, for the
# install it triggers); the other targets stay quiet.
INSTALL_QUIET ?= --quiet

$(STAMP): pyproject.toml constraints.txt
	@echo ">> creating the virtual environment $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	@echo ">> upgrading pip"
	$(BIN)/python -m pip install $(INSTALL_QUIET) --upgrade pip
	@echo ">> installing otel-genai with its test and example dependencies (versions from constraints.txt), about a minute"
	$(BIN)/python -m pip install $(INSTALL_QUIET) -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest
	$(MAKE) compat

# Floor (Python 3.10, every lower bound pyproject.toml declares) and newest (Python 3.13, newest releases):
# fresh venvs each, the smoke suite tests/compat/smoke.py inside them. Venvs and wheel cache: .cache/venvs.
compat: $(STAMP)
	$(BIN)/python tests/compat/run.py

demo: INSTALL_QUIET :=
demo: $(STAMP)
	@echo ">> running examples/demo.py: an agent streams an OpenAI answer (offline fake API unless OPENAI_API_KEY is set)"
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

bench-agents: $(STAMP)
	$(BIN)/python benchmarks/agent_runs.py

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run.py --quick

bench-instructions: $(STAMP)
	$(BIN)/python benchmarks/instructions.py

bench-startup: $(STAMP)
	$(BIN)/python benchmarks/startup.py

clean:
	rm -rf $(VENV) benchmarks/.venvs .cache/venvs .pytest_cache .ruff_cache .hypothesis

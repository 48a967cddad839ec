# VillageBook: `make run` opens the app, `make test` runs the whole suite.
# Both create .venv with python3 -m venv and install the project into it first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOME_DIR ?=

.PHONY: run test bench lint messages clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/villagebook $(if $(HOME_DIR),--home $(HOME_DIR))

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check villagebook tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

messages: $(STAMP)
	$(BIN)/python scripts/extract_messages.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/membound run experiments/quickstart.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/membound bench memory
	$(BIN)/membound bench machine
	$(BIN)/membound bench spgemm
	$(BIN)/membound bench llm

lint: $(STAMP)
	$(BIN)/ruff check sim workloads tests benchmarks

clean:
	rm -rf $(VENV) reports/*/ .pytest_cache

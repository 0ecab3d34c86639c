PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

# The last step compiles the numba kernels that `membound demo` and `membound replay` use
# (about a minute, once; they are cached on disk), so that a first run is as fast as the next.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/python -m sim.kernel_cache
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/membound demo

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

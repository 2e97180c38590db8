# voicescount — two commands on a fresh machine: `make report` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup report test lint bench examples clean help

help:
	@echo "make report  - set up .venv from the lock, run every notebook on the example data, build _build/html"
	@echo "make test    - set up, then run the test suite"
	@echo "make lint    - ruff"
	@echo "make bench   - benchmarks (prints medians and peak memory)"
	@echo "make examples - regenerate the synthetic example data under data/"

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

report: setup
	$(BIN)/voicescount all

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: setup
	$(BIN)/python benchmarks/run_all.py

examples: setup
	$(BIN)/python -m voicescount.examples

clean:
	rm -rf _build build report exports

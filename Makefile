# voicescount — two commands on a fresh machine: `make report` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup report chromium test lint bench examples clean help

help:
	@echo "make report  - set up .venv from the lock, run every notebook on the example data, build _build/html,"
	@echo "               then export every cycle (Open SDG, SDMX, downloads, VNR chapter, PDF) into _build/html/downloads"
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

report: setup chromium
	$(BIN)/voicescount all
	$(BIN)/voicescount export all --out _build/html/downloads

# The PDF of each report is printed by headless Chromium (Debian package `chromium`).
chromium:
	@command -v chromium >/dev/null 2>&1 || test -n "$$VOICESCOUNT_CHROMIUM" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update && apt-get install -y chromium; \
	  else \
	    echo "make report prints the PDF with headless Chromium, which is not installed." >&2; \
	    echo "Install it as root: sudo apt-get update && sudo apt-get install -y chromium" >&2; \
	    echo "(or set VOICESCOUNT_CHROMIUM to a Chromium binary), then run make report again." >&2; \
	    exit 1; \
	  fi; }

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

# voicescount — two commands on a fresh machine: `make report` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup system-deps report test lint bench examples slides-assets clean help

help:
	@echo "make report  - set up .venv from the lock, run every notebook on the example data, build _build/html,"
	@echo "               then export every cycle (Open SDG, SDMX, downloads, VNR chapter, PDF) into _build/html/downloads"
	@echo "               and put the training kit's zip beside the book's training pages"
	@echo "make test    - set up, then run the test suite"
	@echo "make lint    - ruff, then the import contracts (lint-imports, pyproject [tool.importlinter])"
	@echo "make bench   - benchmarks (prints medians and peak memory)"
	@echo "make examples - regenerate the synthetic example data under data/ (and the NP kit, handbook/examples/new-country)"
	@echo "make slides-assets - fetch reveal.js (npm) so \`voicescount training\` slides work offline"

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

report: setup system-deps
	$(BIN)/voicescount all
	$(BIN)/voicescount export all --out _build/html/downloads
	$(BIN)/voicescount training --out build/training-kit --into-book

# Debian packages the report and the tests need: headless Chromium prints the PDFs and runs the
# browser tests; the Lohit font gives Bengali glyphs in charts (DejaVu Sans covers Vietnamese).
SYSTEM_PKGS := chromium fonts-lohit-beng-bengali

system-deps:
	@missing=""; for p in $(SYSTEM_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ] && [ -z "$$VOICESCOUNT_CHROMIUM" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null; \
	  else \
	    echo "voicescount needs the Debian packages:$$missing" >&2; \
	    echo "Install them as root: sudo apt-get update && sudo apt-get install -y$$missing" >&2; \
	    echo "(or set VOICESCOUNT_CHROMIUM to a Chromium binary), then run make again." >&2; \
	    exit 1; \
	  fi; \
	fi

# The offline-slides browser test needs the reveal.js files from npm; without npm it skips.
test: setup system-deps
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory slides-assets || \
	  echo "could not fetch the slides assets: the offline-slides test will skip" >&2; \
	else echo "npm not found: the offline-slides test will skip (apt-get install -y npm)" >&2; fi
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: setup
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/lint-imports

# One Markdown table; e.g. `make bench BENCH_ARGS="--repeat 5"` (see benchmarks/run_all.py --help).
BENCH_ARGS ?=
bench: setup
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

examples: setup
	$(BIN)/python -m tools.examples
	$(BIN)/python -m tools.examples.new_country

# Offline training slides: the reveal.js, RequireJS and jQuery files that nbconvert's slides
# otherwise load from CDNs (the versions its reveal template is made for), from the npm registry
# into build/slides-assets (not committed). `voicescount training` copies them into the kit.
SLIDES_ASSETS := build/slides-assets
REVEAL_JS_VERSION := 4.0.2
REQUIRE_JS_VERSION := 2.1.10
JQUERY_VERSION := 2.2.4

slides-assets: $(SLIDES_ASSETS)/.complete

$(SLIDES_ASSETS)/.complete: Makefile
	@command -v npm >/dev/null || { echo "make slides-assets needs npm (apt-get install -y npm)" >&2; exit 1; }
	rm -rf $(SLIDES_ASSETS) && mkdir -p $(SLIDES_ASSETS)/npm $(SLIDES_ASSETS)/reveal.js
	cd $(SLIDES_ASSETS)/npm && npm pack --silent reveal.js@$(REVEAL_JS_VERSION) \
	  requirejs@$(REQUIRE_JS_VERSION) jquery@$(JQUERY_VERSION) >/dev/null
	tar -xzf $(SLIDES_ASSETS)/npm/reveal.js-$(REVEAL_JS_VERSION).tgz -C $(SLIDES_ASSETS)/reveal.js \
	  --strip-components=1 package/LICENSE package/dist/reveal.js package/dist/reveal.css \
	  package/dist/theme package/plugin/notes
	tar -xzf $(SLIDES_ASSETS)/npm/requirejs-$(REQUIRE_JS_VERSION).tgz -O package/require.js \
	  > $(SLIDES_ASSETS)/require.js
	tar -xzf $(SLIDES_ASSETS)/npm/jquery-$(JQUERY_VERSION).tgz -O package/dist/jquery.min.js \
	  > $(SLIDES_ASSETS)/jquery.min.js
	rm -rf $(SLIDES_ASSETS)/npm
	touch $@

clean:
	rm -rf _build build report exports

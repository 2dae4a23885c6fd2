# The two commands of the README: `make demo` and `make test`. Each sets up what it needs on a
# fresh machine: Debian packages (when root), a virtualenv with the Python packages, and the
# front-end libraries from the npm registry (served by the hub itself: no CDN on a hospital LAN).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
VENDOR := hub/web/static/vendor
ASSETS := $(VENDOR)/.stamp

.PHONY: setup system-deps demo test lint bench clean

setup: system-deps $(STAMP) $(ASSETS)

system-deps:
	@./scripts/system-deps.sh

$(STAMP): setup.py
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found (Python 3.11+ is needed)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e ".[dev,postgres,tts,redis]"
	@touch $@

$(ASSETS): package.json package-lock.json
	@command -v npm >/dev/null || { echo "make: npm not found: install Node.js and npm (Debian: apt-get install npm)" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/socket.io-client/dist/socket.io.min.js $(VENDOR)/
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.min.js
	@touch $@

demo: setup
	$(BIN)/clinicq demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .ruff_cache .hypothesis

# Every target sets itself up on a fresh machine: a .venv from the requirements files, Azurite from npm.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
PY_STAMP    := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.spark-installed
NODE_STAMP  := node_modules/.installed
UI_BUILT    := triggers/ui_assets/index.html

.PHONY: setup chromium demo test lint types unit bench clean

setup: $(PY_STAMP) $(NODE_STAMP) $(UI_BUILT)

$(PY_STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q -e . --no-deps
	touch $@

$(SPARK_STAMP): $(PY_STAMP) requirements-spark.txt
	$(PY) -m pip install -q -r requirements-spark.txt
	$(PY) -m jobclusters.localshim.class_archive
	touch $@

$(NODE_STAMP): package.json
	@command -v npm >/dev/null || { echo "npm is required for Azurite: install Node.js 18+ (e.g. apt-get install nodejs npm)"; exit 1; }
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# The run monitor's page (ui/ sources, npm packages pinned in package.json) goes into triggers/, which ships.
$(UI_BUILT): $(NODE_STAMP) $(wildcard ui/src/*.js) ui/index.html ui/style.css ui/build.mjs
	npm run --silent build

# The browser tests and bench/ui.py drive Debian's Chromium with Playwright (CI runs as root).
chromium:
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }

## make demo: set everything up and run the main job on the embedded default.
demo: setup $(SPARK_STAMP)
	$(PY) -m jobclusters demo

## make test: set everything up, then lint, type-check and run every test.
test: setup chromium $(SPARK_STAMP) lint types
	node --test ui/test/
	$(PY) -m pytest

lint: $(PY_STAMP)
	$(BIN)/ruff check .

types: $(PY_STAMP)
	$(BIN)/mypy

unit: $(PY_STAMP) $(NODE_STAMP)
	node --test ui/test/
	$(PY) -m pytest tests/unit

bench: setup chromium $(SPARK_STAMP)
	@for b in bench/[!_]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) node_modules .state .mypy_cache .ruff_cache .pytest_cache

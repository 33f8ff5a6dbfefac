VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STATIC := src/kefu/static/index.html

.PHONY: install demo test lint typecheck pytest web services browser clean

install: $(VENV)/.installed $(STATIC)

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# The web front end is built into the package's static folder (a clean clone has neither).
$(STATIC): $(shell find web/src web/index.html web/package.json web/vite.config.ts -type f 2>/dev/null)
	@if [ -f web/package.json ]; then \
	  cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build; \
	else mkdir -p src/kefu/static && echo '<!doctype html><title>kefu</title>' > $(STATIC); fi

web: $(STATIC)

PORT ?= 8000
DATA ?= .kefu/demo

demo: install
	$(BIN)/kefu demo --port $(PORT) --data-dir $(DATA)

services:
	./scripts/ensure-services.sh

browser:
	./scripts/ensure-browser.sh

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# The browser tests run in their own pytest process: Playwright's sync API keeps an event
# loop running for the whole session, which the asyncio tests must not share. The two processes
# run side by side (the browser tests mostly wait on the browser and the server they start);
# each one's output is printed when both are done, and either failing fails the target.
PYTEST := KEFU_REQUIRE_SERVICES=1 $(BIN)/pytest -q -p no:cacheprovider --durations=15
LOGS := test-artifacts/logs

pytest: install services browser
	@mkdir -p $(LOGS)
	@( $(PYTEST) tests/e2e > $(LOGS)/browser.log 2>&1; echo $$? > $(LOGS)/browser.rc ) & \
	$(PYTEST) --ignore=tests/e2e > $(LOGS)/core.log 2>&1; echo $$? > $(LOGS)/core.rc; wait; \
	echo "== tests (non-browser)"; cat $(LOGS)/core.log; \
	echo "== browser tests"; cat $(LOGS)/browser.log; \
	test "$$(cat $(LOGS)/core.rc)" = 0 && test "$$(cat $(LOGS)/browser.rc)" = 0

test: lint typecheck pytest
	@echo "screenshots: $(CURDIR)/test-artifacts/screenshots"

clean:
	rm -rf $(VENV) src/kefu/static/assets src/kefu/static/index.html web/node_modules

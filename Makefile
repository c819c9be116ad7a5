# Two commands on a fresh machine: `make run` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: install run test check test-slow bench system-packages clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# The web pages' font and scripts, from the npm registry (package-lock.json); the gateway serves them itself.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages: pdftoppm/pdftotext (receipt rendering tests), zbarimg (reading printed QR codes back in the tests),
# the DejaVu font (Persian and Latin glyphs) and chromium (the pages' tests drive it with playwright).
system-packages:
	@missing=""; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	command -v zbarimg >/dev/null 2>&1 || missing="$$missing zbar-tools"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "please install:$$missing (sudo apt-get install$$missing)"; exit 1; fi; \
	fi

install: $(VENV)/.installed node_modules/.installed system-packages

run: install
	$(BIN)/pishkhan dev run

# Lint, format, types and the dependency rules of docs/architecture.md, before any test runs.
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: check
	$(BIN)/pishkhan dev exec -- $(BIN)/pytest $(PYTEST_ARGS)

test-slow: install
	$(BIN)/pishkhan dev exec -- $(BIN)/pytest -m slow $(PYTEST_ARGS)

bench: install
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m loadtests.bench

clean:
	rm -rf $(VENV) node_modules var/test

# The two set-up commands of README.md: `make up` runs the system, `make test` runs the tests.
# Both create .venv and install orderchat into it (a real, non-editable install) on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SOURCES := $(shell find src schemas services integrations bench web hatch_build.py -type f -not -path '*/__pycache__/*' -not -path '*/node_modules/*' 2>/dev/null)

.PHONY: up test bench clean browser-deps

$(BIN)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q ".[test]"
	touch $@

$(BIN)/.installed: $(BIN)/.deps $(SOURCES)
	$(BIN)/pip install -q --no-deps --force-reinstall .
	touch $@

up: $(BIN)/.installed
	$(BIN)/orderchat up

# The browser tests drive Debian's Chromium (Playwright never downloads a browser here); a CJK
# font lets it render the Chinese interface. Installed once, skipped when present.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list ':lang=zh' 2>/dev/null | grep -q .; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-wqy-microhei; \
	fi

test: $(BIN)/.installed browser-deps
	$(BIN)/pytest

bench: $(BIN)/.installed
	$(BIN)/orderchat bench

clean:
	rm -rf $(VENV) build dist

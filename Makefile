# Two commands for a new machine: `make run` and `make test`. Both build on `make setup`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test worker bench browser clean

setup: $(STAMP)

$(STAMP): requirements.txt build-constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip==26.3
	$(BIN)/python -m pip install -q --build-constraint build-constraints.txt -r requirements.txt
	touch $(STAMP)

# Debian's Chromium drives the browser tests; Playwright cannot download its own here.
browser:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

test: setup browser
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) staticfiles

# Two commands do all the set-up on a fresh machine:
#   make demo   install into .venv, start the embedded broker and a worker, replay a sample
#   make test   install, lint, type-check, run unit and integration tests and the chaos tier
#               (what CI runs)

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# `make chaos CHAOS=kill_rotation` runs the scenarios whose test names match (pytest -k);
# CHAOS_SEED=N replays another seed (history, fault choices and timing).
CHAOS ?=

.PHONY: install demo test lint unit integration chaos bench schemas tools clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/followup demo

# Test tools from Debian's packages: promtool and prometheus (alert-rule tests, a real
# Prometheus scraping a worker), chromium (the HTML report renders in a real browser) and
# stunnel4 (TLS in front of the embedded broker, which cannot do TLS itself).
# Installed when missing and we may (CI runs as root); otherwise we say what to install.
TOOL_PACKAGES := promtool:prometheus prometheus:prometheus chromium:chromium stunnel4:stunnel4
tools:
	@missing=""; for pair in $(TOOL_PACKAGES); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing test tools; install Debian/Ubuntu packages:$$missing" >&2; exit 1; \
	  fi; \
	fi

# The dependency audit needs a vulnerability service: without one it says it was skipped.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python .ci/audit_dependencies.py $(BIN)/pip-audit

unit: $(STAMP) tools
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

integration: $(STAMP) tools
	$(BIN)/pytest -m "integration and not chaos" $(PYTEST_ARGS)

# Fault injection on the embedded broker, each scenario ending with the delivery verifier
# (tests/chaos, README "Reliability"). About ten minutes on two cores; -s shows progress.
chaos: $(STAMP)
	$(BIN)/pytest -m chaos -s $(if $(CHAOS),-k "$(CHAOS)") $(PYTEST_ARGS)

test: lint $(STAMP) tools
	$(BIN)/pytest -m "not chaos" $(PYTEST_ARGS)
	$(MAKE) chaos

bench: $(STAMP)
	$(BIN)/python bench/pipeline.py

schemas: $(STAMP)
	$(BIN)/followup schemas

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .followup-state

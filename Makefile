# The two commands: `make serve` and `make test`. Both create .venv on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/hangar.yaml
HOST ?= 127.0.0.1
PORT ?= 8000
DB ?= sqlite+aiosqlite:///./data/hangar.db
PYTEST_ARGS ?=

.PHONY: serve test lint bench venv clean lock

venv: $(VENV)/.installed

# Installs come from the hashed lock files, so every machine gets the versions that were tested:
# requirements.lock (runtime: `make serve`) and requirements-dev.lock (runtime + test tools).
# `make lock` regenerates both after a change to pyproject.toml.
$(VENV)/.runtime: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed: $(VENV)/.runtime requirements-dev.lock tests/fixtures/entrypoint_pkg/pyproject.toml
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	# Entry points the discovery tests scan (a real installed distribution).
	$(BIN)/pip install --quiet --no-deps -e tests/fixtures/entrypoint_pkg
	touch $@

lock:
	$(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install --quiet uv
	.lock-venv/bin/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 --no-annotate \
		--no-header -o requirements.lock
	.lock-venv/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
		--no-annotate --no-header -o requirements-dev.lock
	rm -rf .lock-venv

serve: $(VENV)/.runtime
	$(BIN)/hangar migrate --db '$(DB)'
	$(BIN)/hangar serve --config $(CONFIG) --host $(HOST) --port $(PORT) --db '$(DB)'

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check hangar tests bench
	$(BIN)/mypy hangar

bench: venv
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm

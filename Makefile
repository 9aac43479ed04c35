# The two commands: `make serve` and `make test`. Both create .venv on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/hangar.yaml
# HOST and PORT are empty by default: the config file's server.host/port then apply (127.0.0.1:8000
# when the file says nothing). Set them to override: make serve PORT=9000 DB=... CONFIG=...
HOST ?=
PORT ?=
DB ?= sqlite+aiosqlite:///./data/hangar.db
PYTEST_ARGS ?=

# Official third-party MCP servers the pass-through tests run as providers (skipped without npm).
NPM_SERVERS_DIR ?= .npm-servers
NPM_SERVERS := @modelcontextprotocol/server-everything@2026.8.31 @modelcontextprotocol/server-filesystem@2026.8.31

.PHONY: serve test lint bench venv runtime clean lock npm-servers

# `make serve` needs the runtime dependencies only; dev tools and the test fixture distribution
# are installed by `make test` (and `make lint`, `make bench`).
runtime: $(VENV)/.runtime
venv: $(VENV)/.installed

# Installs come from the hashed lock files, so every machine gets the versions that were tested:
# requirements.lock (runtime: `make serve`) and requirements-dev.lock (runtime + test tools).
# `make lock` regenerates both after a change to pyproject.toml's dependencies.
$(VENV)/.runtime: pyproject.toml requirements.lock
	@echo "hangar: creating $(VENV) and installing the pinned runtime dependencies (about a minute the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar off --upgrade pip | grep -v '^Requirement already' || true
	$(BIN)/pip install --progress-bar off --require-hashes -r requirements.lock | grep -E '^(Successfully|ERROR)' || true
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python -c 'import hangar.asgi' && touch $@

$(VENV)/.installed: $(VENV)/.runtime requirements-dev.lock tests/fixtures/entrypoint_pkg/pyproject.toml
	@echo "hangar: installing the pinned development tools and the test fixture distribution"
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

serve: runtime
	@echo "hangar: applying migrations to $(DB)"
	$(BIN)/hangar migrate --db '$(DB)'
	@echo "hangar: starting with $(CONFIG)"
	$(BIN)/hangar serve --config $(CONFIG) $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT)) --db '$(DB)'

test: venv npm-servers
	$(BIN)/pytest $(PYTEST_ARGS)

npm-servers: $(NPM_SERVERS_DIR)/.installed

$(NPM_SERVERS_DIR)/.installed: Makefile
	@if command -v npm >/dev/null 2>&1; then \
		mkdir -p $(NPM_SERVERS_DIR) && \
		npm install --silent --no-audit --no-fund --prefix $(NPM_SERVERS_DIR) $(NPM_SERVERS) && touch $@; \
	else echo "npm not found: the tests with third-party MCP servers will be skipped"; fi

lint: venv
	$(BIN)/ruff check hangar tests bench
	$(BIN)/mypy hangar
	# The pure core and the store are held to --strict.
	$(BIN)/mypy --strict hangar/domain hangar/store hangar/runtime/supervisor.py

bench: venv
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm

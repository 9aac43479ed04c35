# The two commands: `make serve` and `make test`. Both create .venv on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/hangar.yaml
HOST ?= 127.0.0.1
PORT ?= 8000
DB ?= sqlite+aiosqlite:///./data/hangar.db
PYTEST_ARGS ?=

# Official third-party MCP servers the pass-through tests run as providers (skipped without npm).
NPM_SERVERS_DIR ?= .npm-servers
NPM_SERVERS := @modelcontextprotocol/server-everything@2026.8.31 @modelcontextprotocol/server-filesystem@2026.8.31

.PHONY: serve test lint bench venv clean npm-servers

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml tests/fixtures/entrypoint_pkg/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# Entry points the discovery tests scan (a real installed distribution).
	$(BIN)/pip install --quiet --no-deps -e tests/fixtures/entrypoint_pkg
	touch $@

serve: venv
	$(BIN)/hangar migrate --db '$(DB)'
	$(BIN)/hangar serve --config $(CONFIG) --host $(HOST) --port $(PORT) --db '$(DB)'

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

bench: venv
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm

# 影都算力补助平台 — `make run` serves the platform (web server and background worker), `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run setup test test-quick lint bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	HOST=$(HOST) PORT=$(PORT) BIN=$(BIN) bash scripts/run.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

test: setup
	bash scripts/system-deps.sh
	bash scripts/npm-deps.sh
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	YINGDU_ENV=test $(BIN)/yingdu check --fail-level WARNING
	YINGDU_ENV=production SECRET_KEY=ci-dummy-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG \
	  ALLOWED_HOSTS=yingdu.example.cn YINGDU_VAR_DIR=$$(mktemp -d) \
	  $(BIN)/yingdu check --deploy --fail-level WARNING
	bash scripts/with-postgres.sh bash scripts/with-redis.sh $(BIN)/pytest --durations=25 $(PYTEST_ARGS)

# The quick lane: SQLite, no PostgreSQL-only tests.
test-quick: setup
	$(BIN)/pytest -m "not postgres and not browser" $(PYTEST_ARGS)

bench: setup
	bash scripts/system-deps.sh
	bash scripts/with-postgres.sh bash scripts/with-redis.sh bash scripts/bench.sh

clean:
	rm -rf $(VENV) var artifacts

# Two commands on a fresh machine with Python and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PN_DATABASE_URL ?= sqlite:///var/pass-numerique.sqlite3

.PHONY: run test install install-test lint format browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make run: install, migrate the SQLite database, load demo data when empty, serve on :8000.
run: install
	$(BIN)/pass-numerique migrate
	$(BIN)/pass-numerique demo
	@echo "\nPass numérique : http://127.0.0.1:8000  (API : /api/v1, OpenAPI : /schema)\n"
	$(BIN)/pass-numerique serve

## make test: lint, then the whole suite on SQLite, and on PostgreSQL when PN_TEST_POSTGRES_URL is set.
test: install-test browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PN_TEST_ENGINE=sqlite $(BIN)/python -m pytest
	@if [ -n "$$PN_TEST_POSTGRES_URL" ]; then \
		echo "== PostgreSQL: $$PN_TEST_POSTGRES_URL"; \
		PN_TEST_ENGINE=postgres $(BIN)/python -m pytest; \
	else \
		echo "PN_TEST_POSTGRES_URL not set: PostgreSQL suite not run."; \
	fi

## Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Chromium missing: run 'sudo apt-get install chromium' for the browser tests." >&2; exit 1; \
		fi; \
	fi

## make bench: redemption over HTTP (real server, 2 workers) on SQLite then PostgreSQL, beside the raw
## database ceiling; needs wrk (apt-get install wrk) and PostgreSQL at PN_BENCH_POSTGRES_URL (database recreated).
PN_BENCH_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/pn_bench
bench: install
	$(BIN)/python bench/redeem.py --pg-url $(PN_BENCH_POSTGRES_URL) $(BENCH_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

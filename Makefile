# Caravan: `make run` serves the demo, `make test` runs the whole suite. `make help` lists all.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help run test fuzz lint format openapi migrate worker bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Caravan needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

run: $(VENV)/.installed ## serve the API with demo data on http://127.0.0.1:8000 (embedded Postgres unless DATABASE_URL)
	$(BIN)/caravan serve --migrate --demo

test: $(VENV)/.installed-dev ## lint and type-check, then the whole suite against a real Postgres (DATABASE_URL or embedded)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy api schemas db demo
	@$(BIN)/python -m pytest -q; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 5; fi; \
	exit $$status

FUZZ_RUNS ?= 3
fuzz: $(VENV)/.installed-dev ## schemathesis with random seeds (FUZZ_RUNS=3, CARAVAN_SCHEMATHESIS_EXAMPLES=15)
	@for run in $$(seq $(FUZZ_RUNS)); do \
		seed=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); \
		echo "make fuzz: run $$run of $(FUZZ_RUNS), CARAVAN_SCHEMATHESIS_SEED=$$seed"; \
		CARAVAN_SCHEMATHESIS_SEED=$$seed $(BIN)/python -m pytest -q tests/test_schemathesis.py \
			-k test_schemathesis_finds_no_failure_with_all_checks_on || { \
			echo "make fuzz: failed with CARAVAN_SCHEMATHESIS_SEED=$$seed (set it to replay)" >&2; exit 1; }; \
	done

lint: $(VENV)/.installed-dev ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy api schemas db demo

format: $(VENV)/.installed-dev ## reformat the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

openapi: $(VENV)/.installed ## regenerate openapi.yaml from the app
	$(BIN)/caravan openapi

migrate: $(VENV)/.installed ## apply migrations to DATABASE_URL (or the embedded database)
	$(BIN)/caravan migrate

worker: $(VENV)/.installed ## run the background worker (housekeeping, later deliveries and purges)
	$(BIN)/caravan worker

SCALE ?= 1k
bench: $(VENV)/.installed ## benchmark: make bench SCALE=1k|10k|100k|1m (needs wrk; see docs/PERFORMANCE.md)
	@command -v wrk >/dev/null && command -v ab >/dev/null || { echo "make bench needs wrk and ab: apt-get install wrk apache2-utils" >&2; exit 2; }
	$(BIN)/python -m bench.run --scale $(SCALE) $(BENCH_ARGS)

clean: ## remove the virtualenv and local state (embedded database included)
	rm -rf $(VENV) .caravan .pytest_cache .ruff_cache .mypy_cache

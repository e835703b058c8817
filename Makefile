# The two commands: `make run` and `make test`. Both start from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-test serve scheduler db demo fuzz clean translations mutate

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

# The interface's message catalogues, compiled from the committed .po files whenever one changes
# (the same as `flask translations compile`, without starting the app).
PO_FILES := $(wildcard translations/*/LC_MESSAGES/messages.po */translations/*/LC_MESSAGES/messages.po)
translations: $(PO_FILES:.po=.mo)
$(PO_FILES:.po=.mo) &: $(PO_FILES) | $(VENV)/.installed
	$(BIN)/python -c 'import i18n; i18n.compile_all()'

$(VENV)/.installed-test: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

db: install translations
	$(FLASK) db upgrade

demo: db
	$(FLASK) demo load 2>/dev/null || true

## run: install, migrate, load the demo into an empty database, serve on http://127.0.0.1:5000
run: db
	@$(FLASK) demo load || echo "(database already holds data: demo not loaded)"
	SAFEHAVEN_SCHEDULER=1 $(FLASK) run --host $(HOST) --port $(PORT)

## test: install with the test extras and run the whole suite (PostgreSQL too when TEST_DATABASE_URL is set)
test: install-test translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## coverage: the same suite, reporting line and branch coverage (pyproject's [tool.coverage.*]). Kept apart from
## `make test`: Python 3.11's tracer adds about 40% to the run and slows the subprocess tests' timing.
.PHONY: coverage
coverage: install-test translations
	$(BIN)/python -m pytest --cov --cov-report=term-missing:skip-covered $(PYTEST_ARGS)

## fuzz: many more generated API requests than the test suite's bounded run
fuzz: install-test
	SAFEHAVEN_FUZZ_EXAMPLES=$${SAFEHAVEN_FUZZ_EXAMPLES:-100} $(BIN)/python -m pytest tests/e2e/test_api_fuzz.py

## mutate: mutation testing of the pure core against its own tests (tests/mutate.py, docs/testing.md); the
## surviving mutants go to mutation-report.txt. MUTATE_FILES=alerts/rules.py runs one file.
mutate: install-test
	nice -n 10 $(BIN)/python -m tests.mutate $(MUTATE_FILES)

clean:
	rm -rf $(VENV) .pytest_cache

## bench: install the bench extra and run the whole benchmark suite (under 10 minutes on 2 cores;
## results in bench/results/*.json, read in docs/performance.md). PostgreSQL: BENCH_PG_URL or 127.0.0.1:5432.
.PHONY: bench
$(VENV)/.installed-bench: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(VENV)/.installed $(VENV)/.installed-test $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench all

# promptcore: `make run` serves on http://127.0.0.1:8000, `make test` runs every test tier.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB := src/entrypoints/web
# The compiled page catalogues: committed beside their .po sources and compiled again here, at
# build time (install, translations, and a .po newer than its .mo before `make run`). The app
# never compiles or writes them. pybabel's output depends only on the .po and Babel's version,
# so compiling a fresh clone leaves the committed .mo files byte for byte as they were.
PO := $(wildcard $(WEB)/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: install run test test-unit test-integration lint browser wrk bench fuzz clean translations

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pybabel compile -d $(WEB)/translations
	touch $(STAMP)

install: $(STAMP)

$(WEB)/translations/%/LC_MESSAGES/messages.mo: $(WEB)/translations/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile -d $(WEB)/translations -l $*

run: $(STAMP) $(MO)
	$(BIN)/promptcore serve

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium from apt"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; }

test: $(STAMP) browser
	$(BIN)/pytest -q

test-unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

test-integration: $(STAMP) browser
	$(BIN)/pytest -q tests/integration

# Page translations: extract the strings, merge them into the ru/en catalogues, compile.
# Then translate the new entries of web/translations/ru/LC_MESSAGES/messages.po, run
# `make translations` again (or `make run`) to compile, and commit the .po and .mo together.
translations: $(STAMP)
	$(BIN)/pybabel extract -F $(WEB)/babel.cfg -k N_ -k _l -k lazy_gettext --no-location --omit-header \
	  --sort-output -o $(WEB)/translations/messages.pot .
	$(BIN)/pybabel update -i $(WEB)/translations/messages.pot -d $(WEB)/translations --no-fuzzy-matching \
	  --ignore-obsolete --width 100
	$(BIN)/python -m entrypoints.web.i18n
	$(BIN)/pybabel compile -d $(WEB)/translations --statistics

# Longer schemathesis run over every API operation (CI runs the same test with a fixed seed and
# few examples). FUZZ_SEED=<n> replays a run; the seed is printed first.
FUZZ_EXAMPLES ?= 500
ifndef FUZZ_SEED
FUZZ_SEED := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif

fuzz: $(STAMP)
	@echo "schemathesis: seed $(FUZZ_SEED), $(FUZZ_EXAMPLES) examples per operation (replay: make fuzz FUZZ_SEED=$(FUZZ_SEED))"
	PROMPTCORE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) PROMPTCORE_FUZZ_SEED=$(FUZZ_SEED) \
	  $(BIN)/pytest -q -s -p no:cacheprovider tests/integration/test_api_fuzz.py tests/integration/test_request_schemas.py

# Benchmark (issue 5 T1-T4): PostgreSQL on 127.0.0.1:5432 (user postgres); a scratch database is
# created and dropped. Figures in artifacts/bench/results.{json,png}. More: python -m bench.run --help,
# e.g. make bench BENCH_ARGS="--only T1,T2 --runs 3 --workers 3 --threads 200".
# wrk, the benchmark's second load generator beside bench/loadgen.py, from Debian's packages when
# missing (apt-get needs root; when that fails, make says so and the bench goes on without wrk).
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "installing wrk from apt"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } \
	  || echo "make: could not install wrk (apt-get install wrk failed: it needs root and Debian's package lists);" \
	          "the benchmark goes on without it. Install wrk and run make bench again for its figures." >&2; }

bench: $(STAMP) wrk
	@$(BIN)/python -c "import matplotlib" 2>/dev/null || $(BIN)/pip install --quiet 'matplotlib>=3.7,<4'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# Two commands matter: `make run` (the service) and `make test` (the suite). Both set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test kafka-jars unit integration e2e lint format typecheck down status clean bench lock

# What CI and a developer install is pinned with hashes in requirements.lock (dependencies, dev tools and the
# build backend); the project itself goes in last, without dependencies and built by the pinned setuptools.
$(STAMP): pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# Regenerates both lock files from pyproject.toml, in a throwaway venv: requirements.lock (with [dev], for
# `make install` and CI) and infra/requirements.lock (runtime only, for the image, held to the same versions).
# Existing pins are kept unless UPGRADE=1.
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --all-build-deps --strip-extras --no-emit-find-links \
	--no-emit-index-url $(if $(UPGRADE),--upgrade)
lock:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && $(PY) -m venv "$$tmp" && \
	"$$tmp/bin/pip" install --quiet pip-tools && \
	"$$tmp/bin/pip-compile" $(LOCK_FLAGS) --extra dev --output-file requirements.lock pyproject.toml && \
	"$$tmp/bin/pip-compile" $(LOCK_FLAGS) --constraint requirements.lock --output-file infra/requirements.lock \
		pyproject.toml

# Apache Kafka when a JDK 17+ and Maven are here, else the embedded broker: `ipe up` says which and why.
run: install
	$(BIN)/ipe up --broker auto

# The Apache Kafka broker's jars from Maven Central into .cache/kafka/VERSION/libs (infra/kafka/pom.xml),
# checked against infra/kafka/libs.sha256. After a version bump: $(BIN)/python -m ipe_claims.operations.kafka_jars --record
kafka-jars: install
	$(BIN)/python -m ipe_claims.operations.kafka_jars

down: install
	$(BIN)/ipe down

status: install
	$(BIN)/ipe status

# The suite's system lives on 29 February 2028 (tests/conftest.py); the date-dependent tests (marked
# `calendar`) then run again at a month end, on the first of a month and across a year end.
CALENDAR_EDGES := 2027-01-31 2027-03-01 2027-12-31 2028-01-01

test: install lint
	$(BIN)/pytest -q tests
	@for day in $(CALENDAR_EDGES); do echo "calendar edge $$day:"; \
		IPE_TEST_TODAY=$$day $(BIN)/pytest -q -m calendar tests/integration || exit 1; done

unit: install
	$(BIN)/pytest -q tests/unit

integration: install
	$(BIN)/pytest -q tests/integration

e2e: install
	$(BIN)/pytest -q tests/e2e

# Style, then the layer contracts ([tool.importlinter] in pyproject.toml), then strict types.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy ipe_claims services

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy ipe_claims services

clean:
	rm -rf $(VENV) .ipe .pytest_cache .ruff_cache .mypy_cache *.egg-info

# The fault-injection suite (tests/chaos): thousands of claims while services, broker and Postgres die.
# On three Apache Kafka nodes when a JDK is here (leaders killed, rolling restart, a wiped node), else on
# the embedded broker; BROKER=embedded|apache chooses. Repeat a run with `make chaos SEED=1234`;
# CLAIMS=… changes the load.
.PHONY: chaos
chaos: install
	$(BIN)/python -m tests.chaos $(if $(SEED),--seed $(SEED)) $(if $(CLAIMS),--claims $(CLAIMS)) \
		$(if $(BROKER),--broker $(BROKER))

# Benchmarks (docs/scaling.md): its own Postgres and broker; writes bench/results.json and bench/RESULTS.md.
# The defaults are the issue's sizes (about 5 minutes on 2 cores); smaller: make bench BENCH_ARGS="--insured
# 10000 --kafka-rows 100000 --kafka-claims 2000 --http-claims 1000 --latency-seconds 20 --replay-events 100000";
# one scenario: BENCH_ARGS="--only replay".
.PHONY: bench
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# Two commands matter: `make run` (the service) and `make test` (the suite). Both set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test kafka-jars unit integration e2e lint format typecheck down status clean bench

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Apache Kafka when a JDK 17+ and Maven are here, else the embedded broker: `ipe up` says which and why.
run: install
	$(BIN)/ipe up --broker auto

# The Apache Kafka broker's jars from Maven Central into .cache/kafka/VERSION/libs (infra/kafka/pom.xml),
# checked against infra/kafka/libs.sha256. After a version bump: $(BIN)/python -m ipe_claims.infra.kafka_jars --record
kafka-jars: install
	$(BIN)/python -m ipe_claims.infra.kafka_jars

down: install
	$(BIN)/ipe down

status: install
	$(BIN)/ipe status

test: install lint
	$(BIN)/pytest -q tests

unit: install
	$(BIN)/pytest -q tests/unit

integration: install
	$(BIN)/pytest -q tests/integration

e2e: install
	$(BIN)/pytest -q tests/e2e

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

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

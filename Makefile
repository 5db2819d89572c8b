# mallbridge: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PACKAGES := shared services/core services/ingest services/publisher services/sandbox services/audit services/app services/notify
PYTEST_ARGS ?=

.PHONY: install test test-unit lint fmt demo demo-kafka kafka-up kafka-down bench clean

$(VENV)/.installed: requirements-dev.txt $(foreach p,$(PACKAGES),$(wildcard $(p)/pyproject.toml))
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt $(foreach p,$(PACKAGES),$(if $(wildcard $(p)/pyproject.toml),-e $(p)))
	@touch $@

install: $(VENV)/.installed

## test: everything, a real Kafka broker included (started and stopped by the test session)
test: install
	infra/kafka/kafka.sh fetch
	@# the console's browser tests drive Debian's Chromium (never a downloaded browser)
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

## test-unit: the fast pure-core tests only
test-unit: install
	$(PY) -m pytest -p no:cacheprovider tests/unit $(PYTEST_ARGS)

## lint: ruff, ruff format --check, mypy (strict on the packages, lenient on tests), import-linter contracts
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(foreach p,$(PACKAGES),$(if $(wildcard $(p)/src),$(p)/src)) tests
	$(VENV)/bin/lint-imports

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## demo: the main job on one machine, on the embedded log (no Java, no broker)
demo: install
	$(VENV)/bin/mallbridge demo

## demo-kafka: the same scripted demo on a real Kafka broker (started and stopped here)
demo-kafka: install
	infra/kafka/kafka.sh fetch
	infra/demo-kafka.sh

kafka-up:
	@infra/kafka/kafka.sh up

kafka-down:
	@infra/kafka/kafka.sh down

## bench: throughput and latency, each as a ratio against a raw baseline measured in the same run
bench: install
	infra/kafka/kafka.sh fetch
	$(PY) -m tests.bench

clean:
	rm -rf $(VENV) infra/kafka/run .pytest_cache .mypy_cache .ruff_cache

# The two commands of the README: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Small-machine defaults for Airflow (2 cores, SQLite); the project's own home keeps runs local.
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER ?= $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
export AIRFLOW__CORE__PARALLELISM ?= 4
export GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT ?= false

.PHONY: demo test lint format install airflow clean

install: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(INSTALLED)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/python -m pytest

demo: $(INSTALLED)
	tools/demo.sh

# The Airflow web UI on http://localhost:8080 with the project's DAGs and plugins (Ctrl-C stops it).
# Like `make demo`, the pipeline's form defaults to the bundled sample data and artifacts/, unless the
# environment or .env names other ones.
airflow: $(INSTALLED)
	@for setting in DATASOURCE_DIR=$(CURDIR)/sample_data SOULSGEN_HOME=$(CURDIR)/artifacts; do \
	  name=$${setting%%=*}; \
	  if [ -z "$$(printenv $$name)" ] && ! grep -qs "^$$name=" .env; then export "$$setting"; fi; \
	done; \
	echo "game text: $${DATASOURCE_DIR:-from .env}; artifacts: $${SOULSGEN_HOME:-from .env}"; \
	PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/airflow standalone

clean:
	rm -rf $(VENV) .airflow artifacts .pytest_cache .ruff_cache

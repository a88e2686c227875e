# Everyday commands. `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MANAGE := cd sample_project && ../$(PY) manage.py

.PHONY: venv demo test lint format typecheck unit bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,postgres]"
	# mysqlclient compiles against the MariaDB/MySQL client headers; install it when they are there.
	if pkg-config --exists mysqlclient 2>/dev/null || pkg-config --exists libmariadb 2>/dev/null; then \
		$(PY) -m pip install --quiet -e ".[mysql]"; \
	else \
		echo "mysqlclient skipped: no MySQL client headers (apt-get install default-libmysqlclient-dev pkg-config)"; \
	fi
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(MANAGE) migrate --verbosity 0
	$(MANAGE) build_test_template
	$(MANAGE) concurrent_test --workers auto --json-report ../reports/demo.json

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	# Blocks of 6+ identical lines repeated across modules (tests/test_architecture.py looks
	# inside each module too); migrations and templates aside.
	$(VENV)/bin/pylint --rcfile=pyproject.toml concurrent_test_app

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

unit: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint unit

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) reports artifacts bench/generated .mypy_cache .ruff_cache

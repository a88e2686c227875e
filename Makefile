# Everyday commands. `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MANAGE := cd sample_project && ../$(PY) manage.py

.PHONY: venv demo test lint format typecheck unit pytest-matrix bench clean browser

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

# The pytest plugin against two pinned pairs of pytest-django and pytest-xdist: the oldest
# releases that support Django 5.2 and this pytest, and the newest. Each pair is installed into
# a folder of its own that goes first on PYTHONPATH (its subprocesses inherit it); the sample
# project's long comparison runs once, in `unit`, with the virtualenv's versions.
PYTEST_PAIRS ?= oldest=pytest-django==4.11.0,pytest-xdist==3.0.2 newest=pytest-django==4.14.0,pytest-xdist==3.8.0
MATRIX := .matrix

pytest-matrix: $(STAMP)
	@for pair in $(PYTEST_PAIRS); do \
		name=$${pair%%=*}; pins=$$(echo "$${pair#*=}" | tr , ' '); \
		if [ "$$(cat $(MATRIX)/$$name/.pins 2>/dev/null)" != "$$pins" ]; then \
			rm -rf $(MATRIX)/$$name; \
			$(PY) -m pip install --quiet --no-deps --target $(MATRIX)/$$name $$pins || exit 1; \
			echo "$$pins" > $(MATRIX)/$$name/.pins; \
		fi; \
		echo "pytest plugin with $$pins"; \
		PYTHONPATH=$(CURDIR)/$(MATRIX)/$$name $(PY) -m pytest -q tests/test_pytest_plugin_units.py \
			tests/test_pytest_plugin_off.py tests/test_pytest_plugin_history.py \
			tests/test_pytest_plugin.py -k "not sample_project" $(PYTEST_ARGS) || exit 1; \
	done

test: lint unit pytest-matrix

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(MATRIX) reports artifacts bench/generated .mypy_cache .ruff_cache

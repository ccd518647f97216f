# The two commands of the README: `make run` serves the app, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEV := DEBUG=1

.PHONY: run test lint browser lock clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 12) and "Python 3.12 or newer is needed (see .python-version)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.lock | $(PY)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	touch $@

$(VENV)/.test-deps: requirements-test.lock | $(PY)
	$(PY) -m pip install --quiet --require-hashes -r requirements-test.lock
	touch $@ $(VENV)/.run-deps

# A worker runs the background tasks (imports, fitting) beside the server, its log lines
# mixed with the server's; stopping `make run` stops both.
run: $(VENV)/.run-deps
	$(DEV) $(PY) manage.py migrate --verbosity 0
	$(DEV) $(PY) manage.py prepare_local --url http://127.0.0.1:$(PORT)/
	@$(DEV) $(PY) manage.py db_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT TERM; \
	$(DEV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Debian's Chromium drives the browser tests; Playwright never downloads a browser of its own.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(VENV)/.test-deps
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: $(VENV)/.test-deps browser lint
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations --check --dry-run --verbosity 0
	$(PY) -m pytest

# Re-pin every dependency (with hashes) after editing pyproject.toml.
lock: $(VENV)/.test-deps
	$(PY) -m pip install --quiet pip-tools
	$(PY) -m piptools compile --quiet --generate-hashes --strip-extras --allow-unsafe -o requirements.lock pyproject.toml
	$(PY) -m piptools compile --quiet --generate-hashes --strip-extras --allow-unsafe --extra test -o requirements-test.lock pyproject.toml

clean:
	rm -rf $(VENV) staticfiles

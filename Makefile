# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format worker beat migrate clean chromium nginx wrk bench bench-smoke

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed requirements-test.txt
	$(PIP) -r requirements-test.txt
	touch $@

run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	@echo ""
	@echo "  Parley is starting at http://$(HOST):$(PORT)/"
	@echo "  Sign up there; without EMAIL_URL the verification code is printed in this terminal."
	@echo "  Admin: $(PY) manage.py createsuperuser, then http://$(HOST):$(PORT)/admin/"
	@echo "  Demo data: $(PY) manage.py seed_demo (people, rooms, conversations; it prints the logins)"
	@echo ""
	$(PY) manage.py runserver $(HOST):$(PORT)

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
chromium:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "Chromium is not installed and could not be: the browser tests will be skipped."

# The deployment test runs Debian's nginx (deploy/nginx/parley.conf) in front of two daphne processes.
nginx:
	@test -x /usr/sbin/nginx || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; } || \
		echo "nginx is not installed and could not be: the nginx deployment test will be skipped."

# The REST benchmark's load generator (bench/rest.py) is Debian's wrk.
wrk:
	@test -x /usr/bin/wrk || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || \
		echo "wrk is not installed and could not be: the REST benchmark will fail."

test: $(VENV)/.test-installed chromium nginx wrk
	$(VENV)/bin/ruff check .
	$(PY) tests/run.py

# Every benchmark on 127.0.0.1 (real daphne, PostgreSQL, Redis), then one table against the targets
# (docs/PERFORMANCE.md). `make bench ARGS=--quick` takes under 3 minutes; the full run about 35.
bench: $(VENV)/.test-installed wrk
	$(PY) -m bench $(ARGS)

# Every benchmark at tiny size (what `make test` runs first, so that none of them can rot).
bench-smoke: $(VENV)/.test-installed wrk
	$(PY) -m bench --smoke

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .

format: $(VENV)/.test-installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput

# With REDIS_URL set, these run the background side of Parley.
worker: $(VENV)/.installed
	$(VENV)/bin/celery -A config worker --loglevel=info

beat: $(VENV)/.installed
	$(VENV)/bin/celery -A config beat --loglevel=info

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache

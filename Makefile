# Two commands do all the set-up on a bare machine with Python 3.11+:
#   make run    install, migrate, seed demo data, ingest the sample mails, serve
#   make test   install and run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PSA_SIM_PORT ?= 8765

.PHONY: setup run worker worker-psa cron require-redis test bench lint format clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s); set PYTHON=python3.x" % sys.version.split()[0])'
	@$(PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV) || { echo "Could not create a virtualenv: on Debian/Ubuntu, apt-get install python3-venv"; exit 1; }; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	@touch $(STAMP)

# The demo clients write time back to a simulated PSA (psa_simulator), started here too,
# on PSA_SIM_PORT (make run PSA_SIM_PORT=8766 if 8765 is taken).
run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --psa-url http://127.0.0.1:$(PSA_SIM_PORT)
	$(PY) manage.py ingest_eml samples/mail
	@echo
	@echo "Open http://$(HOST):$(PORT)/admin/ and log in as sdm / demo-sdm-2026 (Ctrl-C stops)."
	@echo "Simulated PSAs: http://127.0.0.1:$(PSA_SIM_PORT)/<kind>/_sim/entries shows what they hold."
	@listening() { $(PY) -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' $(PSA_SIM_PORT) 2>/dev/null; }; \
	taken="Port $(PSA_SIM_PORT) is taken: make run PSA_SIM_PORT=8766 (or another free port)"; \
	if listening; then echo "$$taken"; exit 1; fi; \
	$(PY) manage.py psa_simulator --kind all --port $(PSA_SIM_PORT) & sim=$$!; \
	trap 'kill $$sim 2>/dev/null' EXIT INT TERM; \
	until listening; do kill -0 $$sim 2>/dev/null || { echo "$$taken"; exit 1; }; sleep 0.25; done; \
	$(PY) manage.py runserver $(HOST):$(PORT)

# One RQ worker for every queue (needs REDIS_URL), with rq's scheduler for delayed jobs.
worker: setup require-redis
	$(PY) manage.py rqworker intake psa telephony default --with-scheduler

# PSA sends wait on the network: a worker that runs them in its own process (no fork
# per job) sends about five times as many per core (bench/README.md). Run it beside
# `make worker`, as many as the PSAs' rate limits deserve.
worker-psa: setup require-redis
	$(PY) manage.py rqworker psa --worker-class rq.worker.SimpleWorker --with-scheduler

# The periodic jobs (helpdesk/cron.py): one such process per deployment.
cron: setup require-redis
	$(PY) manage.py rqcron helpdesk/cron.py

# A worker without the web process's settings would serve another database's jobs.
require-redis:
	@test -n "$$REDIS_URL" || { echo "REDIS_URL is not set: export the same DATABASE_URL and REDIS_URL as the web process (see README)."; exit 1; }

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) bench/intake.py
	$(PY) bench/queue.py
	$(PY) bench/writeback.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) db.sqlite3 media .pytest_cache

# Two commands for a new machine: `make run` and `make test`. Both build on `make setup`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test worker bench bench-database browser dicom-tools web-proxy gettext catalogues catalogues-update clean

setup: $(STAMP)

$(STAMP): requirements.txt build-constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip==26.3
	$(BIN)/python -m pip install -q --build-constraint build-constraints.txt -r requirements.txt
	touch $(STAMP)

# Migrate, seed the demo users once, start Redis (unless REDIS_URL), the workers, the DICOM listener,
# and the web server: gunicorn behind nginx (bin/run).
run: setup web-proxy catalogues
	$(BIN)/python bin/run

# One more Celery worker against REDIS_URL and DATABASE_URL (set both to scale out; README).
# Prefork with one child per WORKER_CONCURRENCY, one thread each; WORKER_NAME must be unique per machine.
WORKER_CONCURRENCY ?= 1
WORKER_NAME ?= worker@%h
worker: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m celery -A cxrsite worker --pool=prefork \
	  --concurrency=$(WORKER_CONCURRENCY) -n '$(WORKER_NAME)' -Q classification --without-gossip --without-mingle --loglevel=INFO

# Debian's Chromium drives the browser tests; Playwright cannot download its own here.
browser:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

# The DICOM peers of the tests: Orthanc as the PACS, dcmtk's storescu/echoscu as the X-ray unit, and
# dicom3tools' dciodvfy, the validator every object we send is checked with.
# Debian starts an orthanc service on install; the tests run their own Orthanc and need none.
dicom-tools:
	@test -x /usr/sbin/Orthanc -a -x /usr/bin/storescu -a -x /usr/bin/dciodvfy || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends orthanc dcmtk dicom3tools; }

# The translations: each locale/<language>/LC_MESSAGES/*.po compiled to the .mo Django reads (not committed),
# by GNU gettext's msgfmt, which also refuses a translation whose placeholders differ from the English.
PO_FILES := $(wildcard locale/*/LC_MESSAGES/*.po)
catalogues: gettext $(PO_FILES:.po=.mo)

%.mo: %.po
	msgfmt --check-format -o $@ $<

# After marking a string: bring every catalogue up to date (then translate the new entries).
catalogues-update: setup gettext
	$(BIN)/python manage.py update_catalogues

gettext:
	@test -x /usr/bin/msgfmt -a -x /usr/bin/xgettext || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends gettext; }

# nginx receives every request body before gunicorn sees it, so slow clients hold no gunicorn thread.
# bin/run starts its own nginx with a generated configuration; Debian's nginx service is not used.
web-proxy:
	@test -x /usr/sbin/nginx || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends nginx-light; }

test: setup browser dicom-tools web-proxy catalogues
	$(BIN)/python -m pytest

# Every benchmark, each rewriting its own section of BENCHMARKS.md. QUICK=1 for a smoke run
# (the full model-quality run trains three networks: about an hour on 2 cores;
# `bench/model_quality.py --reuse` re-evaluates what an earlier run trained).
# The database benchmarks run on SQLite, then again on BENCH_DATABASE_URL when it is set (a
# disposable PostgreSQL database: it is emptied first); bench/cpu.py measures both databases in one run.
bench: setup dicom-tools
	$(BIN)/python bench/inference.py
	$(BIN)/python bench/cpu.py $(if $(QUICK),--quick)
	$(BIN)/python bench/gate.py
	$(MAKE) --no-print-directory bench-database BENCH_DATABASE_URL=
	$(if $(BENCH_DATABASE_URL),$(MAKE) --no-print-directory bench-database)
	$(BIN)/python bench/model_quality.py $(if $(QUICK),--quick)
	$(BIN)/python bench/dicom.py $(if $(QUICK),--paced 20 --burst 40)
	$(BIN)/python bench/poor_link.py $(if $(QUICK),--mb 2 --kbit 2000 --drop-seconds 2 --runs 1)

bench-database: setup
	$(BIN)/python bench/pipeline.py $(if $(QUICK),--cases 50 --repeats 1)
	$(BIN)/python bench/pages.py $(if $(QUICK),--cases 10000 --repeats 5)
	$(BIN)/python bench/audit_export.py $(if $(QUICK),--small 10000 --large 100000)

clean:
	rm -rf $(VENV) staticfiles
